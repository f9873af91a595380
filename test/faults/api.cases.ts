/**
 * Datadog API faults, each driving the real connector against the simulator: the `baton-datadog` CLI as a child
 * process where its exit code and the file at --file matter, the connector in-process where the case needs an
 * HTTP setting the CLI does not expose (a short timeout). Every case either completes with rows identical to a
 * clean sync, or fails with a clear one-line message and exit code 1 while the previous file at --file stays
 * byte-identical (and no temp file is left beside it).
 */
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it, type ExpectStatic } from "vitest";
import { runSync } from "../../src/sync/engine.ts";
import type { FaultSpec, Simulator, SimulatorOptions } from "../../connectors/datadog/simulator/index.ts";
import { collector } from "./collect.ts";
import { record } from "./matrix.ts";
import {
  cleanSync,
  fileUntouched,
  HEAVY,
  inProcessDatadog,
  rowsOf,
  runCli,
  sleep,
  snapshot,
  startSim,
  syncArgs,
  tempDir,
} from "./support.ts";

type Expectation = { completes: true; mustLog?: RegExp } | { fails: RegExp };

interface CliCase {
  name: string;
  how: string;
  sim?: Partial<SimulatorOptions>;
  faults?: FaultSpec[];
  /** Runs alongside the sync (e.g. a noisy neighbour, a slow period); resolves when the disturbance is over. */
  during?: (sim: Simulator) => Promise<void>;
  expect: Expectation;
  heavyOnly?: boolean;
}

