/**
 * `npm run bench`: syncs a large simulated Datadog org (≥ 20,000 users, 500 teams, 200 roles, 100 schedules,
 * 2,000 API keys, ≥ 100,000 grants) with per-request latency and advertised rate limits, then the same org
 * grown 5×, and prints one JSON line last:
 *   wallSeconds, requests, http429, lowerBoundSeconds, ratio, peakRssMb, rows   (the base org)
 *   peakRssMb5x, rssGrowth5x, wallSeconds5x, lowerBoundSeconds5x, ratio5x        (the 5× org)
 *   mainThreadBusy, mainThreadBusy5x   (the sync's event-loop utilisation: near 1, it waits for its own CPU)
 *   peakRssMb2k, wallSeconds2k, requests2k     (2,000 users / 100 teams / 20 roles at 25 ms: the Go comparison org)
 *   versionMs, versionRssMb, helpMs, helpRssMb, firstRequestMs, firstRequestMsCold    (start-up of bin/baton-datadog.js,
 *   startup.ts; *Cold: the first run, before Node's compile cache holds the program)
 * lowerBoundSeconds = max(requests × latency / connections, max over limit names of (⌈requests / limit⌉ − 1) × period):
 * what the request count, latency, connection pool and advertised fixed-window limits allow, whatever the
 * engine does (n requests under a limit of L per window cannot finish before window ⌈n/L⌉ opens).
 * Defaults model a Datadog-like API: 100 ms per request, 800 requests per 10 s per limit name, 16 connections.
 * Then the just-in-time case (targeted.ts): a grant makes a team 50 members strong and a targeted sync of that
 * team confirms it: targetedRequests, targetedRoundTrips, targetedWallMs (a connector that has validated before,
 * as in service mode) and the same *Cold (a connector built for the one sync, as the one-shot CLI).
 * Environment: BENCH_LATENCY_MS, BENCH_RATE_LIMIT (N/SECONDS), BENCH_CONCURRENCY, BENCH_SKIP_5X=1 (base org only),
 * BENCH_ONLY_TARGETED=1 (the targeted part only), BENCH_ONLY_STARTUP=1 (start-up and the 2k org only),
 * BENCH_STARTUP_RUNS (default 5), BENCH_DEBUG=1 (the targeted syncs' requests by operation, on stderr).
 * Every sync runs the compiled program (sync-child.mjs imports dist/; `npm run bench` builds it first).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRateLimit, startSimulator, type OrgCounts } from "../simulator/index.ts";
import { measureCommand, measureFirstRequest } from "./startup.ts";
import { measureTargeted } from "./targeted.ts";

const latencyMs = Number(process.env.BENCH_LATENCY_MS ?? 100);
const rateLimit = parseRateLimit(process.env.BENCH_RATE_LIMIT ?? "800/10");
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const base: OrgCounts = { users: 20_000, teams: 500, roles: 200, schedules: 100, apiKeys: 2_000, appKeys: 500, serviceAccounts: 200 };
/** The org of the side-by-side with ConductorOne's Go connector (issue 14), other counts at the simulator's defaults. */
const goComparison = { counts: { users: 2_000, teams: 100, roles: 20 } as Partial<OrgCounts>, latencyMs: 25 };
const startupRuns = Number(process.env.BENCH_STARTUP_RUNS ?? 5);
const scaled = (k: number): OrgCounts =>
  Object.fromEntries(Object.entries(base).map(([key, n]) => [key, n * k])) as unknown as OrgCounts;

interface ChildResult {
  wallSeconds: number;
  requests: number;
  retries: number;
  clientHttp429: number;
  peakRssMb: number;
  cpuSeconds: number;
  /** Event-loop utilisation from the connector's build to the saved file (0 to 1). */
  mainThreadBusy: number;
  stats: { resourceTypes: number; resources: number; entitlements: number; grants: number };
}

function runChild(baseUrl: string, file: string, apiKey: string, appKey: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    // The sync runs with the V8 flags the CLI and the container use: the shebang's (bin/baton-datadog.js) here,
    // the ones the launcher leaves to the program in the child, where a one-shot CLI sync sets them.
    const child = spawn(process.execPath, ["--max-semi-space-size=2", new URL("./sync-child.mjs", import.meta.url).pathname, baseUrl, file, String(concurrency)], {
      env: { ...process.env, MALLOC_ARENA_MAX: "2", BENCH_API_KEY: apiKey, BENCH_APP_KEY: appKey },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`benchmark sync exited with ${code}`));
      resolve(JSON.parse(out.trim().split("\n").at(-1)!));
    });
  });
}

