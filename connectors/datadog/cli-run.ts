/**
 * What the `baton-datadog` commands declared in main.ts do. main.ts loads this module when a command runs (a sync
 * through cli-sync.ts, which sends its first request before this module loads), so
 * `--version`, `--help` and usage errors never load the connector, the sync engine, undici or the generated
 * messages; each mode then loads only what it uses (service mode's platform client, the gRPC server, the AWS
 * SDK for delegated auth are imported further down, where they are needed).
 */
import type { JsonObject } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import {
  runServiceMode,
  UsageError,
  type CommandContext,
  type RunContext,
  type WithConnectorRpc,
} from "../../src/index.ts";
import { createConnectorService } from "../../src/index.ts";
import { connectorCapabilities } from "../../src/index.ts";
import { parseByteSize } from "../../src/index.ts";
import { runSync } from "../../src/index.ts";
import { runOneShot, type OneShotOperation } from "../../src/index.ts";
import type { ProvisioningOperation } from "../../src/index.ts";
import type { ConnectorCapabilities } from "../../src/messages.ts";
import { buildDatadog, datadogConnectorForCapabilities, DATADOG_SYNC_WORKERS, httpTimeoutMs, type BuiltDatadog, type OpenedDatadog } from "./build.ts";
import { demoFileProblem, demoTarget } from "./demo.ts";
import type { ConnectorRpc } from "../../src/index.ts";
import type { DatadogConfig } from "./config.ts";
import { diagnose, formatDiagnosis } from "./client/diagnose.ts";
import { resolveApiEndpoint } from "./client/sites.ts";
import { delegatedAuthEnabled } from "./auth/config.ts";
import type { SimulateValues } from "./simulator/cli.ts";

type Ctx = RunContext<DatadogConfig>;

/** Builds the connector, hands its in-process RPC implementation to `fn`, and closes it afterwards. */
async function withBuilt<T>(
  config: DatadogConfig,
  logger: Logger,
  provisioning: boolean,
  fn: (built: BuiltDatadog, rpc: ConnectorRpc) => Promise<T>,
  opened?: OpenedDatadog,
): Promise<T> {
  const built = await buildDatadog(config, logger, {}, opened);
  try {
    return await fn(built, createConnectorService(built.connector, { logger, provisioning }));
  } finally {
    await built.close();
  }
}

export const withRpc: WithConnectorRpc<DatadogConfig> = (config, logger, provisioning, fn) =>
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

/** The sync on the connection cli-sync.ts opened (and whose first request it sent). */
export async function sync(ctx: Ctx, opened: OpenedDatadog) {
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
  }, opened);
}

export async function provision(op: ProvisioningOperation, ctx: Ctx): Promise<void> {
  await withRpc(ctx.config, ctx.logger, ctx.sdk.provisioning, async (rpc) => {
    const result = await runOneShot(oneShotOf(op), { rpc, file: ctx.sdk.file, logger: ctx.logger, signal: ctx.signal });
    ctx.io.stdout.write(result.summary + "\n");
    if (result.plaintext !== undefined) ctx.io.stdout.write(result.plaintext + "\n");
    else ctx.io.stdout.write(JSON.stringify(result.result, null, 2) + "\n");
  });
}

export async function service(ctx: Ctx): Promise<void> {
  await withRpc(ctx.config, ctx.logger, ctx.sdk.provisioning, (rpc) => runServiceMode(rpc, ctx));
}

export function capabilities(logger: Logger): ConnectorCapabilities {
  return connectorCapabilities(datadogConnectorForCapabilities(logger));
}

export async function demo(ctx: CommandContext<DatadogConfig, { users: number; seed: number }>): Promise<number> {
  const file = demoTarget(ctx.sdk.file, ctx.io.cwd);
  const problem = await demoFileProblem(file, ctx.logger);
  if (problem) throw new UsageError(problem);
  // The sync writes ctx.sdk.file; demo's own default keeps simulated data out of a real sync's sync.c1z.
  ctx.sdk.file = file;
  // The simulator (its org generator, routes and server) loads for demo and simulate only, never with a sync.
  const { startSimulator } = await import("./simulator/index.ts");
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
}

export async function simulate(ctx: CommandContext<DatadogConfig, SimulateValues>): Promise<void> {
  const { serveSimulator, simulatorOptions } = await import("./simulator/cli.ts");
  await serveSimulator(simulatorOptions(ctx.options), ctx.io.stdout, ctx.signal);
}

export async function check(ctx: CommandContext<DatadogConfig>): Promise<number> {
  const config = ctx.loadConfig();
  let ok = true;
  if (delegatedAuthEnabled(config)) {
    // The AWS SDK loads with delegated auth's check only.
    const { checkDelegatedAuth } = await import("./auth/check.ts");
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
      syncSecurityInsights: config.syncSecurityInsights,
      // check says whether SAML AuthN mappings are in force (a revoke of what they grant does not last).
      ssoMappings: true,
      provisioning: ctx.sdk.provisioning,
    });
    ctx.io.stdout.write(formatDiagnosis(result) + "\n");
    return result.ok && ok ? 0 : 1;
  } finally {
    await built.close();
  }
}
