/**
 * What the fault cases share: a simulated Datadog org of a fixed seed, the real `baton-datadog` CLI run as a
 * child process (its exit code, its one-line error, the file at --file), the rows of a clean sync to compare
 * with, and the Datadog connector built in-process when a case needs HTTP settings the CLI does not expose.
 * Every simulator key and every child's output goes through the collector (collect.ts).
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Logger } from "pino";
import { createConnectorService } from "../../src/connector/service.ts";
import type { ConnectorRpc } from "../../src/connector/rpc.ts";
import type { HttpClientOptions } from "../../src/http/client.ts";
import { buildDatadog } from "../../connectors/datadog/build.ts";
import { DatadogClient, DEFAULT_SITE, StaticKeyProvider } from "../../connectors/datadog/client/index.ts";
import { datadogConfig } from "../../connectors/datadog/config.ts";
import { datadogConnector } from "../../connectors/datadog/connector.ts";
import { startSimulator, type OrgCounts, type Simulator, type SimulatorOptions } from "../../connectors/datadog/simulator/index.ts";
import { c1zRows } from "../helpers/c1z-rows.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";
import { collectOutput, lastCliError } from "../helpers/child-process.ts";
import { collector } from "./collect.ts";

export const HEAVY = process.env.FAULTS_HEAVY === "1";
export const REPO = resolve(import.meta.dirname, "../..");
export const CLI = join(REPO, "bin/baton-datadog.js");

/** 250 users: the user listing spans three pages of 100, so paging faults have pages to break. */
export const SEED = 8;
export const ORG: Partial<OrgCounts> = { users: 250, teams: 8, roles: 6, schedules: 5, apiKeys: 10, appKeys: 8, serviceAccounts: 4 };

const cleanups: (() => unknown)[] = [];

/** Runs (and forgets) everything registered with `onCleanup`, newest first. */
export async function cleanupAll(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch {
      // cleanup is best effort; the case already has its verdict
    }
  }
}

export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

export function tempDir(prefix: string): string {
  const { dir, cleanup } = makeTempDir(`faults-${prefix}-`);
  onCleanup(cleanup);
  return dir;
}

/** A simulator of the suite's org; its keys are tracked as secrets; closed by cleanupAll. */
export async function startSim(options: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const sim = await startSimulator({ seed: SEED, counts: ORG, ...options });
  collector.secret(sim.apiKey, "Datadog API key");
  collector.secret(sim.appKey, "Datadog application key");
  onCleanup(() => sim.close());
  return sim;
}

/** The environment of every child: no proxies, no BATON_* leaking in from the machine running the tests. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("BATON_") || /^(https?|no|all)_proxy$/i.test(k) || k === "NODE_EXTRA_CA_CERTS") continue;
    env[k] = v;
  }
  return { ...env, NO_PROXY: "127.0.0.1,localhost", ...extra };
}

export function syncArgs(sim: Simulator, file: string): string[] {
  return ["--api-key", sim.apiKey, "--app-key", sim.appKey, "--base-url", sim.baseUrl, "--sync-schedules", "--sync-secrets", "-f", file, "--log-level", "debug"];
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The CLI's one-line reason ("baton-datadog: error: ..."), if it printed one. */
  error: string | undefined;
}

export interface CliRun {
  pid: number;
  done: Promise<ChildResult>;
  kill(signal: NodeJS.Signals): void;
}

let childCounter = 0;

/**
 * Starts `baton-datadog ARGS` (or, with `shell`, a bash command line that ends by exec'ing it as "$@"), in `cwd`,
 * with its output collected under `source`.
 */
