/**
 * Runs independent actions with bounded concurrency. Items come from `next()`, which may return more items
 * after a running action completes (listing a parent discovers its children), so the pool ends only when
 * nothing is queued and nothing is running. The first failure stops new work; running work is awaited.
 */
import pLimit from "p-limit";

export async function drain<T>(
  next: () => T | undefined,
  concurrency: number,
  worker: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const limit = pLimit(concurrency);
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  for (;;) {
    if (failure) break;
    if (signal?.aborted) {
      failure = { error: signal.reason ?? new Error("aborted") };
      break;
    }
    const item = inFlight.size < concurrency ? next() : undefined;
    if (item !== undefined) {
      const run: Promise<void> = limit(() => worker(item))
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => inFlight.delete(run));
      inFlight.add(run);
      continue;
    }
    if (inFlight.size === 0) break;
    await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure) throw failure.error;
}
