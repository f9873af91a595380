/**
 * Reading Datadog's Audit Trail (ListAuditLogs, GET /api/v2/audit/events): one page of events matching a query,
 * oldest first from a point in time, continued with the cursor Datadog returns (`meta.page.after`).
 *
 * Read in the tolerant style of tolerant.ts: an event without an id, a timestamp or its attributes (all optional
 * in the spec) is skipped and counted in one warning; a field of the wrong type where the spec types it is a
 * broken answer. The attributes inside an event are not in the spec at all (Datadog documents them per product):
 * they are read as what they should be, and anything else counts as absent, never as an error. Every string
 * kept is bounded, and so are the member lists inside an event.
 */
import { z } from "zod";
import { HttpError, HttpErrorCode } from "../../../src/api-client.ts";
import type { DatadogClient } from "./datadog-client.ts";
import type { OperationInfo } from "./operations.ts";
import { parseResponse } from "./parse.ts";
import { readEntries, SkipTally, type EntryRule } from "./tolerant.ts";

export const AUDIT_OPERATIONS = {
  ListAuditLogs: { id: "ListAuditLogs", method: "GET", path: "/api/v2/audit/events", permissions: ["audit_logs_read"], purpose: "read the Audit Trail" },
} as const satisfies Record<string, OperationInfo>;

/** Datadog's page[limit] maximum. */
export const MAX_AUDIT_PAGE = 1000;
/** Longer cursors are refused: ours must fit Baton's 4096-byte event cursor with room for its own state. */
export const MAX_AUDIT_CURSOR = 1500;
const MAX_TEXT = 512;
const MAX_IDS_PER_EVENT = 100;

const AuditEventsResponseSchema = z.looseObject({
  data: z.array(z.unknown()).nullish(),
  meta: z.looseObject({ page: z.looseObject({ after: z.string().nullish() }).nullish(), status: z.string().nullish() }).nullish(),
});

const AuditEventSchema = z.looseObject({
  id: z.string(),
  type: z.string().nullish(),
  attributes: z.looseObject({
    timestamp: z.string(),
    message: z.string().nullish(),
    attributes: z.record(z.string(), z.unknown()),
  }),
});

const AUDIT_ENTRY: EntryRule = { sparse: ["*"] };

/** The parts of an Audit Trail event the connector reads. Absent values are undefined. */
export interface AuditEntry {
  id: string;
  timestamp: Date;
  /** `@evt.name`: "Access Management", "Authentication", "Teams Management", "Request", ... */
  evtName: string | undefined;
  /** `@action`: created, modified, deleted, login, accessed, ... */
  action: string | undefined;
  /** `@evt.actor.type`: USER, API_KEY, SUPPORT_USER, ... */
  actorType: string | undefined;
  /** `@usr.id` / `@usr.email`: who acted. */
  userId: string | undefined;
  userEmail: string | undefined;
  asset: { type: string | undefined; id: string | undefined; name: string | undefined };
  /** `@metadata.api_key.id`, `@metadata.application_key.id`: the keys a request used. */
  apiKeyId: string | undefined;
  applicationKeyId: string | undefined;
  /** `@auth_method` of a login. */
  authMethod: string | undefined;
  /** `@metadata.added_user_ids` / `removed_user_ids` of a role change (the simulator's names; see audit-feed.ts). */
  addedUserIds: string[];
  removedUserIds: string[];
  /** `@metadata.user_id`, `team_role`, `previous_team_role` of a team membership change; null role = plain member. */
  memberUserId: string | undefined;
  teamRole: string | null | undefined;
  previousTeamRole: string | null | undefined;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Datadog's cursor for the next page; undefined on the last one. */
  after: string | undefined;
  /** Events in the answer, skipped ones included. */
  received: number;
}

export interface AuditQuery {
  /** Audit Trail search syntax, e.g. `@evt.name:"Access Management" @action:(created OR deleted)`. */
  query: string;
  from: Date;
  /** 1..1000. */
  limit: number;
  cursor?: string;
}

function child(node: unknown, key: string): unknown {
  return node !== null && typeof node === "object" && !Array.isArray(node) ? (node as Record<string, unknown>)[key] : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 && value.length <= MAX_TEXT ? value : undefined;
}

function nullableText(value: unknown): string | null | undefined {
  return value === null ? null : text(value);
}

function ids(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  const out: string[] = [];
  for (const item of value.slice(0, MAX_IDS_PER_EVENT)) {
    const id = text(item) ?? text(child(item, "id"));
    if (id !== undefined) out.push(id);
  }
  return out;
}

function entryOf(event: z.output<typeof AuditEventSchema>): AuditEntry | undefined {
  const timestamp = new Date(event.attributes.timestamp);
  if (Number.isNaN(timestamp.getTime())) return undefined;
  const a = event.attributes.attributes;
  const evt = child(a, "evt");
  const usr = child(a, "usr");
  const asset = child(a, "asset");
  const metadata = child(a, "metadata");
  return {
    id: event.id,
    timestamp,
    evtName: text(child(evt, "name")),
    action: text(child(a, "action")),
    actorType: text(child(child(evt, "actor"), "type")),
    userId: text(child(usr, "id")),
    userEmail: text(child(usr, "email")),
    asset: { type: text(child(asset, "type")), id: text(child(asset, "id")), name: text(child(asset, "name")) },
    apiKeyId: text(child(child(metadata, "api_key"), "id")),
    applicationKeyId: text(child(child(metadata, "application_key"), "id")),
    authMethod: text(child(a, "auth_method")),
    addedUserIds: ids(child(metadata, "added_user_ids")),
    removedUserIds: ids(child(metadata, "removed_user_ids")),
    memberUserId: text(child(metadata, "user_id")),
    teamRole: nullableText(child(metadata, "team_role")),
    previousTeamRole: nullableText(child(metadata, "previous_team_role")),
  };
}

/** One page of Audit Trail events matching `q`, oldest first. Reads only: retried like every read. */
export async function listAuditEventsPage(client: DatadogClient, q: AuditQuery, signal?: AbortSignal): Promise<AuditPage> {
  const info = AUDIT_OPERATIONS.ListAuditLogs;
  if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > MAX_AUDIT_PAGE) throw new RangeError(`audit page limit must be 1..${MAX_AUDIT_PAGE}, got ${q.limit}`);
  const query: Record<string, string | number> = {
    "filter[query]": q.query,
    "filter[from]": q.from.toISOString(),
    sort: "timestamp",
    "page[limit]": q.limit,
  };
  if (q.cursor) query["page[cursor]"] = q.cursor;
  const res = await client.sendOperation(info, { path: info.path, query, retryable: true, signal });
  const body = parseResponse(info.id, AuditEventsResponseSchema, res.body);
  const data = body.data ?? [];
  const tally = new SkipTally();
  const entries: AuditEntry[] = [];
  for (const event of readEntries(info.id, AuditEventSchema, data, AUDIT_ENTRY, tally)) {
    const entry = entryOf(event);
    if (entry) entries.push(entry);
    else tally.skip("with a timestamp that is not a date");
  }
  tally.warn(client.logger, info.id, info.path);
  const after = body.meta?.page?.after || undefined;
  if (after !== undefined && after.length > MAX_AUDIT_CURSOR) {
    throw new HttpError({
      code: HttpErrorCode.INVALID_RESPONSE,
      operation: info.id,
      message: `the answer's cursor (meta.page.after) has ${after.length} characters; more than ${MAX_AUDIT_CURSOR} cannot be carried in an event feed cursor`,
    });
  }
  return { entries, after, received: data.length };
}
