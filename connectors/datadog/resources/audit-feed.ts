/**
 * Event feeds from Datadog's Audit Trail (EventService): what happened since a point in time, without a sync.
 *
 *   datadog_audit_usage    USAGE            a user logging in (@evt.name:Authentication @action:login); an API or
 *                                           application key used for a request (@evt.name:Request
 *                                           @action:accessed with @metadata.api_key.id / application_key.id)
 *   datadog_audit_changes  CREATE_GRANT,    a user added to / removed from a role (@evt.name:"Access Management"
 *                          CREATE_REVOKE,   @asset.type:role @action:modified) or a team (@evt.name:"Teams
 *                          RESOURCE_CHANGE  Management" @asset.type:team_membership); users created, disabled or
 *                                           enabled (@asset.type:user); roles and teams changed otherwise; API
 *                                           and application keys created or deleted (@asset.type:api_key |
 *                                           application_key)
 *
 * Two feeds because usage is every request an org makes, while access changes are rare: a platform can follow
 * the second without reading the first. Keys appear only when the connector syncs them (--sync-secrets), so
 * that no event names a resource type the connector does not have.
 *
 * Paging. Datadog pages the Audit Trail with its own cursor, oldest first from `filter[from]`. The feed's cursor
 * (opaque to callers, ≤ 4096 bytes) holds that time, the Datadog cursor of the page being read and how many of
 * its events were already handed out: one Datadog event can become several feed events (a role change naming
 * several users), and a feed page never holds more than the caller's page size, so a Datadog page may be handed
 * out over several calls. At the end, the cursor moves to the last event's time and remembers the ids seen at
 * that instant, so a later call returns only newer events.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { z } from "zod";
import { Code, ConnectorError, resourceId } from "../../../src/index.ts";
import type { CallContext, EventFeed, EventPage, FeedEvent } from "../../../src/index.ts";
import { EventType, ResourceSchema, type Resource } from "../../../src/messages.ts";
import { create } from "@bufbuild/protobuf";
import { listAuditEventsPage, MAX_AUDIT_CURSOR, MAX_AUDIT_PAGE, type AuditEntry } from "../client/audit.ts";
import type { DatadogClient } from "../client/datadog-client.ts";
import { isValidId, type IdKind } from "../client/ids.ts";
import { call, datadogError, isHttpStatus } from "./errors.ts";
import { memberEntitlement } from "./roles.ts";
import { teamEntitlements } from "./teams.ts";

export const USAGE_FEED = "datadog_audit_usage";
export const CHANGES_FEED = "datadog_audit_changes";

const USER = "user";
const ROLE = "role";
const TEAM = "team";
const API_KEY = "api-key";
const APPLICATION_KEY = "application-key";

/** Without a start or a cursor, a feed starts this far back (Baton's CLI default for --event-feed-start-at). */
const DEFAULT_LOOKBACK_MS = 24 * 60 * 60 * 1000;

const USAGE_QUERY = "@evt.name:(Authentication OR Request) @action:(login OR accessed)";
const CHANGES_QUERY = '@evt.name:("Access Management" OR "Teams Management" OR Authentication) @action:(created OR modified OR deleted)';

export interface AuditFeedOptions {
  /** API and application keys are synced (their events refer to resources the connector has). */
  keys: boolean;
}

// ---- the cursor ------------------------------------------------------------------------------------------------

/** Ids remembered for one instant; past this many, the cursor steps 1 ms past the instant instead. */
const MAX_IDS_AT_INSTANT = 16;
const EventIds = z.array(z.string().min(1).max(64)).max(MAX_IDS_AT_INSTANT);

// Plain JSON, not base64: with a Datadog cursor of up to 1500 characters and 2 × 16 ids of up to 64 it stays
// under Baton's 4096 bytes (3.8 kB at worst; about 200 bytes usually).
const CursorSchema = z.object({
  v: z.literal(1),
  /** filter[from], ISO 8601. */
  from: z.string().max(40),
  /** The Datadog cursor of the page being handed out; absent for the first page after `from`. */
  at: z.string().min(1).max(MAX_AUDIT_CURSOR).optional(),
  /** Events of that page already handed out. */
  skip: z.number().int().min(0).max(MAX_AUDIT_PAGE).optional(),
  /** Ids of events at exactly `from` that were handed out before (a caught-up feed's resume point). */
  seen: EventIds.optional(),
  /** The newest instant handed out so far and the ids at it; null ids: too many to remember. */
  tail: z.object({ ts: z.string().max(40), ids: EventIds.nullable() }).optional(),
});
type FeedCursor = z.infer<typeof CursorSchema>;

function decodeCursor(raw: string, feedId: string): FeedCursor {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    json = undefined;
  }
  const parsed = CursorSchema.safeParse(json);
  if (!parsed.success || Number.isNaN(Date.parse(parsed.data.from)) || (parsed.data.tail && Number.isNaN(Date.parse(parsed.data.tail.ts)))) {
    throw new ConnectorError(Code.INVALID_ARGUMENT, `event feed ${feedId}: the cursor is not one this feed returned; start again with start_at and no cursor`);
  }
  return parsed.data;
}

