/**
 * ctx.session in hosted mode (HOSTED-LAMBDA.md §5): the platform's BatonSessionService on the configuration
 * host channel, with a bounded local cache in front (weight 32 + key + value bytes, 10 minutes after write, off
 * when the size setting is 0). Ids and keys are checked before anything is sent, as the service's rules would.
 */
import { Code, ConnectorError } from "../connector/errors.ts";
import { checkSessionKey, checkSessionValue, type SessionBackend } from "../connector/session.ts";
import { BatonSessionService } from "../gen/c1/connectorapi/baton/v1/session_pb.js";
import type { PlatformGrpc } from "./platform-grpc.ts";

const SYNC_ID = /^[a-zA-Z0-9]{27}$/;
const CACHE_TTL_MS = 10 * 60_000;
const ENTRY_OVERHEAD = 32;

function checkSyncId(syncId: string): void {
  if (typeof syncId !== "string" || !SYNC_ID.test(syncId)) {
    throw new ConnectorError(
      Code.INVALID_ARGUMENT,
      `session store: sync id ${JSON.stringify(String(syncId).slice(0, 40))} is not 27 letters and digits (a KSUID); the platform refuses other ids`,
    );
  }
}

export interface PlatformSessionOptions {
  /** Local cache bytes; 0 disables it. */
  cacheBytes: number;
  now?: () => number;
}

export interface PlatformSessionBackend extends SessionBackend {
  /** Calls sent to the platform (for tests and the cold-start report). */
  readonly calls: number;
}

export function platformSessionBackend(grpc: PlatformGrpc, options: PlatformSessionOptions): PlatformSessionBackend {
  const now = options.now ?? Date.now;
  const max = options.cacheBytes;
  const cache = new Map<string, { syncId: string; value: Uint8Array; weight: number; expires: number }>();
  let total = 0;
  let calls = 0;
  const slot = (syncId: string, key: string) => `${syncId}\u0000${key}`;
  const evict = (k: string) => {
    const e = cache.get(k);
    if (!e) return;
    cache.delete(k);
    total -= e.weight;
  };
  const remember = (syncId: string, key: string, value: Uint8Array) => {
    if (max <= 0) return;
    const k = slot(syncId, key);
    evict(k);
    const weight = ENTRY_OVERHEAD + Buffer.byteLength(key) + value.byteLength;
    if (weight > max) return;
    while (total + weight > max) {
      const oldest = cache.keys().next();
      if (oldest.done) break;
      evict(oldest.value);
    }
    cache.set(k, { syncId, value: value.slice(), weight, expires: now() + CACHE_TTL_MS });
    total += weight;
  };
  const call = <T>(fn: () => Promise<T>) => {
    calls++;
    return fn();
  };
  const svc = BatonSessionService;
  return {
    get calls() {
      return calls;
    },
    async get(syncId, key) {
      checkSyncId(syncId);
      checkSessionKey(key);
      const hit = cache.get(slot(syncId, key));
      if (hit && hit.expires > now()) return hit.value.slice();
      if (hit) evict(slot(syncId, key));
      const res = await call(() => grpc.unary(svc, svc.method.get, { syncId, key }));
      if (!res.found) return undefined;
      // A plain copy: the decoded bytes may be a Buffer view into a pooled gRPC frame.
      const value = new Uint8Array(res.value);
      remember(syncId, key, value);
      return value;
    },
    async set(syncId, key, value) {
      checkSyncId(syncId);
      checkSessionKey(key);
      checkSessionValue(key, value);
      await call(() => grpc.unary(svc, svc.method.set, { syncId, key, value }));
      remember(syncId, key, value);
    },
    async delete(syncId, key) {
      checkSyncId(syncId);
      checkSessionKey(key);
      evict(slot(syncId, key));
      await call(() => grpc.unary(svc, svc.method.delete, { syncId, key }));
    },
    async clear(syncId) {
      checkSyncId(syncId);
      for (const [k, e] of cache) if (e.syncId === syncId) evict(k);
      await call(() => grpc.unary(svc, svc.method.clear, { syncId }));
    },
  };
}
