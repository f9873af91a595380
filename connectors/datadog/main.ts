/**
 * `baton-datadog`: the Datadog connector's CLI. The SDK runner owns flags, config, logging, inspection and exit
 * codes; this file only says how to build the connector and adds Datadog's own subcommands.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import {
  runConnectorCliMain,
  defineCommand,
  runServiceMode,
  serveCommand,
  UsageError,
  type ConnectorCliSpec,
  type RunContext,
  type WithConnectorRpc,
} from "../../src/index.ts";
import { field } from "../../src/index.ts";
import { createConnectorService } from "../../src/index.ts";
import { connectorCapabilities } from "../../src/index.ts";
import { parseByteSize } from "../../src/index.ts";
import { runSync } from "../../src/index.ts";
import { runOneShot, type OneShotOperation } from "../../src/index.ts";
import type { ProvisioningOperation } from "../../src/index.ts";
import { buildDatadog, datadogConnectorForCapabilities, DATADOG_SYNC_WORKERS, httpTimeoutMs, type BuiltDatadog } from "./build.ts";
import { DEMO_FILE, demoFileProblem, demoTarget } from "./demo.ts";
import type { ConnectorRpc } from "../../src/index.ts";
import { datadogConfig, type DatadogConfig } from "./config.ts";
import { diagnose, formatDiagnosis } from "./client/diagnose.ts";
import { resolveApiEndpoint } from "./client/sites.ts";
import { checkDelegatedAuth } from "./auth/check.ts";
import { delegatedAuthEnabled } from "./auth/config.ts";
import { serveSimulator, SIMULATE_FLAGS, simulatorOptions } from "./simulator/cli.ts";
import { startSimulator } from "./simulator/index.ts";
import pkg from "../../package.json" with { type: "json" };

type Ctx = RunContext<DatadogConfig>;

/** Builds the connector, hands its in-process RPC implementation to `fn`, and closes it afterwards. */
async function withBuilt<T>(
  config: DatadogConfig,
  logger: Logger,
  provisioning: boolean,
  fn: (built: BuiltDatadog, rpc: ConnectorRpc) => Promise<T>,
): Promise<T> {
  const built = await buildDatadog(config, logger);
  try {
    return await fn(built, createConnectorService(built.connector, { logger, provisioning }));
  } finally {
    await built.close();
  }
}

const withRpc: WithConnectorRpc<DatadogConfig> = (config, logger, provisioning, fn) =>
  withBuilt(config, logger, provisioning, (_built, rpc) => fn(rpc));

function oneShotOf(op: ProvisioningOperation): OneShotOperation {
  switch (op.kind) {
    case "grant":
      return op;
    case "revoke":
      return op;
    case "createAccount":
      if (!op.email) throw new Error("--create-account-email is required to create a Datadog user");
      return { kind: "create-account", email: op.email, login: op.login, profile: op.profile as JsonObject };
    case "deleteResource":
      return { kind: "delete-resource", resourceId: op.resourceId, resourceType: op.resourceType };
    case "rotateCredentials":
      return { kind: "rotate-credentials", resourceId: op.resourceId, resourceType: op.resourceType, printPlaintext: op.printPlaintext };
  }
}

const demo = defineCommand<DatadogConfig>()({
  name: "demo",
  description: `Start an embedded Datadog simulator, sync it to ${DEMO_FILE} (or a new --file) and print the summary`,
  flags: {
    users: field.int({ description: "Users in the simulated org", default: 200, min: 1, max: 200_000 }),
    seed: field.int({ description: "Seed of the simulated org", default: 1, min: 0 }),
  },
  async run(ctx) {
    const file = demoTarget(ctx.sdk.file, ctx.io.cwd);
    const problem = await demoFileProblem(file, ctx.logger);
    if (problem) throw new UsageError(problem);
    // The sync writes ctx.sdk.file; demo's own default keeps simulated data out of a real sync's sync.c1z.
    ctx.sdk.file = file;
    const sim = await startSimulator({ seed: ctx.options.seed, counts: { users: ctx.options.users } });
    try {
      ctx.io.stderr.write(`demo: simulated Datadog org at ${sim.baseUrl} (seed ${ctx.options.seed}, ${ctx.options.users} users), syncing to ${file}\n`);
      await ctx.runSync({
        apiKey: sim.apiKey,
        appKey: sim.appKey,
        baseUrl: sim.baseUrl,
        syncSchedules: true,
        syncSecrets: true,
        delegatedAuthOrgUuid: undefined,
      });
      return 0;
    } finally {
      await sim.close();
    }
  },
});

