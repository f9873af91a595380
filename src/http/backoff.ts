/** Waiting helpers: jittered exponential backoff, Retry-After parsing, and an abortable sleep. */

export interface BackoffPolicy {
  /** First retry waits up to this long (ms). */
  baseMs: number;
  /** No single wait is longer than this (ms). */
  maxMs: number;
  /** "equal" (default): half fixed, half random; "full": anywhere from 0 (a Go engine's retry of connector calls). */
  jitter?: "equal" | "full";
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 15_000 };

/**
 * "Equal jitter": half of the exponential delay is fixed, half random, so retries from many clients spread out
 * but none of them retries almost immediately. `attempt` is 0 for the first retry.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  if (policy.jitter === "full") return random() * exp;
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** Parses Retry-After (delta seconds or an HTTP date) into milliseconds from `now`; undefined when absent/invalid. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number.parseFloat(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
