/**
 * On-call, read side. The API has no operation listing every schedule, so schedules are found by walking:
 *   GET /api/v2/on-call/teams/{team_id}/routing-rules?include=rules          → rules → escalation policy ids
 *   GET /api/v2/on-call/escalation-policies/{policy_id}?include=steps.targets → targets of type "schedules"
 *       (and "schedule_target", whose relationships.schedule names a schedule)
 *   GET /api/v2/on-call/schedules/{schedule_id}?include=layers,layers.members,layers.members.user,teams
 * Shapes follow the spec's TeamRoutingRules, EscalationPolicy and Schedule schemas.
 */
import { iso, type PolicyTarget, type SimPolicy, type SimSchedule, type SimTeam, type SimUser } from "../model.ts";
import type { Json } from "../resources.ts";
import type { RouteDef } from "../router.ts";

const READ = ["on_call_read"];

function includes(query: URLSearchParams): Set<string> {
  return new Set((query.get("include") ?? "").split(",").map((s) => s.trim()).filter(Boolean));
}

const onCallStatus = (user: SimUser): string =>
  user.status === "Active" ? "active" : user.status === "Disabled" ? "deactivated" : "pending";

/** Schemas EscalationPolicyUser / ScheduleUser. */
function onCallUser(user: SimUser): Json {
  const attributes: Json = { email: user.email, status: onCallStatus(user) };
  if (user.name !== null) attributes.name = user.name;
  return { type: "users", id: user.id, attributes };
}

/** Schema TeamReference (type "teams", plural, unlike /api/v2/team's "team"). */
function teamReference(team: SimTeam): Json {
  return { type: "teams", id: team.id, attributes: { handle: team.handle, name: team.name } };
}

const teamsRelationship = (teams: readonly SimTeam[]): Json => ({ data: teams.map((t) => ({ id: t.id, type: "teams" })) });

function targetRef(target: PolicyTarget): Json {
  switch (target.kind) {
    case "schedule":
      return { id: target.schedule.id, type: "schedules" };
    case "configured-schedule":
      return { id: `${target.schedule.id}_${target.position}`, type: "schedule_target" };
    case "user":
      return { id: target.user.id, type: "users" };
    case "team":
      return { id: target.team.id, type: "teams" };
  }
}

/**
 * What `include=steps.targets` brings for a target. For a configured target (`schedule_target`, id
 * `<schedule>_<position>`) real answers bring the schedule itself, not the target object the spec also allows:
 * `included` mixes teams, schedules and users only.
 */
function targetResource(target: PolicyTarget): Json {
  switch (target.kind) {
    case "schedule":
    case "configured-schedule":
      return { type: "schedules", id: target.schedule.id, attributes: { name: target.schedule.name, time_zone: target.schedule.timeZone } };
    case "user":
      return onCallUser(target.user);
    case "team":
      return teamReference(target.team);
  }
}

function policyDocument(policy: SimPolicy, include: Set<string>): Json {
  const included: Json[] = [];
  const seen = new Set<string>();
  const add = (resource: Json): void => {
    const key = `${resource.type as string}:${resource.id as string}`;
    if (seen.has(key)) return;
    seen.add(key);
    included.push(resource);
  };
  if (include.has("steps") || include.has("steps.targets")) {
    for (const step of policy.steps) {
      add({
        type: "steps",
        id: step.id,
        attributes: { assignment: step.assignment, escalate_after_seconds: step.escalateAfterSeconds },
        relationships: { targets: { data: step.targets.map(targetRef) } },
      });
    }
  }
  if (include.has("steps.targets")) for (const step of policy.steps) for (const t of step.targets) add(targetResource(t));
  if (include.has("teams")) for (const team of policy.teams) add(teamReference(team));
  const doc: Json = {
    data: {
      type: "policies",
      id: policy.id,
      attributes: { name: policy.name, resolve_page_on_policy_end: policy.resolvePageOnPolicyEnd, retries: policy.retries },
      relationships: {
        steps: { data: policy.steps.map((s) => ({ id: s.id, type: "steps" })) },
        teams: teamsRelationship(policy.teams),
      },
    },
  };
  if (included.length) doc.included = included;
  return doc;
}

