/**
 * ctx.session: a per-sync key-value store for connector authors. A syncer keeps what it learned once per sync
 * (a role lookup, a schedule index) here instead of in a Map on the connector, so the value is scoped to the
 * sync, bounded, and — with the c1z backend — still there when an interrupted sync resumes.
 *
 * Where the values live is a SessionBackend: the c1z's v1_connector_sessions table for a one-shot sync,
 * memory for `serve` without a platform, the platform's session service when hosted. The author sees only
 * SessionStore, bound to the sync the call belongs to; with no sync id or no backend the store still works
 * for the length of the call and keeps nothing afterwards, so author code never branches on it.
 */
import { Code, ConnectorError } from "./errors.ts";
import type { ConnectorRpc, RpcOptions } from "./rpc.ts";

/** What a connector author sees as ctx.session: values scoped to the sync the call belongs to. */
export interface SessionStore {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * Reads a JSON value and checks it with `parse` (e.g. a zod schema's `.parse`). A value that is not JSON or
   * that `parse` rejects reads as absent: it was written by another version of the connector (a resumed sync)
   * or damaged, and a session value is only ever a cache of something the connector can fetch again.
   */
  getJson<T>(key: string, parse: (raw: unknown) => T): Promise<T | undefined>;
  setJson(key: string, value: unknown): Promise<void>;
}

/** Where session values live: the c1z (one-shot sync), memory (serve without a platform), the platform (hosted). */
export interface SessionBackend {
  get(syncId: string, key: string): Promise<Uint8Array | undefined>;
  set(syncId: string, key: string, value: Uint8Array): Promise<void>;
  delete(syncId: string, key: string): Promise<void>;
  clear(syncId: string): Promise<void>;
}

/** Baton's limits (baton-sdk session store): keys of 1–512 characters, values up to 4,132,864 bytes. */
export const MAX_SESSION_KEY_CHARS = 512;
export const MAX_SESSION_VALUE_BYTES = 4_132_864;
/** What the memory backend holds across all syncs unless told otherwise. */
export const DEFAULT_MEMORY_SESSION_BYTES = 64 * 1024 * 1024;

function invalid(message: string): ConnectorError {
  return new ConnectorError(Code.INVALID_ARGUMENT, message);
}

export function checkSessionKey(key: string): void {
  if (typeof key !== "string") throw invalid("ctx.session key must be a string");
  // Characters, not UTF-16 units: a key of 512 emoji is as long as one of 512 letters.
  let chars = 0;
  for (const _ of key) chars++;
  if (chars === 0) throw invalid("ctx.session key is empty; keys are 1–512 characters");
  if (chars > MAX_SESSION_KEY_CHARS) {
    throw invalid(`ctx.session key "${key.slice(0, 40)}…" is ${chars} characters; keys are 1–${MAX_SESSION_KEY_CHARS} characters`);
  }
}

export function checkSessionValue(key: string, value: Uint8Array): void {
  if (!(value instanceof Uint8Array)) throw invalid(`ctx.session value for "${key}" must be a Uint8Array (use setJson for objects)`);
  if (value.byteLength > MAX_SESSION_VALUE_BYTES) {
    throw invalid(
      `ctx.session value for "${key}" is ${value.byteLength} bytes; the limit is ${MAX_SESSION_VALUE_BYTES} — keep less per key or split it over several keys`,
    );
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

class BoundSessionStore implements SessionStore {
  readonly #backend: SessionBackend;
  readonly #syncId: string;

  constructor(backend: SessionBackend, syncId: string) {
    this.#backend = backend;
    this.#syncId = syncId;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    checkSessionKey(key);
    return this.#backend.get(this.#syncId, key);
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    checkSessionKey(key);
    checkSessionValue(key, value);
    await this.#backend.set(this.#syncId, key, value);
  }

  async delete(key: string): Promise<void> {
    checkSessionKey(key);
    await this.#backend.delete(this.#syncId, key);
  }

  async getJson<T>(key: string, parse: (raw: unknown) => T): Promise<T | undefined> {
    const bytes = await this.get(key);
    if (bytes === undefined) return undefined;
    let raw: unknown;
    try {
      raw = JSON.parse(decoder.decode(bytes));
    } catch {
      return undefined;
    }
    try {
      return parse(raw);
    } catch {
      return undefined;
    }
  }

  async setJson(key: string, value: unknown): Promise<void> {
    const text = JSON.stringify(value);
    if (text === undefined) throw invalid(`ctx.session value for "${key}" has no JSON form (undefined or a function)`);
    await this.set(key, encoder.encode(text));
  }
}

/** The bytes a call without a sync may keep for its own length (one value at the Baton limit, twice over). */
const PER_CALL_BYTES = 2 * MAX_SESSION_VALUE_BYTES;
const PER_CALL_SYNC_ID = "per-call";

/**
 * ctx.session for one call. With a backend and a sync id the values are the sync's; otherwise a fresh memory
 * store that lives as long as the call (set-then-get works inside it, nothing survives it).
 */
export function sessionStoreFor(backend: SessionBackend | undefined, syncId: string | undefined): SessionStore {
  if (backend && syncId) return new BoundSessionStore(backend, syncId);
  return new BoundSessionStore(memorySessionBackend({ maxBytes: PER_CALL_BYTES }), PER_CALL_SYNC_ID);
}

/**
 * Session values in memory, bounded by `maxBytes` (keys and values counted) across all syncs. When a write
 * would go over, the oldest-written values go first — a session value is a cache, and a `serve` process sees
 * one sync after another without being told when each ends. A single value larger than the bound is refused.
 */
export function memorySessionBackend(limits?: { maxBytes?: number }): SessionBackend {
  const maxBytes = limits?.maxBytes ?? DEFAULT_MEMORY_SESSION_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
    throw new RangeError(`memorySessionBackend maxBytes must be a positive integer, got ${maxBytes}`);
  }
  // Insertion order of a Map is write order, which is what eviction needs; the key joins sync id and key
  // with a NUL, which neither a sync id nor a key checked above can be confused by.
  const entries = new Map<string, { syncId: string; value: Uint8Array; size: number }>();
  let total = 0;
  const slot = (syncId: string, key: string) => `${syncId}\u0000${key}`;
  const remove = (k: string) => {
    const e = entries.get(k);
    if (!e) return;
    entries.delete(k);
    total -= e.size;
  };

  return {
    async get(syncId, key) {
      const e = entries.get(slot(syncId, key));
      return e ? e.value.slice() : undefined;
    },
    async set(syncId, key, value) {
      const k = slot(syncId, key);
      const size = k.length * 2 + value.byteLength;
      if (size > maxBytes) {
        throw new ConnectorError(
          Code.RESOURCE_EXHAUSTED,
          `ctx.session value for "${key}" is ${value.byteLength} bytes; this session store holds at most ${maxBytes} bytes in all`,
        );
      }
      remove(k);
      while (total + size > maxBytes) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        remove(oldest.value);
      }
      entries.set(k, { syncId, value: value.slice(), size });
      total += size;
    },
    async delete(syncId, key) {
      remove(slot(syncId, key));
    },
    async clear(syncId) {
      for (const [k, e] of entries) if (e.syncId === syncId) remove(k);
    },
  };
}

/** What the c1z store offers for session values (src/store): the three calls this backend needs. */
export interface SessionValueStore {
  putSessionValue(syncId: string, key: string, value: Uint8Array): void;
  getSessionValue(syncId: string, key: string): Uint8Array | undefined;
  deleteSessionValue(syncId: string, key: string): void;
}

/**
 * Session values in the c1z (v1_connector_sessions), so they are in the file a resumed sync reopens. The
 * store has no "list a sync's keys", so `clear` removes the keys this backend wrote or read in this process;
 * values of an earlier process stay in the file, as they do in Baton's c1z.
 */
export function storeSessionBackend(store: SessionValueStore): SessionBackend {
  const seen = new Map<string, Set<string>>();
  const note = (syncId: string, key: string) => {
    let keys = seen.get(syncId);
    if (!keys) seen.set(syncId, (keys = new Set()));
    keys.add(key);
  };
  return {
    async get(syncId, key) {
      const value = store.getSessionValue(syncId, key);
      if (value !== undefined) note(syncId, key);
      return value;
    },
    async set(syncId, key, value) {
      store.putSessionValue(syncId, key, value);
      note(syncId, key);
    },
    async delete(syncId, key) {
      store.deleteSessionValue(syncId, key);
      seen.get(syncId)?.delete(key);
    },
    async clear(syncId) {
      for (const key of seen.get(syncId) ?? []) store.deleteSessionValue(syncId, key);
      seen.delete(syncId);
    },
  };
}

/**
 * `rpc` with every call carrying `backend` as its session backend (unless the call names one): how the sync
 * engine gives an in-process connector the c1z it is writing, and `serve` a memory backend. Over gRPC the
 * option does not travel; the connector's own process decides where its values live.
 */
export function withSessionBackend(rpc: ConnectorRpc, backend: SessionBackend): ConnectorRpc {
  return new Proxy(rpc, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (request: unknown, opts?: RpcOptions) => value.call(target, request, { ...opts, sessions: opts?.sessions ?? backend });
    },
  });
}
