/**
 * Pacing piece: holds each attempt until its route's rate-limit bucket has room (the transport releases the slot
 * with the answer's X-RateLimit-* headers), so a sync stays under Datadog's limits instead of collecting 429s.
 */
import { abortedError } from "./errors.ts";
import type { HttpMetrics } from "./metrics.ts";
import type { Interceptor } from "./pipeline.ts";
import type { RateLimiter } from "./rate-limit.ts";

export function pacingInterceptor(limiter: RateLimiter, metrics: HttpMetrics): Interceptor {
  return (next) => async (ex) => {
    const waitStart = performance.now();
    try {
      ex.slot = await limiter.acquire(ex.routeKey, ex.req.signal);
    } catch (err) {
      throw abortedError(ex.req.operation, ex.method, ex.displayUrl, err);
    }
    metrics.rateLimitWaitMs += performance.now() - waitStart;
    return next(ex);
  };
}
