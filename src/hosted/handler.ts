/**
 * The Lambda entry of the hosted runtime (HOSTED-LAMBDA.md §1.1): one nodejs24.x handler for every invocation,
 * over the invocation path of ./invocation.ts.
 *
 * Cold start happens on the first invocation, not at import (nodejs24.x gives the init phase 10 s, and a platform
 * outage at init would cost the whole sandbox); it is reused after. A cold start that fails fails that
 * invocation (a function error) and is tried again on the next one. The invocation path's modules start loading
 * when the handler is made (the init phase); the runtime's own (grpc-js, AWS signing) when it cold-starts.
 */
import type { Logger } from "pino";
import type { HostedConnectorDefinition } from "./definition.ts";
import type { StartedHosted } from "./invocation.ts";

function remainingOf(context: unknown): number {
  const fn = (context as { getRemainingTimeInMillis?: unknown } | null)?.getRemainingTimeInMillis;
  if (typeof fn !== "function") return Infinity;
  const ms = Number(fn.call(context));
  return Number.isFinite(ms) ? ms : Infinity;
}

/**
 * The nodejs24.x handler: `export const handler = createLambdaHandler(definition)`. Returns an object (the
 * runtime serialises it), never a pre-serialised string.
 */
export function createLambdaHandler<C>(
  def: HostedConnectorDefinition<C>,
  opts: { env?: NodeJS.ProcessEnv; logger?: Logger; fetch?: typeof fetch } = {},
): ((event: unknown, context: unknown) => Promise<unknown>) & { close(): Promise<void> } {
  // The invocation path's modules (codec, jose) load now, in the function's init phase; the cold start's
  // network work waits for the first invocation.
  const loading = import("./invocation.ts");
  loading.catch(() => undefined); // reported by the invocation that awaits it
  let started: Promise<StartedHosted> | undefined;
  const start = () => {
    started ??= loading
      .then(({ startHosted }) => startHosted(def, opts.env ?? process.env, { logger: opts.logger, fetch: opts.fetch }))
      .catch((err: unknown) => {
        started = undefined; // a failed cold start is tried again by the next invocation
        throw err;
      });
    return started;
  };
  const handler = async (event: unknown, context: unknown) => {
    const hosted = await start();
    return hosted.invoke(event, { remainingMs: remainingOf(context) });
  };
  return Object.assign(handler, {
    async close() {
      const s = started;
      started = undefined;
      if (s) await (await s.catch(() => undefined))?.close();
    },
  });
}

