/**
 * Audit Trail: ListAuditLogs (GET /api/v2/audit/events, query parameters) and SearchAuditLogs
 * (POST /api/v2/audit/events/search, the same in a body), cursor-paged as Datadog pages them: `meta.page.after`
 * and `links.next` while more events match, neither on the last page. A cursor belongs to its query: used with
 * another query, time range or sort it is a 400, as is a cursor the simulator did not make.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { AuditEvent, AuditLog } from "../audit-log.ts";
import { parseAuditQuery } from "../audit-query.ts";
import { parseBody } from "../bodies.ts";
import { badRequest } from "../errors.ts";
import { iso } from "../model.ts";
import type { RouteDef } from "../router.ts";

const READ = ["audit_logs_read"];
const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 1000;
const DEFAULT_FROM = "now-15m";

interface AuditSearch {
  query: string;
  from: string;
  to: string;
  sort: "timestamp" | "-timestamp";
  cursor: string | undefined;
  limit: number;
}

/** Schema AuditLogsSearchEventsRequest (every part optional). */
const SearchRequest = z.object({
  filter: z.object({ query: z.string().optional(), from: z.string().optional(), to: z.string().optional() }).optional(),
  options: z.object({ time_offset: z.number().int().optional(), timezone: z.string().optional() }).optional(),
  page: z.object({ cursor: z.string().optional(), limit: z.number().int().optional() }).optional(),
  sort: z.enum(["timestamp", "-timestamp"]).optional(),
});

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** ISO 8601, epoch milliseconds, `now` or `now-<n><s|m|h|d|w>` (Datadog's date math, the part anyone uses). */
function readTime(name: string, raw: string, now: number): number {
  const math = /^now(?:-(\d{1,9})([smhdw]))?$/.exec(raw);
  if (math) return math[1] === undefined ? now : now - Number(math[1]) * UNITS[math[2]];
  if (/^\d{1,15}$/.test(raw)) return Number(raw);
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) throw badRequest(`${name} must be a date-time, epoch milliseconds or now-<n>m, got "${raw.slice(0, 40)}"`);
  return ms;
}

function readLimit(raw: number | string | undefined, name: string): number {
  if (raw === undefined || raw === "") return DEFAULT_LIMIT;
  const n = typeof raw === "number" ? raw : /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) throw badRequest(`${name} must be an integer between 1 and ${MAX_LIMIT}, got "${String(raw).slice(0, 20)}"`);
  return n;
}

function searchKey(search: AuditSearch): string {
  return createHash("sha256").update(JSON.stringify([search.query, search.from, search.to, search.sort])).digest("base64url").slice(0, 16);
}

function encodeCursor(seq: number, key: string): string {
  return Buffer.from(JSON.stringify({ after: seq, query: key })).toString("base64url");
}

function decodeCursor(cursor: string, key: string): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw badRequest("page[cursor] is not a cursor this API returned");
  }
  const value = parsed as { after?: unknown; query?: unknown } | null;
  if (!value || typeof value.after !== "number" || !Number.isInteger(value.after) || typeof value.query !== "string") {
    throw badRequest("page[cursor] is not a cursor this API returned");
  }
  if (value.query !== key) throw badRequest("page[cursor] belongs to another query, time range or sort: send the same parameters with it");
  return value.after;
}

/** Schema AuditLogsEvent. */
function eventResource(event: AuditEvent): Record<string, unknown> {
  return {
    id: event.id,
    type: "audit",
    attributes: {
      timestamp: iso(event.timestamp),
      service: "audit",
      message: event.message,
      tags: ["source:audit"],
      attributes: structuredClone(event.attributes),
    },
  };
}

function answer(log: AuditLog, search: AuditSearch, nextUrl: (cursor: string) => string, now = Date.now()): Record<string, unknown> {
  const matches = parseAuditQuery(search.query);
  const from = readTime("filter[from]", search.from, now);
  const to = readTime("filter[to]", search.to, now);
  const key = searchKey(search);
  const after = search.cursor === undefined ? undefined : decodeCursor(search.cursor, key);
  const ascending = search.sort === "timestamp";
  const events = log.events();
  const page: AuditEvent[] = [];
  let more = false;
  const consider = (event: AuditEvent): boolean => {
    if (event.timestamp < from || event.timestamp > to || !matches(event.attributes)) return true;
    if (page.length === search.limit) {
      more = true;
      return false;
    }
    page.push(event);
    return true;
  };
  if (ascending) {
    for (const event of events) if ((after === undefined || event.seq > after) && !consider(event)) break;
  } else {
    for (let i = events.length - 1; i >= 0; i--) if ((after === undefined || events[i].seq < after) && !consider(events[i])) break;
  }
  const meta: Record<string, unknown> = { elapsed: 1, request_id: createHash("sha256").update(`${now}:${key}`).digest("hex").slice(0, 32), status: "done" };
  const body: Record<string, unknown> = { data: page.map(eventResource), meta };
  if (more) {
    const cursor = encodeCursor(page[page.length - 1].seq, key);
    meta.page = { after: cursor };
    body.links = { next: nextUrl(cursor) };
  }
  return body;
}

export function auditRoutes(log: AuditLog): RouteDef[] {
  return [
    {
      method: "GET",
      template: "/api/v2/audit/events",
      rateLimit: "audit",
      permissions: READ,
      handler: ({ query, url }) => {
        const sort = query.get("sort") ?? "-timestamp";
        if (sort !== "timestamp" && sort !== "-timestamp") throw badRequest(`sort must be timestamp or -timestamp, got "${sort.slice(0, 20)}"`);
        const search: AuditSearch = {
          query: query.get("filter[query]") ?? "*",
          from: query.get("filter[from]") ?? DEFAULT_FROM,
          to: query.get("filter[to]") ?? "now",
          sort,
          cursor: query.get("page[cursor]") ?? undefined,
          limit: readLimit(query.get("page[limit]") ?? undefined, "page[limit]"),
        };
        const next = (cursor: string) => {
          const u = new URL(url);
          u.searchParams.set("page[cursor]", cursor);
          return u.toString();
        };
        return { status: 200, body: answer(log, search, next) };
      },
    },
    {
      method: "POST",
      template: "/api/v2/audit/events/search",
      rateLimit: "audit",
      permissions: READ,
      handler: ({ rawBody, url }) => {
        // The body is optional: none means every default.
        const body = rawBody.length === 0 ? {} : parseBody(rawBody, SearchRequest);
        const search: AuditSearch = {
          query: body.filter?.query ?? "*",
          from: body.filter?.from ?? DEFAULT_FROM,
          to: body.filter?.to ?? "now",
          sort: body.sort ?? "-timestamp",
          cursor: body.page?.cursor,
          limit: readLimit(body.page?.limit, "page.limit"),
        };
        // Datadog's link points at the GET listing with the same search.
        const next = (cursor: string) => {
          const u = new URL("/api/v2/audit/events", url);
          u.searchParams.set("filter[query]", search.query);
          u.searchParams.set("filter[from]", search.from);
          u.searchParams.set("filter[to]", search.to);
          u.searchParams.set("sort", search.sort);
          u.searchParams.set("page[limit]", String(search.limit));
          u.searchParams.set("page[cursor]", cursor);
          return u.toString();
        };
        return { status: 200, body: answer(log, search, next) };
      },
    },
  ];
}