function scheduleDocument(schedule: SimSchedule, include: Set<string>): Json {
  const included: Json[] = [];
  const withMembers = include.has("layers.members") || include.has("layers.members.user");
  if (include.has("layers") || withMembers) {
    for (const layer of schedule.layers) {
      included.push({
        type: "layers",
        id: layer.id,
        attributes: {
          name: layer.name,
          effective_date: iso(layer.effectiveDate),
          rotation_start: iso(layer.rotationStart),
          interval: { days: layer.intervalDays },
          restrictions: [],
          time_zone: schedule.timeZone,
        },
        relationships: { members: { data: layer.members.map((m) => ({ id: m.id, type: "members" })) } },
      });
    }
  }
  if (withMembers) {
    for (const layer of schedule.layers) {
      for (const member of layer.members) {
        included.push({ type: "members", id: member.id, relationships: { user: { data: { id: member.user.id, type: "users" } } } });
      }
    }
  }
  if (include.has("layers.members.user")) {
    const users = new Map<string, SimUser>();
    for (const layer of schedule.layers) for (const m of layer.members) users.set(m.user.id, m.user);
    for (const user of users.values()) included.push(onCallUser(user));
  }
  if (include.has("teams")) for (const team of schedule.teams) included.push(teamReference(team));
  const doc: Json = {
    data: {
      type: "schedules",
      id: schedule.id,
      attributes: { name: schedule.name, time_zone: schedule.timeZone },
      relationships: {
        layers: { data: schedule.layers.map((l) => ({ id: l.id, type: "layers" })) },
        teams: teamsRelationship(schedule.teams),
      },
    },
  };
  if (included.length) doc.included = included;
  return doc;
}

function routingRulesDocument(team: SimTeam, include: Set<string>): Json {
  const doc: Json = {
    data: {
      type: "team_routing_rules",
      id: team.id,
      relationships: { rules: { data: team.routingRules.map((r) => ({ id: r.id, type: "team_routing_rules" })) } },
    },
  };
  if (include.has("rules") || include.has("rules.policy")) {
    doc.included = team.routingRules.map((rule) => {
      const attributes: Json = {
        query: rule.query,
        urgency: rule.urgency,
        actions: rule.slackChannel ? [{ type: "send_slack_message", channel: rule.slackChannel, workspace: "T0SIMULATED" }] : [],
      };
      if (rule.timeRestriction) {
        const { timeZone, startDay, endDay } = rule.timeRestriction;
        attributes.time_restriction = {
          time_zone: timeZone,
          restrictions: [{ start_day: startDay, start_time: "09:00:00", end_day: endDay, end_time: "17:00:00" }],
        };
      }
      const resource: Json = { type: "team_routing_rules", id: rule.id, attributes };
      // A rule without a policy has no policy relationship at all (the spec's nullable sits beside a $ref).
      resource.relationships = rule.policy ? { policy: { data: { id: rule.policy.id, type: "policies" } } } : {};
      return resource;
    });
  }
  return doc;
}

export function onCallRoutes(): RouteDef[] {
  return [
    {
      method: "GET",
      template: "/api/v2/on-call/teams/{team_id}/routing-rules",
      rateLimit: "on_call",
      errorObjects: true,
      permissions: READ,
      handler: ({ org, params, query }) => ({ status: 200, body: routingRulesDocument(org.team(params.team_id), includes(query)) }),
    },
    {
      method: "GET",
      template: "/api/v2/on-call/escalation-policies/{policy_id}",
      rateLimit: "on_call",
      errorObjects: true,
      permissions: READ,
      handler: ({ org, params, query }) => ({ status: 200, body: policyDocument(org.policy(params.policy_id), includes(query)) }),
    },
    {
      method: "GET",
      template: "/api/v2/on-call/schedules/{schedule_id}",
      rateLimit: "on_call",
      errorObjects: true,
      permissions: READ,
      handler: ({ org, params, query }) => ({ status: 200, body: scheduleDocument(org.schedule(params.schedule_id), includes(query)) }),
    },
  ];
}