async function measure(counts: Partial<OrgCounts>, dir: string, latency = latencyMs) {
  const sim = await startSimulator({ seed: 7, counts, latencyMs: latency, rateLimit });
  try {
    const result = await runChild(sim.baseUrl, join(dir, `bench-${counts.users}.c1z`), sim.apiKey, sim.appKey);
    const limitOf = new Map(sim.routes().map((r) => [`${r.method} ${r.template}`, r.rateLimit]));
    const perName = new Map<string, number>();
    for (const [op, n] of Object.entries(sim.stats.byOperation)) {
      const name = limitOf.get(op);
      if (name) perName.set(name, (perName.get(name) ?? 0) + n);
    }
    const requests = sim.stats.requests;
    const latencyBound = (requests * latency) / 1000 / concurrency;
    const rateBound = Math.max(0, ...[...perName.values()].map((n) => (Math.ceil(n / rateLimit.limit) - 1) * rateLimit.periodSeconds));
    const lowerBoundSeconds = Math.max(latencyBound, rateBound);
    return { result, requests, http429: sim.stats.http429, maxInFlight: sim.stats.maxInFlight, lowerBoundSeconds, perName: Object.fromEntries(perName) };
  } finally {
    await sim.close();
  }
}

function targetedFields(t: Awaited<ReturnType<typeof measureTargeted>>): Record<string, unknown> {
  return {
    targetedRequests: t.warm.requests,
    targetedRoundTrips: t.warm.roundTrips,
    targetedWallMs: Math.round(t.warm.wallMs),
    targetedRequestsCold: t.cold.requests,
    targetedRoundTripsCold: t.cold.roundTrips,
    targetedWallMsCold: Math.round(t.cold.wallMs),
    targetedTeamMembers: t.warm.members,
  };
}

/** Start-up (medians of `startupRuns`, min and max beside) and the Go comparison org's sync. */
async function startupFields(dir: string): Promise<Record<string, unknown>> {
  const version = await measureCommand(["--version"], startupRuns);
  const help = await measureCommand(["--help"], startupRuns);
  const first = await measureFirstRequest(startupRuns);
  const twoK = await measure(goComparison.counts, dir, goComparison.latencyMs);
  const r = (x: { median: number; min: number; max: number }) => ({ median: round(x.median), min: round(x.min), max: round(x.max) });
  return {
    versionMs: Math.round(version.ms.median),
    versionRssMb: round(version.rssMb.median),
    helpMs: Math.round(help.ms.median),
    helpRssMb: round(help.rssMb.median),
    firstRequestMs: Math.round(first.median),
    firstRequestMsCold: Math.round(first.cold),
    peakRssMb2k: round(twoK.result.peakRssMb),
    wallSeconds2k: round(twoK.result.wallSeconds),
    requests2k: twoK.requests,
    startupSpread: { runs: startupRuns, versionMs: r(version.ms), versionRssMb: r(version.rssMb), helpMs: r(help.ms), helpRssMb: r(help.rssMb), firstRequestMs: r(first) },
  };
}

if (process.env.BENCH_ONLY_STARTUP === "1") {
  const dir = mkdtempSync(join(tmpdir(), "baton-datadog-bench-"));
  try {
    process.stdout.write(JSON.stringify(await startupFields(dir)) + "\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

if (process.env.BENCH_ONLY_TARGETED === "1") {
  const t = await measureTargeted({ latencyMs, rateLimit });
  process.stdout.write(JSON.stringify({ ...targetedFields(t), latencyMs, rateLimit: `${rateLimit.limit}/${rateLimit.periodSeconds}` }) + "\n");
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), "baton-datadog-bench-"));
try {
  // First, while the machine is quiet: start-up times are the most sensitive to other load.
  const startup = await startupFields(dir);
  const one = await measure(base, dir);
  const rows = one.result.stats.resourceTypes + one.result.stats.resources + one.result.stats.entitlements + one.result.stats.grants;
  const line: Record<string, unknown> = {
    wallSeconds: round(one.result.wallSeconds),
    requests: one.requests,
    http429: one.http429,
    lowerBoundSeconds: round(one.lowerBoundSeconds),
    ratio: round(one.result.wallSeconds / one.lowerBoundSeconds),
    peakRssMb: round(one.result.peakRssMb),
    syncCpuSeconds: round(one.result.cpuSeconds),
    mainThreadBusy: round(one.result.mainThreadBusy),
    rows,
    grants: one.result.stats.grants,
    latencyMs,
    rateLimit: `${rateLimit.limit}/${rateLimit.periodSeconds}`,
    concurrency,
    maxInFlight: one.maxInFlight,
    requestsByLimit: one.perName,
  };
  if (process.env.BENCH_SKIP_5X !== "1") {
    const five = await measure(scaled(5), dir);
    line.wallSeconds5x = round(five.result.wallSeconds);
    line.lowerBoundSeconds5x = round(five.lowerBoundSeconds);
    line.ratio5x = round(five.result.wallSeconds / five.lowerBoundSeconds);
    line.http429_5x = five.http429;
    line.peakRssMb5x = round(five.result.peakRssMb);
    line.rssGrowth5x = round(five.result.peakRssMb / one.result.peakRssMb);
    line.mainThreadBusy5x = round(five.result.mainThreadBusy);
    line.grants5x = five.result.stats.grants;
  }
  Object.assign(line, targetedFields(await measureTargeted({ latencyMs, rateLimit })));
  Object.assign(line, startup);
  process.stdout.write(JSON.stringify(line) + "\n");
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
