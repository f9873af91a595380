/**
 * Trust (cli): cases of issue 12 for this area. Each case reproduces one defect against the real parts on loopback
 * and records its measured outcome in the "Trust" section of the fault matrix (record({ section: "Trust", … })).
 *
 * - `demo` must not replace a real sync's file with simulated data;
 * - an unreachable host must fail fast with one line, and `check` must give its verdict without retry noise;
 *   `--http-timeout` must reach every request;
 * - a short configured key must not eat letters out of every log line.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startSimulator } from "../../connectors/datadog/simulator/index.ts";
import { collector } from "./collect.ts";
import { record, stable } from "./matrix.ts";
import { cleanSync, ORG, onCleanup, runCli, SEED, startSim, syncArgs, tempDir, type ChildResult } from "./support.ts";

/** A port nothing listens on: binding port 1 needs root, so connections to it are refused. */
const REFUSING = "http://127.0.0.1:1";
/** Keys shaped like Datadog's (no shape warning), for runs that never reach a server. */
const API_KEY = "0123456789abcdef0123456789abcdef";
const APP_KEY = "0123456789abcdef0123456789abcdef01234567";

async function timed(args: string[], options: Parameters<typeof runCli>[1]): Promise<ChildResult & { ms: number }> {
  const start = performance.now();
  const result = await runCli(args, options);
  return { ...result, ms: Math.round(performance.now() - start) };
}

const lines = (text: string) => text.split("\n").filter((l) => l.trim() !== "");

