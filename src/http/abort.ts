/**
 * The one abort race of the SDK: settles with `promise`, or rejects with the signal's reason as soon as the signal
 * fires, for work that does not watch a signal itself (a connector call, an SDK credential chain). The listener
 * is removed when the promise settles, so a long-lived signal does not collect one listener per call.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  const { promise: raced, resolve, reject } = Promise.withResolvers<T>();
  const onAbort = () => reject(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  return raced;
}

/** Both signals, or the one that is given (AbortSignal.any allocates; most calls have a single signal). */
export function eitherSignal(a: AbortSignal, b: AbortSignal | undefined): AbortSignal {
  return b ? AbortSignal.any([a, b]) : a;
}
