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
 * A schedule (or policy) reached from several teams is fetched and listed once per sync: a per-sync record
 * (keyed by the engine's active sync id) remembers which team token claimed each schedule, so a retried token
 * lists its schedules again (nothing is lost when a token fails half-way) while other teams skip them. Without
 * a sync id, or after a restart, a repeat is harmless: the store upserts by id.
 *
 * Members: every user in any layer holds `member`. The layers (with their user ids) are kept in the profile,
 * so listing grants needs no second request; the schedule is fetched again only if the profile lacks them.
 * No provisioner: a grant request gets FAILED_PRECONDITION from the SDK ("does not support grants").
 */
import pLimit from "p-limit";
import type { JsonObject } from "@bufbuild/protobuf";
import { entitlement, grant, groupResource, resourceId } from "../../../src/index.ts";
import type { CallContext, ResourceSyncer } from "../../../src/index.ts";
import type { Resource } from "../../../src/messages.ts";
import type { OnCallSchedule } from "../client/index.ts";
import { call, callOrAbsent } from "./errors.ts";
import { numberedPage } from "./paging.ts";
import { findAnnotation, pack } from "../../../src/index.ts";
import { EnqueuePageTokensSchema } from "../../../src/messages.ts";
import { SCHEDULE, scheduleType, USER, userType } from "./resource-types.ts";
import type { SyncerDeps } from "./users.ts";
import { profileOf } from "./values.ts";

/** Requests in flight at once for one team's policies or schedules (the HTTP layer also paces by rate limit). */
const FANOUT = 4;
const TEAM_TOKEN = "t:";
/** Per-sync discovery state kept for this many syncs (a resumed and a new sync may overlap briefly). */
const KEEP_SYNCS = 2;

interface DiscoveryState {
  /** Escalation policy id → the schedule ids it reaches (fetched once per sync, shared by concurrent teams). */
  policies: Map<string, Promise<string[]>>;
  /** Schedule id → the team token that claimed it. */
  claimedBy: Map<string, string>;
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
    if (!key) return { policies: new Map(), claimedBy: new Map() };
    let state = states.get(key);
    if (!state) {
      state = { policies: new Map(), claimedBy: new Map() };
      states.set(key, state);
      while (states.size > KEEP_SYNCS) states.delete(states.keys().next().value!);
    }
    return state;
  };

  /** The schedule ids a policy reaches; fetched once per sync however many teams use it. */
  const scheduleIdsOf = (state: DiscoveryState, policyId: string, ctx: CallContext): Promise<string[]> => {
    let ids = state.policies.get(policyId);
    if (!ids) {
      ids = callOrAbsent(client, () => client.getOnCallEscalationPolicy(policyId, ctx.signal)).then((policy) => {
        if (!policy) ctx.logger.warn({ policyId }, "escalation policy named by a routing rule no longer exists; skipped");
        return policy?.scheduleIds ?? [];
      });
      // A failed fetch must not stay cached: the listing is retried and must try again.
      ids.catch(() => state.policies.delete(policyId));
      state.policies.set(policyId, ids);
    }
    return ids;
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
      const state = stateFor(ctx);
      const limit = pLimit(FANOUT);
      // A team without on-call answers 404 or has no rules: nothing to follow.
      const rules = await callOrAbsent(client, () => client.getTeamOnCallRoutingRules(teamId, signal));
      const policyIds = [...new Set(rules?.policyIds ?? [])];

      const reached = await Promise.all(policyIds.map((id) => limit(() => scheduleIdsOf(state, id, ctx))));
      // Schedules not already claimed by another team in this sync.
      const mine = [...new Set(reached.flat())].filter((id) => {
        const owner = state.claimedBy.get(id);
        if (owner !== undefined && owner !== pageToken) return false;
        state.claimedBy.set(id, pageToken);
        return true;
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
      return { items, nextPageToken: "" };
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
