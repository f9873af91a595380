/**
 * End to end: a full sync of the simulator with delegated auth only (no static keys), built the way every run
 * builds it (datadogConfig → buildDatadog → createConnectorService → runSync), in a child process whose AWS
 * credentials come from the standard chain (environment variables). Tokens live ~2 s and the simulator answers
 * slowly, so the token expires several times during the sync. The result must equal a static-key sync of the
 * same seed, every refresh must have been single-flight, and nothing secret may reach the child's output.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConnectorService } from "../../src/connector/service.ts";
import { runSync } from "../../src/sync/engine.ts";
import { buildDatadog } from "../../connectors/datadog/build.ts";
import { datadogConfig } from "../../connectors/datadog/config.ts";
import { startSimulator, type OrgCounts, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { installDelegatedTokenRoute, type DelegatedTokenStats } from "../../connectors/datadog/simulator/delegated-token.ts";
import { c1zRows } from "../helpers/c1z-rows.ts";
import { silentLogger } from "../helpers/logger.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { type ChildRun, runProcess } from "../helpers/child-process.ts";
import { expectNoSecrets, TEST_AWS } from "./sim-helpers.ts";

const SEED = 61;
const COUNTS: Partial<OrgCounts> = { users: 450, roles: 8, teams: 10, schedules: 4, apiKeys: 5, appKeys: 5, serviceAccounts: 3 };
const TOKEN_TTL_SECONDS = 2;
/**
 * Each answer (exchanges included) waits this long. More than a dozen requests of the sync depend on each other,
 * so the sync lasts at least ~6.5 s on any machine (slower machines: longer), while one token covers at most
 * TTL + one exchange ≈ 2.5 s of it: at least three tokens are needed. Requests still in flight when their token
 * expires meet a 401 and go through the refresh-and-retry-once path as well.
 */
const LATENCY_MS = 500;

const repo = resolve(import.meta.dirname, "../..");
const nodeBin = existsSync(join(repo, "node_modules/.bin/node")) ? join(repo, "node_modules/.bin/node") : process.execPath;
const moduleUrl = (path: string) => pathToFileURL(join(repo, path)).href;

/** The child: the production build path, an unredacted debug logger on stderr, one JSON line of counters on stdout. */
const CHILD_SCRIPT = `
const m = JSON.parse(process.env.E2E_MODULES);
const { pino } = await import(m.pino);
const { buildDatadog } = await import(m.build);
const { datadogConfig } = await import(m.config);
const { createConnectorService } = await import(m.service);
const { runSync } = await import(m.engine);
const logger = pino({ level: "debug", base: null }, pino.destination({ fd: 2, sync: true }));
const config = datadogConfig.schema.parse({
  delegatedAuthOrgUuid: process.env.E2E_ORG_UUID,
  baseUrl: process.env.E2E_BASE_URL,
  syncSchedules: true,
  syncSecrets: true,
  site: "US1",
  delegatedAuthProvider: "aws",
});
const built = await buildDatadog(config, logger);
try {
  const rpc = createConnectorService(built.connector, { logger, provisioning: false });
  const result = await runSync({ connector: rpc, file: process.env.E2E_FILE, logger });
  const m2 = built.metrics;
  process.stdout.write(JSON.stringify({
    provider: built.client.credentials.stats(),
    describe: built.client.credentials.describe(),
    http: { requests: m2.requests, retries: m2.retries, failures: m2.failures },
    sync: { durationMs: result.durationMs, warnings: result.warnings, resources: result.stats.resources, grants: result.stats.grants },
  }) + "\\n");
} finally {
  await built.close();
}
`;

interface ChildReport {
  provider: { exchanges: number; failedExchanges: number; generation: number; maxConcurrentExchanges: number; usingFallback: boolean };
  describe: string;
  http: { requests: number; retries: number; failures: number };
  sync: { durationMs: number; warnings: string[]; resources: number; grants: number };
}

function runChild(env: Record<string, string>, cwd: string): Promise<ChildRun> {
  // Nothing from this process's environment but PATH: the AWS chain sees exactly what the test sets.
  return runProcess(nodeBin, ["--input-type=module", "-e", CHILD_SCRIPT], { cwd, env: { PATH: process.env.PATH ?? "", ...env } });
}

const tempDir = tempDirs("all");
let dir: string;
let delegatedSim: Simulator;
let referenceSim: Simulator;
let dt: DelegatedTokenStats;
let run: ChildRun;
let report: ChildReport;
let referenceFile: string;
let delegatedFile: string;

