/**
 * The simulated org's Audit Trail: an event for every change the simulator makes (users created, disabled and
 * enabled, role and team memberships, keys created and deleted) and for the logins and key uses a test tells it
 * about (`recordLogin`, `recordKeyUse`). Events carry the attribute names of Datadog's Audit Trail documentation
 * (`evt.name`, `action`, `asset.type`, `asset.id`, `usr.*`, `metadata.*`); the names Datadog does not document
 * (who joined a role or team) are the simulator's own and listed in the connector README.
 *
 * Bounded: the oldest events are dropped beyond `maxEvents`, as Datadog drops events past their retention.
 * Timestamps never go backwards (a clock step back is absorbed), so time order and record order are one order.
 */
import { randomBytes } from "node:crypto";

export type AuditJson = Record<string, unknown>;

/** Who made a change: a user or service account (through its keys or a token), an API key alone, or the simulator itself. */
export interface AuditActor {
  readonly type: "USER" | "API_KEY" | "SYSTEM";
  readonly userId: string | null;
  readonly email: string | null;
  readonly name: string | null;
}

export const SYSTEM_ACTOR: AuditActor = Object.freeze({ type: "SYSTEM", userId: null, email: null, name: null });

export interface AuditEvent {
  /** Order of recording; the cursor's position. */
  readonly seq: number;
  readonly id: string;
  /** Epoch milliseconds. */
  readonly timestamp: number;
  readonly message: string;
  /** `attributes.attributes` of Datadog's AuditLogsEvent: evt, usr, action, asset, metadata, ... */
  readonly attributes: AuditJson;
}

export interface AuditRecord {
  /** `@evt.name`, e.g. "Access Management", "Authentication", "Teams Management", "Request". */
  evtName: string;
  /** `@action`, e.g. created, modified, deleted, login, accessed. */
  action: string;
  asset?: { type: string; id?: string; name?: string | null; prev_value?: AuditJson; new_value?: AuditJson };
  metadata?: AuditJson;
  /** Further top-level attributes (auth_method, http, ...). */
  extra?: AuditJson;
  message: string;
}

export const DEFAULT_MAX_AUDIT_EVENTS = 50_000;

export class AuditLog {
  readonly #events: AuditEvent[] = [];
  readonly #maxEvents: number;
  #seq = 0;
  #lastTimestamp = 0;
  /** The actor of the request being handled (set around each route handler; SYSTEM otherwise). */
  #actor: AuditActor = SYSTEM_ACTOR;

  constructor(maxEvents = DEFAULT_MAX_AUDIT_EVENTS) {
    if (!Number.isInteger(maxEvents) || maxEvents < 1) throw new RangeError(`maxEvents must be an integer >= 1, got ${maxEvents}`);
    this.#maxEvents = maxEvents;
  }

  get size(): number {
    return this.#events.length;
  }

  /** Events in record order. Do not mutate. */
  events(): readonly AuditEvent[] {
    return this.#events;
  }

  /**
   * Runs `fn` with `actor` as the author of the changes it records. Route handlers change the org synchronously,
   * so the actor is in place for exactly the writes of one request.
   */
  actingAs<T>(actor: AuditActor, fn: () => T): T {
    const previous = this.#actor;
    this.#actor = actor;
    try {
      return fn();
    } finally {
      this.#actor = previous;
    }
  }

  /** Records an event by the current actor (or `actor`), stamped now. */
  record(entry: AuditRecord, actor: AuditActor = this.#actor, now = Date.now()): AuditEvent {
    const timestamp = Math.max(now, this.#lastTimestamp);
    this.#lastTimestamp = timestamp;
    const seq = ++this.#seq;
    const attributes: AuditJson = {
      evt: { name: entry.evtName, actor: { type: actor.type } },
      action: entry.action,
      ...entry.extra,
    };
    if (actor.userId !== null) attributes.usr = { id: actor.userId, email: actor.email, name: actor.name };
    if (entry.asset) attributes.asset = dropUndefined(entry.asset);
    if (entry.metadata) attributes.metadata = entry.metadata;
    const event: AuditEvent = { seq, id: eventId(seq, timestamp), timestamp, message: entry.message, attributes };
    this.#events.push(event);
    // Trim in batches: one splice per tenth of the capacity instead of a shift per event.
    if (this.#events.length > this.#maxEvents + Math.ceil(this.#maxEvents / 10)) this.#events.splice(0, this.#events.length - this.#maxEvents);
    return event;
  }
}

function dropUndefined(value: Record<string, unknown>): AuditJson {
  const out: AuditJson = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = v;
  return out;
}

/** An opaque id of Datadog's look (base64 of time, order and noise), unique within the log. */
function eventId(seq: number, timestamp: number): string {
  const bytes = Buffer.alloc(20);
  bytes.writeBigUInt64BE(BigInt(timestamp), 0);
  bytes.writeUInt32BE(seq >>> 0, 8);
  randomBytes(8).copy(bytes, 12);
  return `AAAA${bytes.toString("base64url")}`;
}

/** The actor a request's changes are recorded under: its user or service account, an API key alone, or the simulator. */
export function actorOf(principal: { kind: string; userId: string | null } | null, findUser: (id: string) => { email: string; name: string | null } | undefined): AuditActor {
  if (!principal) return SYSTEM_ACTOR;
  if (principal.userId === null) return { type: principal.kind === "api-key" ? "API_KEY" : "SYSTEM", userId: null, email: null, name: null };
  const user = findUser(principal.userId);
  return { type: "USER", userId: principal.userId, email: user?.email ?? null, name: user?.name ?? null };
}
