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
  // Woken by any completion. Promise.race over the running set would add a reaction to every running promise
  // at each wait, kept until that promise settles: thousands of them with 64 long chains of pages in flight.
  let wake: (() => void) | undefined;
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
        .finally(() => {
          inFlight.delete(run);
          wake?.();
        });
      inFlight.add(run);
      continue;
    }
    if (inFlight.size === 0) break;
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
  await Promise.all(inFlight);
  if (failure) throw failure.error;
}
