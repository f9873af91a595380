/**
 * BatonSessionService of the test platform (HOSTED-LAMBDA.md §5): an in-memory key/value store per sync id and
 * prefix, with the contract's validation (sync_id `^[a-zA-Z0-9]{27}$`, key 1–512 characters, prefix ≤ 512,
 * value ≤ 4,132,864 bytes, GetMany 1–100 unique keys, SetMany 1–100 values, DeleteMany 1–200 keys) as
 * INVALID_ARGUMENT naming the field, GetAll paged, and a bound on everything held (RESOURCE_EXHAUSTED).
 */
import { Code, ConnectorError } from "../../../src/connector/errors.ts";
import type {
  ClearRequest,
  DeleteManyRequest,
  DeleteRequest,
  GetAllRequest,
  GetManyRequest,
  GetRequest,
  SetManyRequest,
  SetRequest,
} from "../../../src/gen/c1/connectorapi/baton/v1/session_pb.js";

export const SYNC_ID_PATTERN = /^[a-zA-Z0-9]{27}$/;
export const MAX_VALUE_BYTES = 4_132_864;

export interface SessionStoreState {
  /** syncId → prefix → key → value */
  data: Map<string, Map<string, Map<string, Uint8Array>>>;
  /** Calls by method name (validated or not). */
  callsByMethod: Map<string, number>;
  /** GetAll page size. */
  pageSize: number;
  /** Bound on the bytes held across all syncs. */
  maxBytes: number;
  bytes: number;
}

export function newSessionState(opts: { pageSize?: number; maxBytes?: number } = {}): SessionStoreState {
  return { data: new Map(), callsByMethod: new Map(), pageSize: opts.pageSize ?? 100, maxBytes: opts.maxBytes ?? 64 * 1024 * 1024, bytes: 0 };
}

const invalid = (why: string) => new ConnectorError(Code.INVALID_ARGUMENT, why);
const chars = (s: string) => [...s].length;

function checkSyncId(syncId: string) {
  if (!SYNC_ID_PATTERN.test(syncId)) throw invalid(`sync_id must match ^[a-zA-Z0-9]{27}$, got ${JSON.stringify(syncId.slice(0, 40))}`);
}
function checkKey(key: string, field = "key") {
  const n = chars(key);
  if (n < 1 || n > 512) throw invalid(`${field} must be 1–512 characters, got ${n}`);
}
function checkPrefix(prefix: string) {
  if (chars(prefix) > 512) throw invalid("prefix must be at most 512 characters");
}
function checkValue(key: string, value: Uint8Array) {
  if (value.length > MAX_VALUE_BYTES) throw invalid(`value of ${JSON.stringify(key)} is ${value.length} bytes; at most ${MAX_VALUE_BYTES}`);
}