const simulate = defineCommand<DatadogConfig>()({
  name: "simulate",
  description: "Serve a simulated Datadog API on loopback until stopped (prints {baseUrl, apiKey, appKey} first)",
  flags: SIMULATE_FLAGS,
  async run(ctx) {
    await serveSimulator(simulatorOptions(ctx.options), ctx.io.stdout, ctx.signal);
  },
});

const check = defineCommand<DatadogConfig>()({
  name: "check",
  description: "Test the connection to Datadog and report precisely what is wrong (DNS, TLS, proxy, keys, permissions; with -p also the write permissions)",
  async run(ctx) {
    const config = ctx.loadConfig();
    let ok = true;
    if (delegatedAuthEnabled(config)) {
      const endpoint = resolveApiEndpoint({ site: config.site, baseUrl: config.baseUrl });
      const stages = await checkDelegatedAuth({
        orgUuid: config.delegatedAuthOrgUuid!,
        apiBaseUrl: endpoint.baseUrl,
        explicitBaseUrl: config.baseUrl,
        region: config.awsRegion,
        timeoutMs: httpTimeoutMs(config),
      });
      for (const s of stages) {
        ctx.io.stdout.write(`${s.ok ? "ok  " : "FAIL"} ${s.stage}: ${s.detail}\n`);
        ok &&= s.ok;
      }
      if (!ok) return 1;
    }
    // check reports every failure in its verdict; retry warnings before it would only be noise.
    const built = await buildDatadog(config, ctx.logger, { retryWarnings: false });
    try {
      // With delegated auth there is no API key in use; diagnose skips the key check by itself.
      const result = await diagnose(built.client, {
        syncSchedules: config.syncSchedules,
        syncSecrets: config.syncSecrets,
        provisioning: ctx.sdk.provisioning,
      });
      ctx.io.stdout.write(formatDiagnosis(result) + "\n");
      return result.ok && ok ? 0 : 1;
    } finally {
      await built.close();
    }
  },
});

export const datadogCli: ConnectorCliSpec<typeof datadogConfig> = {
  name: "baton-datadog",
  version: pkg.version,
  description: "Baton connector for Datadog: users, roles, teams, on-call schedules, API and application keys",
  config: datadogConfig,
  configMeta: { displayName: "Datadog", helpUrl: "https://docs.datadoghq.com/account_management/" },
  run: {
    async sync(ctx: Ctx) {
      return withBuilt(ctx.config, ctx.logger, false, async (built, rpc) => {
        ctx.progress.setRequestSource(() => built.metrics.requests);
        return runSync({
          connector: rpc,
          file: ctx.sdk.file,
          maxDecodedBytes: parseByteSize(ctx.sdk.maxC1zDecodedSize),
          logger: ctx.logger,
          signal: ctx.signal,
          onProgress: ctx.progress.onProgress,
          concurrency: DATADOG_SYNC_WORKERS,
          ...ctx.syncScope,
        });
      });
    },
    async provision(op, ctx: Ctx) {
      await withRpc(ctx.config, ctx.logger, ctx.sdk.provisioning, async (rpc) => {
        const result = await runOneShot(oneShotOf(op), { rpc, file: ctx.sdk.file, logger: ctx.logger, signal: ctx.signal });
        ctx.io.stdout.write(result.summary + "\n");
        if (result.plaintext !== undefined) ctx.io.stdout.write(result.plaintext + "\n");
        else ctx.io.stdout.write(JSON.stringify(result.result, null, 2) + "\n");
      });
    },
    async service(ctx: Ctx) {
      await withRpc(ctx.config, ctx.logger, ctx.sdk.provisioning, (rpc) => runServiceMode(rpc, ctx));
    },
    capabilities(ctx) {
      return connectorCapabilities(datadogConnectorForCapabilities(ctx.logger));
    },
  },
  commands: [demo, simulate, check, serveCommand(withRpc)],
};

export async function main(argv: string[]): Promise<void> {
  process.argv = [process.argv[0], process.argv[1], ...argv];
  await runConnectorCliMain(datadogCli);
}