export function startCli(args: string[], options: { source: string; cwd?: string; env?: Record<string, string>; shell?: string }): CliRun {
  const cwd = options.cwd ?? tempDir("cwd");
  const argv = options.shell
    ? ["bash", ["-c", `${options.shell}; exec "${process.execPath}" "${CLI}" "$@"`, "bash", ...args]]
    : [process.execPath, [CLI, ...args]];
  const child = spawn(argv[0] as string, argv[1] as string[], { cwd, env: childEnv(options.env), stdio: ["ignore", "pipe", "pipe"] });
  collector.attach(`${options.source}#${++childCounter}`, child);
  const done = collectOutput(child).then((run): ChildResult => ({ ...run, error: lastCliError(run.stderr) }));
  onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return { pid: child.pid!, done, kill: (signal) => child.kill(signal) };
}

export function runCli(args: string[], options: { source: string; cwd?: string; env?: Record<string, string>; shell?: string }): Promise<ChildResult> {
  return startCli(args, options).done;
}

/** The bytes at `file`, or undefined when there is no file. */
export function snapshot(file: string): Buffer | undefined {
  return existsSync(file) ? readFileSync(file) : undefined;
}

/**
 * The --file invariant of every case: after a failure the path holds exactly what it held before (or nothing),
 * and no half-written temp file is left next to it.
 */
export function fileUntouched(file: string, before: Buffer | undefined): boolean {
  const after = snapshot(file);
  const same = before === undefined ? after === undefined : after !== undefined && after.equals(before);
  return same && !existsSync(`${file}.tmp`);
}

let clean: Promise<{ rows: string[]; bytes: Buffer }> | undefined;

/** Rows (and the file's bytes) of an undisturbed CLI sync of the suite's org; computed once. */
export function cleanSync(): Promise<{ rows: string[]; bytes: Buffer }> {
  clean ??= (async () => {
    const sim = await startSim();
    const dir = tempDir("clean");
    const file = join(dir, "clean.c1z");
    const result = await runCli(syncArgs(sim, file), { source: "clean sync" });
    if (result.code !== 0) throw new Error(`the clean sync failed (exit ${result.code}): ${result.error ?? result.stderr.slice(-500)}`);
    return { rows: (await c1zRows(file)).rows, bytes: readFileSync(file) };
  })();
  return clean;
}

export async function rowsOf(file: string): Promise<string[]> {
  return (await c1zRows(file)).rows;
}

/** The Datadog connector in-process, built exactly as the CLI builds it (provisioning on). */
export async function builtDatadog(sim: Simulator, logger: Logger): Promise<{ rpc: ConnectorRpc; close(): Promise<void> }> {
  const config = datadogConfig.schema.parse({
    apiKey: sim.apiKey,
    appKey: sim.appKey,
    baseUrl: sim.baseUrl,
    site: DEFAULT_SITE,
    delegatedAuthProvider: "aws",
    syncSchedules: true,
    syncSecrets: true,
  });
  const built = await buildDatadog(config, logger);
  onCleanup(() => built.close());
  return { rpc: createConnectorService(built.connector, { logger, provisioning: true }), close: () => built.close() };
}

/**
 * The Datadog connector in-process with HTTP settings of the case's choosing (e.g. a short timeout), which the
 * CLI and buildDatadog do not expose. Its rows are compared with a clean sync of the same construction.
 */
export function inProcessDatadog(
  sim: Simulator,
  logger: Logger,
  http: Omit<HttpClientOptions, "baseUrl" | "auth" | "logger" | "metrics"> = {},
): { rpc: ConnectorRpc; client: DatadogClient; close(): Promise<void> } {
  const client = new DatadogClient({
    baseUrl: sim.baseUrl,
    credentials: new StaticKeyProvider(sim.apiKey, sim.appKey),
    logger,
    http: { proxy: { httpProxy: "", httpsProxy: "", noProxy: "" }, ...http },
  });
  const connector = datadogConnector({ client, logger, syncSchedules: true, syncSecrets: true });
  const rpc = createConnectorService(connector, { logger, provisioning: true });
  onCleanup(() => client.close());
  return { rpc, client, close: () => client.close() };
}

/** A seeded random source, so "random" kill points are the same from run to run. */
export { seededRandom } from "../helpers/seeded-random.ts";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