export function sessionServiceImpl(state: SessionStoreState) {
  const count = (method: string) => state.callsByMethod.set(method, (state.callsByMethod.get(method) ?? 0) + 1);
  const space = (syncId: string, prefix: string, createIt: boolean) => {
    let bySync = state.data.get(syncId);
    if (!bySync && createIt) state.data.set(syncId, (bySync = new Map()));
    let byPrefix = bySync?.get(prefix);
    if (!byPrefix && createIt && bySync) bySync.set(prefix, (byPrefix = new Map()));
    return byPrefix;
  };
  const weight = (key: string, value: Uint8Array) => 32 + Buffer.byteLength(key) + value.length;
  const put = (syncId: string, prefix: string, key: string, value: Uint8Array) => {
    const m = space(syncId, prefix, true)!;
    const old = m.get(key);
    const delta = weight(key, value) - (old ? weight(key, old) : 0);
    if (state.bytes + delta > state.maxBytes) throw new ConnectorError(Code.RESOURCE_EXHAUSTED, `session store full (${state.maxBytes} bytes)`);
    state.bytes += delta;
    m.set(key, Uint8Array.from(value));
  };
  const remove = (syncId: string, prefix: string, key: string) => {
    const m = space(syncId, prefix, false);
    const old = m?.get(key);
    if (m && old) {
      state.bytes -= weight(key, old);
      m.delete(key);
    }
  };
  return {
    async get(req: GetRequest) {
      count("Get");
      checkSyncId(req.syncId);
      checkKey(req.key);
      checkPrefix(req.prefix);
      const value = space(req.syncId, req.prefix, false)?.get(req.key);
      return value ? { value, found: true } : { found: false };
    },
    async getMany(req: GetManyRequest) {
      count("GetMany");
      checkSyncId(req.syncId);
      checkPrefix(req.prefix);
      if (req.keys.length < 1 || req.keys.length > 100) throw invalid(`keys must hold 1–100 keys, got ${req.keys.length}`);
      if (new Set(req.keys).size !== req.keys.length) throw invalid("keys must be unique");
      req.keys.forEach((k) => checkKey(k, "keys[]"));
      const m = space(req.syncId, req.prefix, false);
      return { items: req.keys.flatMap((key) => (m?.has(key) ? [{ key, value: m.get(key)! }] : [])) };
    },
    async getAll(req: GetAllRequest) {
      count("GetAll");
      checkSyncId(req.syncId);
      checkPrefix(req.prefix);
      const m = space(req.syncId, req.prefix, false);
      const keys = [...(m?.keys() ?? [])].sort();
      const after = req.pageToken ? Buffer.from(req.pageToken, "base64url").toString("utf8") : undefined;
      const start = after === undefined ? 0 : keys.findIndex((k) => k > after);
      const page = start < 0 ? [] : keys.slice(start, start + state.pageSize);
      const more = start >= 0 && start + state.pageSize < keys.length;
      return {
        items: page.map((key) => ({ key, value: m!.get(key)! })),
        pageToken: more ? Buffer.from(page[page.length - 1]).toString("base64url") : "",
      };
    },
    async set(req: SetRequest) {
      count("Set");
      checkSyncId(req.syncId);
      checkKey(req.key);
      checkPrefix(req.prefix);
      checkValue(req.key, req.value);
      put(req.syncId, req.prefix, req.key, req.value);
      return {};
    },
    async setMany(req: SetManyRequest) {
      count("SetMany");
      checkSyncId(req.syncId);
      checkPrefix(req.prefix);
      const entries = Object.entries(req.values);
      if (entries.length < 1 || entries.length > 100) throw invalid(`values must hold 1–100 entries, got ${entries.length}`);
      for (const [k, v] of entries) {
        checkKey(k, "values key");
        checkValue(k, v);
      }
      for (const [k, v] of entries) put(req.syncId, req.prefix, k, v);
      return {};
    },
    async delete(req: DeleteRequest) {
      count("Delete");
      checkSyncId(req.syncId);
      checkKey(req.key);
      checkPrefix(req.prefix);
      remove(req.syncId, req.prefix, req.key);
      return {};
    },
    async deleteMany(req: DeleteManyRequest) {
      count("DeleteMany");
      checkSyncId(req.syncId);
      checkPrefix(req.prefix);
      if (req.keys.length < 1 || req.keys.length > 200) throw invalid(`keys must hold 1–200 keys, got ${req.keys.length}`);
      req.keys.forEach((k) => checkKey(k, "keys[]"));
      for (const k of req.keys) remove(req.syncId, req.prefix, k);
      return {};
    },
    async clear(req: ClearRequest) {
      count("Clear");
      checkSyncId(req.syncId);
      checkPrefix(req.prefix);
      const bySync = state.data.get(req.syncId);
      const prefixes = req.prefix ? [req.prefix] : [...(bySync?.keys() ?? [])];
      for (const p of prefixes) for (const k of [...(bySync?.get(p)?.keys() ?? [])]) remove(req.syncId, p, k);
      return {};
    },
  };
}