beforeAll(async () => {
  dir = tempDir("baton-dd-e2e-sync-");
  referenceFile = join(dir, "static-keys.c1z");
  delegatedFile = join(dir, "delegated.c1z");

  // Reference: static keys against a simulator of the same seed, no latency (nothing to expire).
  referenceSim = await startSimulator({ seed: SEED, counts: COUNTS });
  const logger = silentLogger();
  const staticConfig = datadogConfig.schema.parse({
    apiKey: referenceSim.apiKey,
    appKey: referenceSim.appKey,
    baseUrl: referenceSim.baseUrl,
    syncSchedules: true,
    syncSecrets: true,
    site: "US1",
    delegatedAuthProvider: "aws",
  });
  const built = await buildDatadog(staticConfig, logger);
  try {
    await runSync({ connector: createConnectorService(built.connector, { logger, provisioning: false }), file: referenceFile, logger });
  } finally {
    await built.close();
  }

  delegatedSim = await startSimulator({ seed: SEED, counts: COUNTS, latencyMs: LATENCY_MS });
  dt = installDelegatedTokenRoute(delegatedSim, {
    awsAccessKeyId: TEST_AWS.accessKeyId,
    awsSecretAccessKey: TEST_AWS.secretAccessKey,
    awsSessionToken: TEST_AWS.sessionToken,
    tokenTtlSeconds: TOKEN_TTL_SECONDS,
  });
  run = await runChild(
    {
      HOME: dir,
      AWS_ACCESS_KEY_ID: TEST_AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_AWS.secretAccessKey,
      AWS_SESSION_TOKEN: TEST_AWS.sessionToken,
      // No shared config files and no instance metadata: the environment is the only source.
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-credentials"),
      AWS_CONFIG_FILE: join(dir, "no-config"),
      AWS_EC2_METADATA_DISABLED: "true",
      E2E_MODULES: JSON.stringify({
        pino: import.meta.resolve("pino"),
        build: moduleUrl("connectors/datadog/build.ts"),
        config: moduleUrl("connectors/datadog/config.ts"),
        service: moduleUrl("src/connector/service.ts"),
        engine: moduleUrl("src/sync/engine.ts"),
      }),
      E2E_ORG_UUID: delegatedSim.orgUuid,
      E2E_BASE_URL: delegatedSim.baseUrl,
      E2E_FILE: delegatedFile,
    },
    dir,
  );
  expect(run.code, `child failed:\n${run.stderr.slice(-4000)}`).toBe(0);
  report = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as ChildReport;
});

afterAll(async () => {
  await delegatedSim?.close();
  await referenceSim?.close();
});

describe("full sync with delegated auth only, the token expiring several times", () => {
  it("used delegated auth throughout and recovered every 401 with one refresh and one retry", () => {
    expect(report.describe).toMatch(/^delegated auth via AWS identity/);
    expect(report.provider.usingFallback).toBe(false);
    expect(report.http.failures).toBe(0);
    expect(report.sync.warnings).toEqual([]);
    // A request whose token expired while the simulator held it answers 401; each such 401 was retried once (and
    // the retry succeeded: no failures), and nothing else needed a retry.
    expect(report.http.retries).toBe(delegatedSim.stats.byStatus[401] ?? 0);
  });

  it("refreshed the token several times, each refresh single-flight", () => {
    const p = report.provider;
    // Several expiries within one sync.
    expect(p.generation).toBeGreaterThanOrEqual(3);
    // Never two exchanges at once: neither as the connector counts nor as the simulator saw them.
    expect(p.maxConcurrentExchanges).toBe(1);
    expect(dt.maxInFlight).toBe(1);
    // Every exchange was needed and produced the token in use: exchanges = accepted = tokens issued = generations.
    expect(p.failedExchanges).toBe(0);
    expect(dt.refused).toBe(0);
    expect(p.exchanges).toBe(dt.accepted);
    expect(dt.issuedTokens).toHaveLength(dt.accepted);
    expect(p.generation).toBe(p.exchanges);
    // Waiting requests joined the one exchange instead of each starting their own.
    expect(p.exchanges).toBeLessThan(report.http.requests / 4);
  });

  it("stored the same contents as a static-key sync of the same seed", async () => {
    const reference = await c1zRows(referenceFile);
    const delegated = await c1zRows(delegatedFile);
    expect(reference.rows.length).toBeGreaterThan(COUNTS.users!);
    expect(delegated.rows.length).toBe(reference.rows.length);
    expect(delegated.rows).toEqual(reference.rows);
  });

  it("wrote none of the proofs, tokens or AWS secrets to the child's output", () => {
    expect(run.stderr).toMatch(/delegated_auth_token/); // the debug log really was captured
    expectNoSecrets(run.stdout + run.stderr, [
      ...dt.receivedProofs,
      ...dt.issuedTokens,
      TEST_AWS.secretAccessKey,
      TEST_AWS.sessionToken,
    ]);
  });
});
