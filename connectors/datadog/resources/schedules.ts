/**
 * `schedule` (read-only): Datadog On-Call schedules. The API has no list-all-schedules operation, so they are
 * discovered the way the product links them:
 *   teams (page by page) → each team's routing rules → the escalation policies those rules use →
 *   the policies' step targets that are schedules (directly, or through a `schedule_target`) → each schedule.
 * Page tokens: "" and "N"/"N+" are pages of teams (see paging.ts); a teams page lists no schedule itself but
 * hands out one token "t:<team id>" per team (EnqueuePageTokens), and each of those lists the schedules that
 * team's rules reach. The walk is a chain of dependent requests, so it goes through the engine's queue of
 * listings (which comes first) rather than a private fan-out competing with every other listing.
 *
 * A schedule (or policy) reached from several teams is fetched and listed once per sync: ctx.session records
 * which team token claimed each schedule and which schedules each policy reaches, so a retried token lists its
 * schedules again (nothing is lost when a token fails half-way) while other teams skip them, and a resumed
 * sync does not fetch the policies again. Without a sync id a repeat is harmless: the store upserts by id.
 *
 * Members: every user in any layer holds `member`. The layers (with their user ids) are kept in the profile,
 * so listing grants needs no second request; the schedule is fetched again only if the profile lacks them.
 * No provisioner: a grant request gets FAILED_PRECONDITION from the SDK ("does not support grants").
 */
import pLimit from "p-limit";
import { z } from "zod";
import type { JsonObject } from "@bufbuild/protobuf";
import { entitlement, grant, groupResource, resourceId, resourceType } from "../../../src/index.ts";
import type { CallContext, ResourceSyncer } from "../../../src/index.ts";
import { ResourceType_Trait, type Resource } from "../../../src/messages.ts";
import type { OnCallSchedule } from "../client/datadog-client.ts";
import { id as idSegment, isValidId, path } from "../client/ids.ts";
import { op } from "../client/operation-info.ts";
import type { SyncerDeps } from "./deps.ts";
import { call, callOrAbsent } from "./errors.ts";
import { q } from "./links.ts";
import { numberedPage } from "./paging.ts";
import { findAnnotation, pack } from "../../../src/index.ts";
import { EnqueuePageTokensSchema } from "../../../src/messages.ts";
import { datadogResourceType } from "./resource-type.ts";
import { teams } from "./teams.ts";
import { USER, userType } from "./users.ts";
import { profileOf } from "./values.ts";

export const SCHEDULE = "schedule";

export const scheduleType = resourceType({
  id: SCHEDULE,
  displayName: "On-Call Schedule",
  description: "Datadog On-Call schedules (read-only): a user in any layer is a member",
  traits: [ResourceType_Trait.GROUP],
});

const operations = {
  // Discovery starts from the teams listing (the team type's operation, shared).
  ListTeams: teams.operations.ListTeams,
  GetOnCallTeamRoutingRules: op("GetOnCallTeamRoutingRules", "GET", "/api/v2/on-call/teams/{team_id}/routing-rules", ["on_call_read"], "read on-call routing rules"),
  GetOnCallEscalationPolicy: op("GetOnCallEscalationPolicy", "GET", "/api/v2/on-call/escalation-policies/{policy_id}", ["on_call_read"], "read on-call escalation policies"),
  GetOnCallSchedule: op("GetOnCallSchedule", "GET", "/api/v2/on-call/schedules/{schedule_id}", ["on_call_read"], "read on-call schedules"),
} as const;

const link = (deps: SyncerDeps, id: string) => deps.appLink(`/on-call/schedules/${q(id)}`);

/** Requests in flight at once for one team's policies or schedules (the HTTP layer also paces by rate limit). */
const FANOUT = 4;
const TEAM_TOKEN = "t:";

// ctx.session keys. An id too long for a session key (none of Datadog's is) is simply not remembered.
const POLICY_KEY = "schedule:policy:";
const CLAIM_KEY = "schedule:claimed-by:";
const sessionKey = (prefix: string, id: string): string | undefined => (id.length <= 400 ? prefix + id : undefined);
const ScheduleIdsSchema = z.array(z.string()).max(10_000);
const text = { encode: (s: string) => new TextEncoder().encode(s), decode: (b: Uint8Array) => new TextDecoder().decode(b) };