/** Another client of the same org spending the named limit as fast as it can, for `ms` from the sync's first request. */
async function noisyNeighbour(sim: Simulator, path: string, ms: number): Promise<void> {
  // The CLI takes a while to start on a busy machine: the storm begins when the connector does (it validates first).
  while (!sim.stats.byOperation["GET /api/v1/validate"]) await sleep(5);
  const until = Date.now() + ms;
  const headers = { "DD-API-KEY": sim.apiKey, "DD-APPLICATION-KEY": sim.appKey };
  const worker = async () => {
    while (Date.now() < until) {
      const res = await fetch(`${sim.baseUrl}${path}`, { headers });
      await res.arrayBuffer();
      if (res.status !== 429) await sleep(1);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
}

async function slowPeriod(sim: Simulator, latencyMs: number, forMs: number): Promise<void> {
  while (!sim.stats.byOperation["GET /api/v1/validate"]) await sleep(5);
  sim.setLatency(latencyMs);
  await sleep(forMs);
  sim.setLatency(0);
}

const STORM_MS = HEAVY ? 20_000 : 3_000;
const SLOW_MS = HEAVY ? 25_000 : 3_000;

const cliCases: CliCase[] = [
  {
    name: "429 storm with rate-limit headers",
    how: `another client spends the \`users\` limit (10/s) for ${STORM_MS / 1000} s; real 429s with X-RateLimit-* headers`,
    sim: { rateLimits: { users: { limit: 10, periodSeconds: 1 } } },
    during: (sim) => noisyNeighbour(sim, "/api/v2/users?page[size]=1", STORM_MS),
    // The neighbour is refused; the connector may meet some 429s or pace around them all from the headers,
    // depending on timing. Either way the sync must complete with a clean sync's rows.
    expect: { completes: true },
  },
  {
    name: "429 storm without rate-limit headers",
    how: `\`429-no-headers\` on the user listing, ${HEAVY ? 9 : 5} times in a row`,
    faults: [{ kind: "429-no-headers", count: HEAVY ? 9 : 5, match: { pathPrefix: "/api/v2/users" } }],
    expect: { completes: true, mustLog: /answered 429/ },
  },
  ...[500, 502, 503, 504].map(
    (status): CliCase => ({
      name: `${status} answers, then recovery`,
      how: `\`status ${status}\` three times on role member listings`,
      faults: [{ kind: "status", status, count: 3, match: { pathPrefix: "/api/v2/roles/" } }],
      expect: { completes: true, mustLog: new RegExp(`answered ${status}`) },
    }),
  ),
  {
    name: "503 on every attempt of the connection check, then recovery",
    how: "`status 503` on GET /api/v1/validate 7 times: more than the HTTP layer's 6 attempts, so the engine retries Validate",
    faults: [{ kind: "status", status: 503, count: 7, match: { pathPrefix: "/api/v1/validate" } }],
    expect: { completes: true, mustLog: /connector call failed; retrying/ },
  },
  {
    name: "503 that never ends",
    how: "`status 503` on every role member listing",
    faults: [{ kind: "status", status: 503, match: { pathPrefix: "/api/v2/roles/" } }],
    expect: { fails: /ListRoleUsers.*answered 503 Service Unavailable/ },
    heavyOnly: true,
  },
  {
    name: "connection reset mid-body, then recovery",
    how: "`reset` (headers and half the body, then the socket is destroyed) three times on team memberships",
    faults: [{ kind: "reset", count: 3, match: { pathPrefix: "/api/v2/team/" } }],
    expect: { completes: true, mustLog: /reset or closed before the response was complete/ },
  },
  {
    name: "connection reset mid-body on every attempt",
    how: "`reset` on every team membership listing",
    faults: [{ kind: "reset", match: { pathPrefix: "/api/v2/team/" } }],
    expect: { fails: /GetTeamMemberships.*reset or closed before the response was complete/ },
    heavyOnly: true,
  },
  {
    name: "truncated JSON, then recovery",
    how: "`malformed` (the body cut in half) twice on the user listing",
    faults: [{ kind: "malformed", count: 2, match: { pathPrefix: "/api/v2/users" } }],
    expect: { completes: true, mustLog: /not valid JSON/ },
  },
  {
    name: "truncated JSON on every attempt",
    how: "`malformed` on every team membership listing",
    faults: [{ kind: "malformed", match: { pathPrefix: "/api/v2/team/" } }],
    expect: { fails: /GetTeamMemberships.*body that is not valid JSON/ },
  },
  {
    name: "missing required fields",
    how: "`wrong-shape drop-required` (id and type removed) on team memberships",
    faults: [{ kind: "wrong-shape", variant: "drop-required", match: { pathPrefix: "/api/v2/team/" } }],
    expect: { fails: /GetTeamMemberships: response field data\[0\]\.id: expected string, but it is missing/ },
  },
  {
    name: "nulls in required fields",
    how: "`wrong-shape nulls` (id and attributes null) on role member listings",
    faults: [{ kind: "wrong-shape", variant: "nulls", match: { pathPrefix: "/api/v2/roles/" } }],
    expect: { fails: /ListRoleUsers: response field data\[0\]\.id: expected string, received null/ },
  },
  {
    name: "wrong types",
    how: "`wrong-type` (id a number, attributes a string) on the API key listing",
    faults: [{ kind: "wrong-shape", variant: "wrong-type", match: { pathPrefix: "/api/v2/api_keys" } }],
    expect: { fails: /ListAPIKeys: response field data\[0\]\.id: expected string, received number/ },
  },
  {
    name: "unknown fields",
    how: "`wrong-shape unknown-fields` on every answer (top level, objects, attributes)",
    faults: [{ kind: "wrong-shape", variant: "unknown-fields" }],
    expect: { completes: true },
  },
  {
    name: "a page repeated forever",
    how: "`repeat-page`: every page of the user listing answers with page 0 and a `next` link",
    faults: [{ kind: "repeat-page", match: { pathPrefix: "/api/v2/users" } }],
    expect: { fails: /ListUsers: page \d of GET \/api\/v2\/users holds the same 100 items as page 0: the API is repeating a page/ },
  },
  {
    name: "the same object on two pages",
    how: "`duplicate`: every later page of the user listing also carries the previous page's last user",
    faults: [{ kind: "duplicate", match: { pathPrefix: "/api/v2/users" } }],
    expect: { completes: true },
  },
  {
    name: "an oversized response",
    how: "`oversized`: a 64 MiB answer on team memberships (the client's cap is 32 MiB)",
    faults: [{ kind: "oversized", count: 1, match: { pathPrefix: "/api/v2/team/" } }],
    expect: { fails: /GetTeamMemberships.*exceeds the 33554432-byte cap/ },
  },
  {
    name: "the API slow for a while",
    how: `every answer delayed ${HEAVY ? 2 : 1} s for the first ${SLOW_MS / 1000} s of the sync`,
    during: (sim) => slowPeriod(sim, HEAVY ? 2000 : 1000, SLOW_MS),
    expect: { completes: true },
  },
  {
    name: "single answers slower than a long pause",
    how: `\`slow\` ${HEAVY ? 20 : 5} s on the first ${HEAVY ? 3 : 2} role member listings (under the 60 s timeout)`,
    faults: [{ kind: "slow", delayMs: HEAVY ? 20_000 : 5_000, count: HEAVY ? 3 : 2, match: { pathPrefix: "/api/v2/roles/" } }],
    expect: { completes: true },
  },
  {
    name: "credentials revoked mid-sync",
    how: "`status 401` on every team membership listing",
    faults: [{ kind: "status", status: 401, match: { pathPrefix: "/api/v2/team/" } }],
    expect: { fails: /GetTeamMemberships.*answered 401 Unauthorized/ },
  },
];

async function runCliCase(c: CliCase, rank: number, expect: ExpectStatic): Promise<void> {
  const { rows: cleanRows, bytes: cleanBytes } = await cleanSync();
  const sim = await startSim(c.sim);
  const dir = tempDir("api");
  const file = join(dir, "sync.c1z");
  // A failing case must leave the previous sync in place: start from one.
  if ("fails" in c.expect) writeFileSync(file, cleanBytes);
  const before = snapshot(file);
  if (c.faults) sim.injectFaults(c.faults);
  const disturbance = c.during?.(sim);
  const result = await runCli(syncArgs(sim, file), { source: `api: ${c.name}` });
  await disturbance;

  if ("completes" in c.expect) {
    expect(result.error, result.stderr.slice(-2000)).toBeUndefined();
    expect(result.code).toBe(0);
    if (c.expect.mustLog) expect(result.stderr).toMatch(c.expect.mustLog);
    expect(await rowsOf(file)).toEqual(cleanRows);
    record({ section: "Datadog API faults", case: c.name, how: c.how, outcome: "completed, rows identical to a clean sync", exitCode: 0, rank });
  } else {
    expect(result.code, result.stderr.slice(-2000)).toBe(1);
    expect(result.error).toMatch(c.expect.fails);
    expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/); // a reason, not a stack trace
    expect(fileUntouched(file, before)).toBe(true);
    record({
      section: "Datadog API faults",
      case: c.name,
      how: c.how,
      outcome: "failed; previous file at --file byte-identical, no temp file",
      exitCode: 1,
      message: result.error!.replace(/^baton-datadog: error: /, ""),
      rank,
    });
  }
}

/**
 * The response that never finishes: run in-process with a 300 ms timeout (what `--http-timeout 300ms` sets) and
 * test backoffs of 10-50 ms (the CLI's backoff is not a flag), compared with a clean sync of that same construction.
 */
async function hangingCase(persistent: boolean, rank: number, expect: ExpectStatic): Promise<void> {
  const sim = await startSim();
  const logger = collector.logger(`api: hanging response${persistent ? " (forever)" : ""}`);
  const { rpc } = inProcessDatadog(sim, logger, { timeoutMs: 300, backoff: { baseMs: 10, maxMs: 50 } });
  const dir = tempDir("hang");
  const cleanFile = join(dir, "clean.c1z");
  await runSync({ connector: rpc, file: cleanFile, logger });
  const cleanRows = await rowsOf(cleanFile);
  const file = join(dir, "sync.c1z");
  if (persistent) copyFileSync(cleanFile, file);
  const before = snapshot(file);
  sim.injectFaults([{ kind: "slow", match: { pathPrefix: "/api/v2/team/" }, ...(persistent ? {} : { count: 2 }) }]);
  const run = runSync({ connector: rpc, file, logger, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 } });
  if (!persistent) {
    await run;
    expect(await rowsOf(file)).toEqual(cleanRows);
    record({
      section: "Datadog API faults",
      case: "a response that never finishes, then recovery",
      how: "`slow` without a delay (headers and half the body, then silence) twice on team memberships; in-process, 300 ms timeout",
      outcome: "completed, rows identical to a clean sync of the same build (each hung attempt timed out and was retried)",
      rank,
    });
  } else {
    const err = (await run.then(
      () => undefined,
      (e: unknown) => e,
    )) as Error;
    expect(err?.message).toMatch(/GetTeamMemberships.*no complete response within 300 ms \(headers arrived, body did not finish\)/);
    expect(fileUntouched(file, before)).toBe(true);
    record({
      section: "Datadog API faults",
      case: "a response that never finishes",
      how: "`slow` without a delay on every team membership listing; in-process, 300 ms timeout, 2 engine attempts",
      outcome: "failed; previous file byte-identical",
      message: err.message,
      rank,
    });
  }
}

export function apiFaultCases(): void {
  // Heavy cases wait through 20-30 s storms and slow periods, or through every retry of a never-ending fault.
  const timeout = HEAVY ? 240_000 : 90_000;
  describe.concurrent("Datadog API faults", () => {
    cliCases.forEach((c, rank) => {
      if (c.heavyOnly && !HEAVY) return;
      it(c.name, { timeout }, async ({ expect }) => runCliCase(c, rank, expect));
    });
    it("a response that never finishes, then recovery", { timeout }, async ({ expect }) => hangingCase(false, cliCases.length, expect));
    it("a response that never finishes", { timeout }, async ({ expect }) => hangingCase(true, cliCases.length + 1, expect));
  });
}
