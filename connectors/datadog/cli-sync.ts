/**
 * The one-shot sync command's first steps. It opens the API connection (build-client.ts) and, with static keys,
 * sends Validate's first request, the API key check, before it loads the connector's resource types and the SDK's
 * sync engine, store and generated messages (cli-run.ts), which then load while that request is in flight; the
 * sync's Validate takes its answer (client/connection.ts). With delegated auth the first request is the token
 * exchange, which opening the connection makes. Issue 14: time from start to the first request. It also sets the
 * launcher's V8 flags (launcher-flags.ts) only then, so that the built-ins of that path load from Node's code cache.
 */
import type { RunContext } from "../../src/runner.ts";
import { delegatedAuthEnabled } from "./auth/config.ts";
import { openDatadog } from "./build-client.ts";
import type { DatadogConfig } from "./config.ts";
import { setLauncherFlags } from "./launcher-flags.ts";

export async function sync(ctx: RunContext<DatadogConfig>) {
  const delegated = delegatedAuthEnabled(ctx.config);
  // The launcher's V8 flags (launcher-flags.ts): before the first connection, for --liftoff-only must be set before
  // undici compiles its HTTP parser; with static keys once the modules of the first request's path have loaded.
  if (delegated) setLauncherFlags();
  const opened = await openDatadog(ctx.config, ctx.logger);
  let run: typeof import("./cli-run.ts");
  try {
    // Node loads modules synchronously: the check must be on the wire before the rest loads, or it waits for it.
    const sent = delegated ? undefined : opened.connection.startApiKeyCheck(ctx.signal);
    // Dispatched, not yet connected: undici connects in a later turn of the event loop.
    setLauncherFlags();
    await sent;
    run = await import("./cli-run.ts");
  } catch (err) {
    await opened.close();
    throw err;
  }
  return run.sync(ctx, opened);
}
