/**
 * Reporting piece: tells whoever runs a connector call which rate limit its requests ran under. A sync engine
 * that knows each API's limit and the work waiting behind it can keep the tightest limit busy from the start
 * instead of leaving it to run alone at the end (src/sync/limit-aware.ts); Go connectors report the same with a
 * RateLimitDescription on their list responses.
 *
 * `collectRateLimit(fn)` runs `fn` with a collector in async context; every accepted answer with X-RateLimit-*
 * headers (Limit included) that a client sends inside it is offered to the collector, which keeps the most
 * constrained one (the least budget left for its size). Outside a collection the piece does nothing.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Interceptor } from "./pipeline.ts";
import { parseRateLimitHeaders } from "./rate-limit.ts";

export interface ObservedRateLimit {
  limit: number;
  remaining: number;
  /** Epoch ms at which the server said the window resets. */
  resetAt: number;
}

const scope = new AsyncLocalStorage<{ best: ObservedRateLimit | undefined }>();

/** Runs `fn` and returns its value with the most constrained rate limit its requests reported, if any. */
export async function collectRateLimit<T>(fn: () => Promise<T>): Promise<{ value: T; rateLimit: ObservedRateLimit | undefined }> {
  const store: { best: ObservedRateLimit | undefined } = { best: undefined };
  const value = await scope.run(store, fn);
  return { value, rateLimit: store.best };
}

export const reportRateLimit: Interceptor = (next) => async (ex) => {
  const outcome = await next(ex);
  const store = scope.getStore();
  if (store === undefined || outcome.kind !== "response" || !ex.accept(outcome.status)) return outcome;
  const headers = outcome.headers;
  const h = parseRateLimitHeaders((n) => headers[n]);
  if (h === undefined || h.limit === undefined || h.limit < 1) return outcome;
  const seen: ObservedRateLimit = { limit: h.limit, remaining: Math.min(h.remaining, h.limit), resetAt: Date.now() + h.reset * 1000 };
  const best = store.best;
  if (best === undefined || seen.remaining / seen.limit < best.remaining / best.limit) store.best = seen;
  return outcome;
};