const encodeCursor = (cursor: FeedCursor): string => JSON.stringify(cursor);

/** Records that `entry` was handed out in the running tail (the newest instant and its ids). */
function advanceTail(tail: FeedCursor["tail"], entry: AuditEntry): FeedCursor["tail"] {
  const ts = entry.timestamp.toISOString();
  if (!tail || Date.parse(ts) > Date.parse(tail.ts)) return { ts, ids: [entry.id] };
  if (ts !== tail.ts || tail.ids === null || tail.ids.includes(entry.id)) return tail;
  return { ts, ids: tail.ids.length < MAX_IDS_AT_INSTANT ? [...tail.ids, entry.id] : null };
}

/** Where a caught-up feed resumes: the newest instant handed out, excluding the ids already handed out at it. */
function endCursor(state: FeedCursor, tail: FeedCursor["tail"]): FeedCursor {
  if (!tail) return { v: 1, from: state.from, seen: state.seen };
  if (tail.ids === null) return { v: 1, from: new Date(Date.parse(tail.ts) + 1).toISOString() };
  return { v: 1, from: tail.ts, seen: tail.ids };
}

// ---- from audit events to Baton events ----------------------------------------------------------------------------

function ref(type: string, id: string, displayName?: string): Resource {
  return create(ResourceSchema, { id: resourceId(type, id), displayName: displayName ?? "" });
}

function valid(kind: IdKind, id: string | undefined): id is string {
  return id !== undefined && isValidId(kind, id);
}

function at(entry: AuditEntry) {
  return timestampFromDate(entry.timestamp);
}

function usage(entry: AuditEntry, suffix: string, target: Resource, actor: Resource | undefined): FeedEvent {
  return { id: `${entry.id}${suffix}`, occurredAt: at(entry), event: { case: "usageEvent", value: { targetResource: target, actorResource: actor } } };
}

function change(entry: AuditEntry, suffix: string, type: string, id: string): FeedEvent {
  return { id: `${entry.id}${suffix}`, occurredAt: at(entry), event: { case: "resourceChangeEvent", value: { resourceId: resourceId(type, id) } } };
}

/** The entitlements as the sync declares them (roles.ts, teams.ts), so an event names the same entitlement. */
function entitlementOf(on: Resource, slug: "member" | "admin") {
  return on.id?.resourceType === TEAM ? teamEntitlements(on)[slug] : memberEntitlement(on);
}

function grantOrRevoke(entry: AuditEntry, suffix: string, granted: boolean, on: Resource, slug: "member" | "admin", userId: string): FeedEvent {
  const value = { entitlement: entitlementOf(on, slug), principal: ref(USER, userId) };
  return {
    id: `${entry.id}${suffix}`,
    occurredAt: at(entry),
    event: granted ? { case: "createGrantEvent", value } : { case: "createRevokeEvent", value },
  };
}

/** The usage events of one audit event: a login, or each org key a request used. */
export function usageEvents(entry: AuditEntry, options: AuditFeedOptions): FeedEvent[] {
  const actor = valid("user", entry.userId) ? ref(USER, entry.userId, entry.userEmail) : undefined;
  if (entry.evtName === "Authentication" && entry.action === "login") {
    // The one who logged in is @usr; an event naming only the user asset still says who.
    const who = actor ?? (entry.asset.type === "user" && valid("user", entry.asset.id) ? ref(USER, entry.asset.id, entry.asset.name) : undefined);
    return who ? [usage(entry, "", who, who)] : [];
  }
  if (entry.evtName !== "Request" || entry.action !== "accessed" || !options.keys) return [];
  const out: FeedEvent[] = [];
  if (valid("appKey", entry.applicationKeyId)) out.push(usage(entry, ":application-key", ref(APPLICATION_KEY, entry.applicationKeyId), actor));
  if (valid("apiKey", entry.apiKeyId)) out.push(usage(entry, ":api-key", ref(API_KEY, entry.apiKeyId), actor));
  return out;
}

