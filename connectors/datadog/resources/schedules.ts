/**
 * `schedule` (read-only): Datadog On-Call schedules. The API has no list-all-schedules operation, so they are
 * discovered the way the product links them:
 *   teams (page by page) → each team's routing rules → the escalation policies those rules use →
 *   the policies' step targets that are schedules (directly, or through a `schedule_target`) → each schedule.
 * A page token is the next page of teams; one ListResources page returns the schedules reached from that page
 * of teams.
 *
 * A schedule (or policy) reached from several teams is fetched and listed once per sync: a per-sync record
 * (keyed by the engine's active sync id) remembers on which teams page each schedule was first listed, so a
 * retried page lists its schedules again (nothing is lost when a page fails half-way) while later pages skip
 * them. Without a sync id, or after a restart, a repeat is harmless: the store upserts by id.
 *
 * Members: every user in any layer holds `member`. The layers (with their user ids) are kept in the profile,
 * so listing grants needs no second request; the schedule is fetched again only if the profile lacks them.
 * No provisioner: a grant request gets FAILED_PRECONDITION from the SDK ("does not support grants").
 */
import pLimit from "p-limit";
import type { JsonObject } from "@bufbuild/protobuf";
import { entitlement, grant, groupResource, resourceId } from "../../../src/connector/builders.ts";
import type { CallContext, ResourceSyncer } from "../../../src/connector/types.ts";
import type { Resource } from "../../../src/gen/c1/connector/v2/resource_pb.js";
import type { OnCallSchedule } from "../client/index.ts";
import { call, callOrAbsent } from "./errors.ts";
import { numberedPage } from "./paging.ts";
import { SCHEDULE, scheduleType, USER, userType } from "./resource-types.ts";
import type { SyncerDeps } from "./users.ts";
import { profileOf } from "./values.ts";

/** Requests in flight at once while walking one page of teams (the HTTP layer also paces by rate limit). */
const FANOUT = 8;
/** Per-sync discovery state kept for this many syncs (a resumed and a new sync may overlap briefly). */
const KEEP_SYNCS = 2;

interface DiscoveryState {
  /** Escalation policy id → the schedule ids it reaches (fetched once per sync). */
  policies: Map<string, string[]>;
  /** Schedule id → the page token on which it was first listed. */
  listedOn: Map<string, string>;
}

function memberEntitlement(schedule: Resource) {
  return entitlement(schedule, "member", {
    displayName: `${schedule.displayName} member`,
    description: `On call in a layer of the Datadog schedule ${schedule.displayName}`,
    grantableTo: [userType],
    purpose: "assignment",
  });
}

export function scheduleToResource(s: OnCallSchedule, links: SyncerDeps["links"]): Resource {
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
    annotations: links.schedule(s.id),
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
  const { client, links } = deps;
  const states = new Map<string, DiscoveryState>();

  const stateFor = (ctx: CallContext): DiscoveryState => {
    const key = ctx.activeSyncId;
    if (!key) return { policies: new Map(), listedOn: new Map() };
    let state = states.get(key);
    if (!state) {
      state = { policies: new Map(), listedOn: new Map() };
      states.set(key, state);
      while (states.size > KEEP_SYNCS) states.delete(states.keys().next().value!);
    }
    return state;
  };

  return {
    resourceType: scheduleType,

    async list(ctx, _parent, pageToken) {
      const state = stateFor(ctx);
      const limit = pLimit(FANOUT);
      const signal = ctx.signal;

      // Discovery walks the teams; their pages are independent, so the first announces the others.
      const teams = await numberedPage(pageToken, "schedules (teams page)", (n) => call(client, () => client.listTeamsPage(n, signal)));

      // Teams → escalation policies (a team without on-call answers 404 or no rules: nothing to follow).
      const rules = await Promise.all(
        teams.items.map((t) => limit(() => callOrAbsent(client, () => client.getTeamOnCallRoutingRules(t.id, signal)))),
      );
      const policyIds = [...new Set(rules.flatMap((r) => r?.policyIds ?? []))];

      // Policies → schedule ids, each policy fetched once per sync.
      const unknown = policyIds.filter((id) => !state.policies.has(id));
      const fetched = await Promise.all(unknown.map((id) => limit(() => callOrAbsent(client, () => client.getOnCallEscalationPolicy(id, signal)))));
      unknown.forEach((id, i) => {
        const policy = fetched[i];
        if (!policy) ctx.logger.warn({ policyId: id }, "escalation policy named by a routing rule no longer exists; skipped");
        state.policies.set(id, policy?.scheduleIds ?? []);
      });
      const scheduleIds = [...new Set(policyIds.flatMap((id) => state.policies.get(id) ?? []))];

      // Schedules not already listed on another page of this sync.
      const mine = scheduleIds.filter((id) => {
        const on = state.listedOn.get(id);
        return on === undefined || on === pageToken;
      });
      const schedules = await Promise.all(mine.map((id) => limit(() => callOrAbsent(client, () => client.getOnCallSchedule(id, signal)))));
      const items: Resource[] = [];
      mine.forEach((id, i) => {
        const schedule = schedules[i];
        if (!schedule) {
          ctx.logger.warn({ scheduleId: id }, "on-call schedule named by an escalation policy no longer exists; skipped");
          return;
        }
        items.push(scheduleToResource(schedule, links));
      });
      // Only now that the whole page worked: a failed page leaves no trace, so its retry lists everything again.
      for (const id of mine) state.listedOn.set(id, pageToken);
      return { items, nextPageToken: teams.nextPageToken, annotations: teams.annotations };
    },

    async entitlements(_ctx, resource) {
      return { items: [memberEntitlement(resource)] };
    },

    async grants(ctx, resource) {
      const scheduleId = resource.id!.resource;
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
      return scheduleToResource(schedule, links);
    },
  };
}