function memberEntitlement(schedule: Resource) {
  return entitlement(schedule, "member", {
    displayName: `${schedule.displayName} member`,
    description: `On call in a layer of the Datadog schedule ${schedule.displayName}`,
    grantableTo: [userType],
    purpose: "assignment",
  });
}

export function scheduleToResource(s: OnCallSchedule, deps: SyncerDeps): Resource {
  const teamNames = s.teams.map((t) => t.name ?? t.handle ?? t.id);
  return groupResource({
    type: SCHEDULE,
    id: s.id,
    displayName: s.name ?? s.id,
    description: teamNames.length ? `On-call schedule of ${teamNames.join(", ")}` : "On-call schedule",
    profile: profileOf({
      name: s.name,
      time_zone: s.timeZone,
      teams: teamNames,
      team_ids: s.teams.map((t) => t.id),
      team_handles: s.teams.flatMap((t) => (t.handle ? [t.handle] : [])),
      layers: s.layers.map((l) => profileOf({ id: l.id, name: l.name, user_ids: l.userIds })),
      member_count: s.users.length,
    }),
    annotations: link(deps, s.id),
  });
}

/** User ids in any layer, from the profile written by scheduleToResource; undefined when it is not there. */
function memberIdsFromProfile(resource: Resource): string[] | undefined {
  const layers = (resource.profile as JsonObject | undefined)?.layers;
  if (!Array.isArray(layers)) return undefined;
  const ids = new Set<string>();
  for (const layer of layers) {
    const userIds = (layer as JsonObject | null)?.user_ids;
    if (!Array.isArray(userIds)) return undefined;
    for (const id of userIds) if (typeof id === "string") ids.add(id);
  }
  return [...ids];
}