export function trustCliCases(): void {
  describe("Trust: cli", () => {
    it("demo leaves a real sync's sync.c1z alone, writes and rewrites its own demo.c1z, and refuses a file it did not make", async () => {
      const dir = tempDir("demo");
      const real = join(dir, "sync.c1z");
      writeFileSync(real, (await cleanSync()).bytes);
      const before = readFileSync(real);

      const first = await timed(["demo", "--users", "20"], { source: "demo", cwd: dir });
      expect(first.code, first.stderr.slice(-500)).toBe(0);
      expect(readFileSync(real).equals(before), "sync.c1z must not be touched by demo").toBe(true);
      expect(existsSync(join(dir, "demo.c1z"))).toBe(true);
      expect(first.stdout).toContain(join(dir, "demo.c1z"));

      const again = await timed(["demo", "--users", "20"], { source: "demo again", cwd: dir });
      expect(again.code, again.stderr.slice(-500)).toBe(0);

      // A file demo did not write: refused, byte for byte as it was.
      const other = join(dir, "other.c1z");
      writeFileSync(other, "the only copy of something else\n");
      const refused = await timed(["demo", "--users", "20", "-f", other], { source: "demo refused", cwd: dir });
      expect(refused.code).toBe(2);
      expect(refused.error).toMatch(/other\.c1z already exists .*demo never replaces other files: name a new file with --file/);
      expect(readFileSync(other, "utf8")).toBe("the only copy of something else\n");

      // The environment's file (a service's BATON_FILE) is protected the same way.
      const viaEnv = await timed(["demo", "--users", "20"], { source: "demo env", cwd: dir, env: { BATON_FILE: other } });
      expect(viaEnv.code).toBe(2);
      expect(readFileSync(other, "utf8")).toBe("the only copy of something else\n");

      record({
        section: "Trust",
        case: "demo next to a real sync",
        how: "`baton-datadog demo --users 20` twice in a directory holding a real sync's sync.c1z; then `demo -f other.c1z` and `BATON_FILE=other.c1z demo` with other.c1z not a demo's",
        outcome:
          `sync.c1z byte-identical; demo wrote demo.c1z (exit ${first.code}, ${first.ms} ms) and rewrote it (exit ${again.code}); ` +
          `other.c1z refused both ways (exit ${refused.code}, ${viaEnv.code}) and unchanged`,
        exitCode: refused.code ?? undefined,
        message: stable(refused.error ?? ""),
      });
    });

    it("an unreachable host fails fast with one line (sync), and check gives its verdict without retry noise", async () => {
      const dir = tempDir("unreachable");
      const file = join(dir, "out.c1z");
      const sync = await timed(["--api-key", API_KEY, "--app-key", APP_KEY, "--base-url", REFUSING, "-f", file], {
        source: "sync unreachable",
        cwd: dir,
      });
      expect(sync.code).toBe(1);
      expect(sync.error).toMatch(/FAILED_PRECONDITION: Cannot connect to 127\.0\.0\.1:1: connection to 127\.0\.0\.1 refused \(ECONNREFUSED\) \(after 3 attempts\)/);
      const syncLines = lines(sync.stderr);
      // "starting sync" and the error: no retry lines at the default level.
      expect(syncLines.filter((l) => /retr(y|ying)/i.test(l))).toEqual([]);
      expect(syncLines.length).toBeLessThanOrEqual(2);
      expect(existsSync(file)).toBe(false);

      const check = await timed(
        ["check", "--api-key", API_KEY, "--app-key", APP_KEY, "--base-url", REFUSING, "--sync-schedules", "--sync-secrets"],
        { source: "check unreachable", cwd: dir },
      );
      expect(check.code).toBe(1);
      expect(lines(check.stdout)).toEqual([expect.stringMatching(/^FAIL {2}Cannot connect to 127\.0\.0\.1:1: .*ECONNREFUSED/)]);
      expect(lines(check.stderr)).toEqual([]);

      // A host that answers, but only after a few 503s: check's verdict is still the only output.
      const sim = await startSim();
      sim.injectFaults([{ kind: "status", status: 503, count: 3, match: { pathPrefix: "/api/v1/validate" } }]);
      const flaky = await timed(["check", "--api-key", sim.apiKey, "--app-key", sim.appKey, "--base-url", sim.baseUrl], {
        source: "check flaky",
        cwd: dir,
      });
      expect(flaky.code, flaky.stdout + flaky.stderr).toBe(0);
      expect(lines(flaky.stderr)).toEqual([]);
      expect(flaky.stdout).toMatch(/ OK +The API key is valid/);

      record({
        section: "Trust",
        case: "unreachable host",
        how: "`baton-datadog --base-url http://127.0.0.1:1` (connection refused) as a sync and as `check --sync-schedules --sync-secrets`; then `check` against a simulator answering 503 to the first 3 validations",
        outcome:
          `sync failed in ${sync.ms} ms with ${syncLines.length} stderr lines (before: 40 s, 127 lines); ` +
          `check: FAIL verdict in ${check.ms} ms, ${lines(check.stdout).length} stdout line, ${lines(check.stderr).length} stderr lines (before: 7 s, 30 retry warnings); ` +
          `check after 503s: verdict OK, ${lines(flaky.stderr).length} stderr lines`,
        exitCode: sync.code ?? undefined,
        message: stable(sync.error ?? ""),
      });
    });

    it("--http-timeout bounds each request; a bad value is a config error naming the flag and the env var", async () => {
      const dir = tempDir("http-timeout");
      const sim = await startSim();
      // The first user page starts and never finishes: only the per-request deadline ends that attempt.
      sim.injectFaults([{ kind: "slow", count: 1, match: { pathPrefix: "/api/v2/users" } }]);
      const file = join(dir, "out.c1z");
      const run = await timed([...syncArgs(sim, file), "--http-timeout", "1s"], { source: "sync http-timeout", cwd: dir });
      expect(run.code, run.error ?? run.stderr.slice(-500)).toBe(0);
      expect(run.stderr).toMatch(/ListUsers: GET http:\/\/127\.0\.0\.1:\d+\/api\/v2\/users: no complete response within 1000 ms \(headers arrived, body did not finish\)/);

      const bad = await timed(["--api-key", API_KEY, "--app-key", APP_KEY, "-f", file], {
        source: "bad http-timeout",
        cwd: dir,
        env: { BATON_HTTP_TIMEOUT: "soon" },
      });
      expect(bad.code).toBe(2);
      expect(bad.error).toMatch(/--http-timeout \/ BATON_HTTP_TIMEOUT: must be a duration such as 30s, 2m or 1m30s, or a number of seconds/);

      record({
        section: "Trust",
        case: "--http-timeout",
        how: "a sync with `--http-timeout 1s` while the first user page never finishes; `BATON_HTTP_TIMEOUT=soon`",
        outcome: `the hung attempt ended after 1000 ms and was retried; the sync finished (exit 0, ${run.ms} ms); the bad value refused before any request (exit ${bad.code})`,
        exitCode: bad.code ?? undefined,
        message: stable(bad.error ?? ""),
      });
    });

    it("a one-character API key leaves every other word of the logs intact, and gets a warning that does not show it", async () => {
      const dir = tempDir("short-key");
      // Not startSim: the collector (rightly) refuses to track a 1-character value, which would match everywhere.
      const sim = await startSimulator({ seed: SEED, counts: { ...ORG, users: 20 }, apiKey: "x" });
      onCleanup(() => sim.close());
      collector.secret(sim.appKey, "Datadog application key");
      const file = join(dir, "out.c1z");
      const run = await timed(["--api-key", "x", "--app-key", sim.appKey, "--base-url", sim.baseUrl, "-f", file, "--log-level", "debug"], {
        source: "sync short key",
        cwd: dir,
      });
      expect(run.code, run.error ?? run.stderr.slice(-500)).toBe(0);
      const out = run.stdout + run.stderr;
      // Before: "s[REDACTED]ncId", "retr[REDACTED]ing", "e[REDACTED]pected".
      const mangled = out.match(/[A-Za-z0-9]\[REDACTED\]|\[REDACTED\][A-Za-z0-9]/g) ?? [];
      expect(mangled).toEqual([]);
      expect(out).toContain('"syncId"');
      expect(out).not.toContain(sim.appKey);
      const warnings = lines(run.stderr).filter((l) => l.includes("--api-key / BATON_API_KEY"));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/the configured key \(not shown\) is 1 character long and not 32 hexadecimal characters/);
      expect(lines(run.stderr).filter((l) => l.includes("--app-key / BATON_APP_KEY"))).toEqual([]);

      record({
        section: "Trust",
        case: "one-character API key",
        how: "a sync with `--api-key x` (a simulator that accepts it) at debug level; the 40-character application key tracked by the hygiene scan",
        outcome: `${lines(run.stderr).length} log lines, none with [REDACTED] inside a word (before: every "x" replaced, e.g. s[REDACTED]ncId); one warning about the key's shape, without the key; the application key nowhere`,
        exitCode: run.code ?? undefined,
        message: warnings[0] === undefined ? undefined : (JSON.parse(warnings[0]) as { msg: string }).msg,
      });
    });
  });
}
