/**
 * End to end through the real CLI (`node bin/baton-datadog.js` as a child process), with delegated auth turned on
 * by BATON_DELEGATED_AUTH_ORG_UUID and AWS credentials from the environment:
 * - sync with a good AWS identity;
 * - the exchange refused at start (wrong AWS secret) with static keys configured: one clear warning, fallback,
 *   exit 0, a complete file; without static keys: an error naming Datadog's refusal, exit 1, no file;
 * - `check`: every stage reported, exit 0; a refused proof names the failing stage and exits 1;
 * - none of the proofs, tokens, AWS secrets or static keys in any captured output.
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConnectorService } from "../../src/connector/service.ts";
import { runSync } from "../../src/sync/engine.ts";
import { buildDatadog } from "../../connectors/datadog/build.ts";
import { datadogConfig } from "../../connectors/datadog/config.ts";
import { startSimulator, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { installDelegatedTokenRoute, type DelegatedTokenStats } from "../../connectors/datadog/simulator/delegated-token.ts";
import { c1zRows } from "../helpers/c1z-rows.ts";
import { silentLogger } from "../helpers/logger.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { type ChildRun as CliRun, runProcess } from "../helpers/child-process.ts";
import { expectNoSecrets, TEST_AWS } from "./sim-helpers.ts";

const COUNTS = { users: 40, roles: 5, teams: 4, schedules: 2, apiKeys: 3, appKeys: 3, serviceAccounts: 2 };
/** Not the secret the simulator trusts: the proof it signs is refused (SignatureDoesNotMatch). */
const WRONG_AWS_SECRET = "wrong/Secret+AccessKey9876543210zyxwvutsrq";
const DATADOG_REFUSAL = "AWS rejected the proof: SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided";

const repo = resolve(import.meta.dirname, "../..");
const nodeBin = existsSync(join(repo, "node_modules/.bin/node")) ? join(repo, "node_modules/.bin/node") : process.execPath;
const cliEntry = join(repo, "bin/baton-datadog.js");

const tempDir = tempDirs("all");
let dir: string;
let sim: Simulator;
let dt: DelegatedTokenStats;
let referenceRows: string[];
/** Every run's output, for the leak check at the end. */
const outputs: CliRun[] = [];

async function runCli(args: string[], env: Record<string, string>, cwd: string): Promise<CliRun> {
  // Only PATH from this process: no stray AWS_* or BATON_* settings reach the CLI.
  const run = await runProcess(nodeBin, [cliEntry, ...args], { cwd, env: { PATH: process.env.PATH ?? "", ...env } });
  outputs.push(run);
  return run;
}

/** Delegated auth on, AWS credentials only from the environment (no shared files, no instance metadata). */
function delegatedEnv(awsSecret: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOME: dir,
    AWS_ACCESS_KEY_ID: TEST_AWS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: awsSecret,
    AWS_SESSION_TOKEN: TEST_AWS.sessionToken,
    AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-credentials"),
    AWS_CONFIG_FILE: join(dir, "no-config"),
    AWS_EC2_METADATA_DISABLED: "true",
    BATON_DELEGATED_AUTH_ORG_UUID: sim.orgUuid,
    BATON_BASE_URL: sim.baseUrl,
    BATON_SYNC_SCHEDULES: "true",
    BATON_SYNC_SECRETS: "true",
    // The most verbose level: the leak check covers everything the CLI can log.
    BATON_LOG_LEVEL: "debug",
    BATON_LOG_FORMAT: "json",
    ...extra,
  };
}

/** A fresh directory per run, so "no file" also means "nothing left behind". */
function runDir(name: string): string {
  const d = join(dir, name);
  mkdirSync(d);
  return d;
}