export function scheduleSyncer(deps: SyncerDeps): ResourceSyncer {
  const { client } = deps;
  /** Policy fetches in flight, by sync and policy: concurrent teams of one sync share one request. */
  const inFlight = new Map<string, Promise<string[]>>();

  /** The schedule ids a policy reaches; fetched once per sync however many teams use it. */
  const scheduleIdsOf = async (ctx: CallContext, policyId: string): Promise<string[]> => {
    const key = sessionKey(POLICY_KEY, policyId);
    const kept = key ? await ctx.session.getJson(key, (raw) => ScheduleIdsSchema.parse(raw)) : undefined;
    if (kept) return kept;
    const join = ctx.activeSyncId === undefined ? undefined : `${ctx.activeSyncId}\u0000${policyId}`;
    let pending = join ? inFlight.get(join) : undefined;
    if (!pending) {
      pending = callOrAbsent(client, () => client.getOnCallEscalationPolicy(policyId, ctx.signal)).then(async (policy) => {
        if (!policy) ctx.logger.warn({ policyId }, "escalation policy named by a routing rule no longer exists; skipped");
        const ids = policy?.scheduleIds ?? [];
        // A failed fetch is never kept: the listing is retried and must try again.
        if (key) await ctx.session.setJson(key, ids).catch(() => undefined);
        return ids;
      });
      if (join) {
        inFlight.set(join, pending);
        pending.finally(() => inFlight.delete(join)).catch(() => undefined);
      }
    }
    return pending;
  };

  /**
   * The schedules among `ids` that team token `token` lists: those no other team of this sync claimed first.
   * Claims are made one team at a time (a check-then-set on the session), so two teams never both win one.
   */
  let claims: Promise<unknown> = Promise.resolve();
  const claim = (ctx: CallContext, ids: string[], token: string): Promise<string[]> => {
    const run = claims.then(async () => {
      const mine: string[] = [];
      for (const id of ids) {
        const key = sessionKey(CLAIM_KEY, id);
        const raw = key ? await ctx.session.get(key) : undefined;
        const owner = raw === undefined ? undefined : text.decode(raw);
        if (owner !== undefined && owner !== token) continue;
        if (key && owner === undefined) await ctx.session.set(key, text.encode(token));
        mine.push(id);
      }
      return mine;
    });
    claims = run.catch(() => undefined);
    return run;
  };

  return {
    resourceType: scheduleType,

    async list(ctx, _parent, pageToken) {
      const signal = ctx.signal;
      if (!pageToken.startsWith(TEAM_TOKEN)) {
        // A page of teams: one token per team, plus the other pages of teams.
        const teams = await numberedPage(pageToken, "schedules (teams page)", (n) => call(client, () => client.listTeamsPage(n, signal)));
        const perTeam = teams.items.map((t) => TEAM_TOKEN + t.id);
        const others = findAnnotation(teams.annotations, EnqueuePageTokensSchema)?.pageTokens ?? [];
        const pageTokens = [...others, ...perTeam];
        return { items: [], nextPageToken: teams.nextPageToken, annotations: pageTokens.length ? [pack(EnqueuePageTokensSchema, { pageTokens })] : [] };
      }

      const teamId = pageToken.slice(TEAM_TOKEN.length);
      const limit = pLimit(FANOUT);
      // A team without on-call answers 404 or has no rules: nothing to follow.
      const rules = await callOrAbsent(client, () => client.getTeamOnCallRoutingRules(teamId, signal));
      const policyIds = [...new Set(rules?.policyIds ?? [])];

      const reached = await Promise.all(policyIds.map((id) => limit(() => scheduleIdsOf(ctx, id))));
      const mine = await claim(ctx, [...new Set(reached.flat())], pageToken);
      const schedules = await Promise.all(mine.map((id) => limit(() => callOrAbsent(client, () => client.getOnCallSchedule(id, signal)))));
      const items: Resource[] = [];
      mine.forEach((id, i) => {
        const schedule = schedules[i];
        if (!schedule) {
          ctx.logger.warn({ scheduleId: id }, "on-call schedule named by an escalation policy no longer exists; skipped");
          return;
        }
        items.push(scheduleToResource(schedule, deps));
      });
      return { items, nextPageToken: "" };
    },

    async entitlements(_ctx, resource) {
      return { items: [memberEntitlement(resource)] };
    },

    async grants(ctx, resource) {
      const scheduleId = resource.id.resource;
      let userIds = memberIdsFromProfile(resource);
      if (!userIds) {
        const schedule = await call(client, () => client.getOnCallSchedule(scheduleId, ctx.signal), {
          notFound: `Datadog on-call schedule "${scheduleId}" no longer exists`,
        });
        userIds = schedule.users.map((u) => u.id);
      }
      const ent = memberEntitlement(resource);
      return { items: userIds.map((id) => grant(ent, resourceId(USER, id))) };
    },

    async get(ctx, id) {
      const schedule = await call(client, () => client.getOnCallSchedule(id.resource, ctx.signal), {
        notFound: `Datadog on-call schedule "${id.resource}" does not exist`,
      });
      return scheduleToResource(schedule, deps);
    },
  };
}

export const schedules = datadogResourceType({
  type: scheduleType,
  operations,
  enabledBy: "syncSchedules",
  diagnose: {
    what: "on-call schedules",
    operation: operations.GetOnCallTeamRoutingRules,
    // No list operation: reading one team's routing rules needs the same permission. The team answer is
    // unchecked here, so only an id of a team's shape may go into the path (a team id of ".." would otherwise
    // send GET /api/v2/on-call/teams/../routing-rules).
    after: {
      type: "team",
      path(answer) {
        const data = (answer as { data?: { id?: unknown }[] } | undefined)?.data;
        const teamId = Array.isArray(data) ? data.map((t) => t?.id).find((v) => isValidId("team", v)) : undefined;
        return teamId === undefined ? undefined : path`/api/v2/on-call/teams/${idSegment.team(teamId)}/routing-rules`;
      },
      skipped: "On-call access not tested: no team is readable to start schedule discovery from.",
    },
  },
  syncer: scheduleSyncer,
});
