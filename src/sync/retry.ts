/**
 * Retries connector calls the way a Go engine does: only UNAVAILABLE and DEADLINE_EXCEEDED, waiting until the
 * RateLimitDescription's reset_at when the error carries one, else an exponential backoff with full jitter.
 */
import { anyIs, anyUnpack, timestampDate } from "@bufbuild/protobuf/wkt";
import { RateLimitDescriptionSchema } from "../gen/c1/connector/v2/annotation_ratelimit_pb.js";
import { ConnectorError, isRetryableCode } from "../connector/errors.ts";
import { backoffDelay, sleep } from "../http/backoff.ts";

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 6, baseDelayMs: 250, maxDelayMs: 30_000 };

/** How long to wait before retrying `err`, or undefined when it must not be retried. */
export function retryDelay(err: unknown, attempt: number, policy: RetryPolicy): number | undefined {
  if (!(err instanceof ConnectorError) || !isRetryableCode(err.code)) return undefined;
  if (attempt >= policy.attempts) return undefined;
  for (const d of err.details) {
    if (anyIs(d, RateLimitDescriptionSchema)) {
      const rl = anyUnpack(d, RateLimitDescriptionSchema);
      if (rl?.resetAt) {
        const wait = timestampDate(rl.resetAt).getTime() - Date.now();
        return Math.min(Math.max(wait, 0) + Math.random() * 100, policy.maxDelayMs);
      }
    }
  }
  return backoffDelay(attempt - 1, { baseMs: policy.baseDelayMs, maxMs: policy.maxDelayMs, jitter: "full" });
}

export async function withRetry<T>(
  fn: () => Promise<T>,
  opts: { policy?: RetryPolicy; signal?: AbortSignal; onRetry?: (err: unknown, delayMs: number) => void },
): Promise<T> {
  const policy = opts.policy ?? defaultRetryPolicy;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const delay = retryDelay(err, attempt, policy);
      if (delay === undefined) throw err;
      opts.onRetry?.(err, delay);
      await sleep(delay, opts.signal);
    }
  }
}
