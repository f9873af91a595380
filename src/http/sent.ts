/**
 * Waiting for a request to leave: undici publishes every request's headers on the `undici:client:sendHeaders`
 * diagnostics channel just before it writes them to the socket. A caller that is about to keep the event loop busy
 * for a while (loading the rest of a program, which Node does synchronously) waits for that first, so that a
 * request it has started goes out and its round trip overlaps the work instead of following it.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";

const SEND_HEADERS = "undici:client:sendHeaders";

function originOf(value: unknown): string | undefined {
  try {
    return typeof value === "string" || value instanceof URL ? new URL(value).origin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resolves when a request to `origin` (any request, of any client in the process) has its headers written, after
 * `maxWaitMs`, or when `signal` aborts (the caller stopped waiting: no timer is left behind), whichever comes first.
 * Never rejects.
 */
export function whenSentTo(origin: string, maxWaitMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onSend = (message: unknown) => {
      if (originOf((message as { request?: { origin?: unknown } } | undefined)?.request?.origin) === origin) done();
    };
    const done = () => {
      clearTimeout(timer);
      unsubscribe(SEND_HEADERS, onSend);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, maxWaitMs);
    subscribe(SEND_HEADERS, onSend);
    signal?.addEventListener("abort", done, { once: true });
  });
}