function logLines(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** What the simulator's exchange endpoint saw during `fn`. */
async function exchangesDuring<T>(fn: () => Promise<T>): Promise<{ result: T; accepted: number; refused: number }> {
  const before = { accepted: dt.accepted, refused: dt.refused };
  const result = await fn();
  return { result, accepted: dt.accepted - before.accepted, refused: dt.refused - before.refused };
}

const explain = (run: CliRun) => `exit ${run.code}\n--- stdout\n${run.stdout.slice(-3000)}\n--- stderr\n${run.stderr.slice(-3000)}`;

beforeAll(async () => {
  dir = tempDir("baton-dd-e2e-cli-");
  sim = await startSimulator({ seed: 71, counts: COUNTS });
  dt = installDelegatedTokenRoute(sim, {
    awsAccessKeyId: TEST_AWS.accessKeyId,
    awsSecretAccessKey: TEST_AWS.secretAccessKey,
    awsSessionToken: TEST_AWS.sessionToken,
  });
  // What a complete file holds: a static-key sync of the same org with the same options.
  const logger = silentLogger();
  const built = await buildDatadog(
    datadogConfig.schema.parse({
      apiKey: sim.apiKey,
      appKey: sim.appKey,
      baseUrl: sim.baseUrl,
      syncSchedules: true,
      syncSecrets: true,
      site: "US1",
      delegatedAuthProvider: "aws",
    }),
    logger,
  );
  const referenceFile = join(dir, "reference.c1z");
  try {
    await runSync({ connector: createConnectorService(built.connector, { logger, provisioning: false }), file: referenceFile, logger });
  } finally {
    await built.close();
  }
  referenceRows = (await c1zRows(referenceFile)).rows;
});

afterAll(async () => {
  await sim?.close();
});

describe("baton-datadog sync with delegated auth (child process)", () => {
  it("syncs with the AWS identity alone and exits 0", async () => {
    const cwd = runDir("good");
    const file = join(cwd, "out.c1z");
    const { result: run, accepted, refused } = await exchangesDuring(() =>
      runCli(["-f", file], delegatedEnv(TEST_AWS.secretAccessKey), cwd),
    );
    expect(run.code, explain(run)).toBe(0);
    expect(accepted).toBe(1);
    expect(refused).toBe(0);
    expect(run.stderr).not.toMatch(/fall(ing)? ?back/i);
    expect((await c1zRows(file)).rows).toEqual(referenceRows);
  });

  it("falls back to the static keys when the exchange is refused at start, says so once, exits 0 with a complete file", async () => {
    const cwd = runDir("with-static-keys");
    const file = join(cwd, "out.c1z");
    const { result: run, accepted, refused } = await exchangesDuring(() =>
      runCli(["-f", file], delegatedEnv(WRONG_AWS_SECRET, { BATON_API_KEY: sim.apiKey, BATON_APP_KEY: sim.appKey }), cwd),
    );
    expect(run.code, explain(run)).toBe(0);
    // One exchange, refused; no retries once the keys are in use.
    expect(refused).toBe(1);
    expect(accepted).toBe(0);

    const lines = run.stderr.split("\n");
    const mentions = lines.filter((l) => /fall(ing)? ?back/i.test(l));
    expect(mentions, explain(run)).toHaveLength(1);
    const warnings = logLines(run.stderr).filter((l) => l.level === "warn" || l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      event: "delegated_auth_fallback",
      org: sim.orgUuid,
      msg: expect.stringMatching(/falling back to the configured static API and application keys/),
      reason: expect.stringContaining(DATADOG_REFUSAL),
    });

    expect((await c1zRows(file)).rows).toEqual(referenceRows);
  });

  it("without static keys: a clear error with Datadog's refusal, exit 1, no file", async () => {
    const cwd = runDir("no-keys");
    const file = join(cwd, "out.c1z");
    const { result: run, accepted, refused } = await exchangesDuring(() => runCli(["-f", file], delegatedEnv(WRONG_AWS_SECRET), cwd));
    expect(run.code, explain(run)).toBe(1);
    expect(refused).toBe(1);
    expect(accepted).toBe(0);
    // The one line meant for the operator (the debug log before it carries the same text with a stack).
    const errorLines = run.stderr.split("\n").filter((l) => l.startsWith("baton-datadog: error:"));
    expect(errorLines, explain(run)).toHaveLength(1);
    expect(errorLines[0]).toContain(
      "delegated auth: could not get a Datadog access token and no static API/application keys are configured to fall back to",
    );
    expect(errorLines[0]).toContain(`Datadog refused the token exchange with HTTP 403: ${DATADOG_REFUSAL}`);
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe("baton-datadog check with delegated auth (child process)", () => {
  const stageLines = (stdout: string) =>
    stdout
      .split("\n")
      .map((l) => /^(ok  |FAIL) (aws-credentials|proof|exchange|token-works): (.*)$/.exec(l))
      .filter((m) => m !== null)
      .map((m) => ({ ok: m[1] === "ok  ", stage: m[2], detail: m[3]! }));

  it("reports every stage and exits 0 when the identity is good", async () => {
    const cwd = runDir("check-good");
    const run = await runCli(["check"], delegatedEnv(TEST_AWS.secretAccessKey), cwd);
    expect(run.code, explain(run)).toBe(0);
    const stages = stageLines(run.stdout);
    expect(stages.map((s) => [s.stage, s.ok])).toEqual([
      ["aws-credentials", true],
      ["proof", true],
      ["exchange", true],
      ["token-works", true],
    ]);
    expect(stages[0]!.detail).toMatch(/^found temporary credentials from environment variables \(AWS_ACCESS_KEY_ID/);
    expect(stages[1]!.detail).toMatch(/signed STS GetCallerIdentity .*x-ddog-org-id/);
    expect(stages[2]!.detail).toContain(`Datadog accepted the proof for org ${sim.orgUuid}`);
    expect(stages[3]!.detail).toMatch(/succeeded with the access token/);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("names the failing stage with Datadog's error text and exits 1 when the proof is refused", async () => {
    const cwd = runDir("check-refused");
    const { result: run, accepted, refused } = await exchangesDuring(() => runCli(["check"], delegatedEnv(WRONG_AWS_SECRET), cwd));
    expect(run.code, explain(run)).toBe(1);
    expect(accepted).toBe(0);
    expect(refused).toBe(1);
    const stages = stageLines(run.stdout);
    expect(stages.map((s) => [s.stage, s.ok])).toEqual([
      ["aws-credentials", true],
      ["proof", true],
      ["exchange", false],
      ["token-works", false],
    ]);
    expect(stages[2]!.detail).toContain(`Datadog refused the token exchange with HTTP 403: ${DATADOG_REFUSAL}`);
    expect(stages[3]!.detail).toBe("skipped: the exchange stage failed");
  });
});

describe("captured output of every run above", () => {
  it("contains none of the proofs, tokens, AWS secrets, session token or static keys", () => {
    expect(outputs).toHaveLength(5);
    expect(dt.receivedProofs.length).toBeGreaterThanOrEqual(5);
    expect(dt.issuedTokens.length).toBeGreaterThanOrEqual(2);
    const text = outputs.map((o) => o.stdout + o.stderr).join("\n");
    expectNoSecrets(text, [
      ...dt.receivedProofs,
      ...dt.issuedTokens,
      TEST_AWS.secretAccessKey,
      WRONG_AWS_SECRET,
      TEST_AWS.sessionToken,
      sim.apiKey,
      sim.appKey,
    ]);
  });
});
