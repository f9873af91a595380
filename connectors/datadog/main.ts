/**
 * `baton-datadog`: the Datadog connector's CLI. The SDK runner owns flags, config, logging, inspection and exit
 * codes; this file only declares the connector's config and its own subcommands.
 *
 * Declarations only: importing this file loads the SDK's light entry point (src/runner.ts), the config and the
 * commands' flags, so `--version` and `--help` answer without loading the connector. What each command does is
 * in cli-run.ts, imported when one runs.
 */
import { runConnectorCliMain, defineCommand, lambdaCommand, serveCommand, type ConnectorCliSpec, type WithConnectorRpc } from "../../src/runner.ts";
import { field } from "../../src/runner.ts";
import { DEMO_FILE } from "./demo.ts";
import { datadogConfig, type DatadogConfig } from "./config.ts";
import { SIMULATE_FLAGS } from "./simulator/cli.ts";
import { setLauncherFlags } from "./launcher-flags.ts";
import pkg from "../../package.json" with { type: "json" };

/**
 * The commands' bodies; the first call loads them (and through them the SDK, the connector and its client), with
 * the launcher's V8 flags set first. The one-shot sync is the exception: cli-sync.ts sets them once its first
 * request is on its way.
 */
const run = () => {
  setLauncherFlags();
  return import("./cli-run.ts");
};

const hosted = async () => {
  setLauncherFlags();
  return (await import("./hosted.ts")).datadogHosted;
};

const withRpc: WithConnectorRpc<DatadogConfig> = async (config, logger, provisioning, fn) => (await run()).withRpc(config, logger, provisioning, fn);

const demo = defineCommand<DatadogConfig>()({
  name: "demo",
  description: `Start an embedded Datadog simulator, sync it to ${DEMO_FILE} (or a new --file) and print the summary`,
  flags: {
    users: field.int({ description: "Users in the simulated org", default: 200, min: 1, max: 200_000 }),
    seed: field.int({ description: "Seed of the simulated org", default: 1, min: 0 }),
  },
  run: async (ctx) => (await run()).demo(ctx),
});

const simulate = defineCommand<DatadogConfig>()({
  name: "simulate",
  description: "Serve a simulated Datadog API on loopback until stopped (prints {baseUrl, apiKey, appKey} first)",
  flags: SIMULATE_FLAGS,
  run: async (ctx) => (await run()).simulate(ctx),
});

const check = defineCommand<DatadogConfig>()({
  name: "check",
  description: "Test the connection to Datadog and report precisely what is wrong (DNS, TLS, proxy, keys, permissions; with -p also the write permissions)",
  run: async (ctx) => (await run()).check(ctx),
});

export const datadogCli: ConnectorCliSpec<typeof datadogConfig> = {
  name: "baton-datadog",
  version: pkg.version,
  description: "Baton connector for Datadog: users, roles, teams, on-call schedules, API and application keys",
  config: datadogConfig,
  configMeta: { displayName: "Datadog", helpUrl: "https://docs.datadoghq.com/account_management/" },
  run: {
    // Its own module, which sends the sync's first request before it loads cli-run.ts.
    sync: async (ctx) => (await import("./cli-sync.ts")).sync(ctx),
    provision: async (op, ctx) => (await run()).provision(op, ctx),
    service: async (ctx) => (await run()).service(ctx),
    capabilities: async (ctx) => (await run()).capabilities(ctx.logger),
    // --list-action-schemas, --invoke-action, --event-feed
    withRpc,
  },
  commands: [demo, simulate, check, serveCommand(withRpc), lambdaCommand(hosted)],
};

export async function main(argv: string[]): Promise<void> {
  process.argv = [process.argv[0], process.argv[1], ...argv];
  await runConnectorCliMain(datadogCli);
}