/** The grant, revoke and resource-change events of one audit event. */
export function changeEvents(entry: AuditEntry, options: AuditFeedOptions): FeedEvent[] {
  const { type, id, name } = entry.asset;
  const action = entry.action;
  if (action !== "created" && action !== "modified" && action !== "deleted") return [];
  switch (type) {
    case "user":
      return entry.evtName === "Access Management" && valid("user", id) ? [change(entry, "", USER, id)] : [];
    case "role": {
      if (entry.evtName !== "Access Management" || !valid("role", id)) return [];
      const role = ref(ROLE, id, name);
      const added = entry.addedUserIds.filter((u) => isValidId("user", u));
      const removed = entry.removedUserIds.filter((u) => isValidId("user", u));
      // A role changed otherwise (its permissions, its name) is a change of the role itself.
      if (added.length === 0 && removed.length === 0) return [change(entry, "", ROLE, id)];
      return [
        ...added.map((u) => grantOrRevoke(entry, `:grant:${u}`, true, role, "member", u)),
        ...removed.map((u) => grantOrRevoke(entry, `:revoke:${u}`, false, role, "member", u)),
      ];
    }
    case "team":
      return entry.evtName === "Teams Management" && valid("team", id) ? [change(entry, "", TEAM, id)] : [];
    case "team_membership": {
      if (entry.evtName !== "Teams Management" || !valid("team", id) || !valid("user", entry.memberUserId)) return [];
      const team = ref(TEAM, id, name);
      const user = entry.memberUserId;
      const admin = entry.teamRole === "admin";
      const wasAdmin = entry.previousTeamRole === "admin";
      if (action === "created") {
        const out = [grantOrRevoke(entry, ":grant:member", true, team, "member", user)];
        if (admin) out.push(grantOrRevoke(entry, ":grant:admin", true, team, "admin", user));
        return out;
      }
      if (action === "deleted") {
        const out = [grantOrRevoke(entry, ":revoke:member", false, team, "member", user)];
        if (wasAdmin) out.push(grantOrRevoke(entry, ":revoke:admin", false, team, "admin", user));
        return out;
      }
      if (admin && !wasAdmin) return [grantOrRevoke(entry, ":grant:admin", true, team, "admin", user)];
      if (!admin && wasAdmin) return [grantOrRevoke(entry, ":revoke:admin", false, team, "admin", user)];
      return [];
    }
    case "api_key":
      return options.keys && valid("apiKey", id) ? [change(entry, "", API_KEY, id)] : [];
    case "application_key":
      return options.keys && valid("appKey", id) ? [change(entry, "", APPLICATION_KEY, id)] : [];
    default:
      return [];
  }
}

// ---- the feeds ---------------------------------------------------------------------------------------------------

interface FeedSpec {
  id: string;
  kinds: EventType[];
  query: string;
  map(entry: AuditEntry, options: AuditFeedOptions): FeedEvent[];
}

function auditFeed(client: DatadogClient, spec: FeedSpec, options: AuditFeedOptions): EventFeed {
  return {
    id: spec.id,
    eventKinds: spec.kinds,
    async list(ctx: CallContext, request): Promise<EventPage> {
      let state: FeedCursor = request.cursor
        ? decodeCursor(request.cursor, spec.id)
        : { v: 1, from: (request.startAt ?? new Date(Date.now() - DEFAULT_LOOKBACK_MS)).toISOString() };
      const limit = Math.min(Math.max(request.pageSize, 1), MAX_AUDIT_PAGE);
      const read = (s: FeedCursor) => listAuditEventsPage(client, { query: spec.query, from: new Date(s.from), limit, cursor: s.at }, ctx.signal);
      let page;
      try {
        page = await read(state);
      } catch (err) {
        // Datadog refuses a cursor it no longer knows (400): start again right after what was handed out.
        if (state.at === undefined || !isHttpStatus(err, 400)) throw datadogError(err, client);
        ctx.logger.warn({ feed: spec.id }, "Datadog refused the Audit Trail cursor; reading again from the last event handed out");
        state = endCursor(state, state.tail);
        page = await call(client, () => read(state));
      }
      const seen = new Set(state.seen ?? []);
      let tail = state.tail ?? (state.seen?.length ? { ts: state.from, ids: state.seen } : undefined);
      const events: FeedEvent[] = [];
      let consumed = state.skip ?? 0;
      for (let i = consumed; i < page.entries.length; i++) {
        const entry = page.entries[i];
        const mapped = seen.has(entry.id) ? [] : spec.map(entry, options);
        if (events.length > 0 && events.length + mapped.length > request.pageSize) break;
        // Only a page size smaller than one audit event's fan-out cuts events off; none is that small in practice.
        events.push(...mapped.slice(0, request.pageSize));
        tail = advanceTail(tail, entry);
        consumed = i + 1;
      }
      const carried = { from: state.from, seen: state.seen, tail };
      if (consumed < page.entries.length) return { events, cursor: encodeCursor({ v: 1, ...carried, at: state.at, skip: consumed }), hasMore: true };
      if (page.after !== undefined) return { events, cursor: encodeCursor({ v: 1, ...carried, at: page.after }), hasMore: true };
      return { events, cursor: encodeCursor(endCursor(state, tail)), hasMore: false };
    },
  };
}

export function auditFeeds(client: DatadogClient, options: AuditFeedOptions): EventFeed[] {
  return [
    auditFeed(client, { id: USAGE_FEED, kinds: [EventType.USAGE], query: USAGE_QUERY, map: usageEvents }, options),
    auditFeed(
      client,
      { id: CHANGES_FEED, kinds: [EventType.CREATE_GRANT, EventType.CREATE_REVOKE, EventType.RESOURCE_CHANGE], query: CHANGES_QUERY, map: changeEvents },
      options,
    ),
  ];
}
