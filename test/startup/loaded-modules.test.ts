/**
 * What the CLI loads (issue 14): `--help` loads the runner and zod, nothing of the connector; a one-shot sync
 * with API keys loads neither grpc-js, nor the AWS SDK, nor jose; delegated auth loads the AWS SDK only when it
 * signs. Each run is a real child process of bin/baton-datadog.js (on the sources: vitest.config.ts sets
 * RUN_SOURCES) against the simulator, with an --import hook that records every module it resolves.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { datadogCli, startSimulator } from "../../connectors/datadog/index.ts";
import { runConnectorCli } from "../../src/index.ts";
import { runProcess, type ChildRun } from "../helpers/child-process.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { staticImportClosure } from "../helpers/static-imports.ts";

const ROOT = join(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/baton-datadog.js");
const RECORDER = join(import.meta.dirname, "module-recorder.mjs");

const tempDir = tempDirs("all");
let dir: string;
let sim: Awaited<ReturnType<typeof startSimulator>>;
beforeAll(async () => {
  dir = tempDir("loaded-modules-");
  sim = await startSimulator({ seed: 3, counts: { users: 30 } });
});
afterAll(async () => {
  await sim?.close();
});

interface FlagSet {
  flag: string;
  /** Modules resolved before it was set: an index into `modules`. */
  modules: number;
  /** HTTP connections undici had made before it was set. */
  connections: number;
}

/**
 * Runs the CLI with `args`; resolves with its output, the npm packages (by name) it loaded, and the V8 flags the
 * launcher set (bin/baton-datadog.js, connectors/datadog/launcher-flags.ts).
 */
async function runRecorded(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildRun & { packages: Set<string>; modules: string[]; flags: FlagSet[] }> {
  const record = join(dir, `${name}.modules`);
  const run = await runProcess(process.execPath, ["--import", RECORDER, BIN, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: dir, RUN_SOURCES: "1", MODULE_RECORD_FILE: record, ...env },
  });
  const modules = readFileSync(record, "utf8").split("\n").filter(Boolean);
  const flags = readFileSync(`${record}.flags`, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as FlagSet);
  const packages = new Set<string>();
  for (const url of modules) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (m) packages.add(m[1]!);
  }
  return { ...run, packages, modules, flags };
}

const HEAVY = ["@grpc/grpc-js", "@aws-sdk/credential-providers", "@smithy/signature-v4", "jose"];

describe("modules the CLI loads", () => {
  it("--help loads zod and the runner only: no connector, HTTP client, logger, messages, store, simulator or node:crypto", async () => {
    const r = await runRecorded("help", ["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage:");
    expect([...r.packages]).toEqual(["zod"]);
    expect(r.modules.filter((u) => /\/(src\/(gen|store\/(?!size\.ts)|sync\/engine|http)|connectors\/datadog\/(resources|client\/datadog))/.test(u))).toEqual([]);
    // simulator/cli.ts declares `simulate`'s flags from settings.ts; the org model and the server stay unloaded.
    expect(r.modules.filter((u) => /\/simulator\//.test(u)).map((u) => u.replace(/^.*\/simulator\//, "")).sort()).toEqual(["cli.ts", "settings.ts"]);
    expect(r.modules.filter((u) => /^node:(crypto|tls|http2?)$/.test(u))).toEqual([]);
  });

  it("a one-shot sync with API keys loads undici and the messages, but neither grpc-js, nor the AWS SDK, nor jose", async () => {
    const r = await runRecorded("sync", ["--base-url", sim.baseUrl, "--api-key", sim.apiKey, "--app-key", sim.appKey, "-f", "sync.c1z"]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Sync finished in /);
    // The recorder sees what the sync needed: it would see the heavy ones too.
    expect(r.packages).toContain("undici");
    expect(r.packages).toContain("@bufbuild/protobuf");
    expect(HEAVY.filter((p) => r.packages.has(p))).toEqual([]);
    expect(r.modules.filter((u) => /\/src\/(grpc\/(serve|adapter|connector-server|connector-client)\.ts|service\/|hosted\/runtime)/.test(u))).toEqual([]);
  });

  it("a one-shot sync sends its first request before the connector, the engine, the store or the messages load", async () => {
    // cli-sync.ts opens the connection and sends the API key check, then imports the rest: what it imports
    // statically is all that loads before that request (Node loads the rest synchronously, after it is sent).
    const closure = staticImportClosure(ROOT, "connectors/datadog/cli-sync.ts");
    expect(closure).toContain("connectors/datadog/client/connection.ts");
    expect(closure).toContain("src/http/client.ts");
    // (The runner's own small pieces, loaded before any command runs, are in it: src/store/size.ts, src/sync/scope.ts...)
    const heavy = /^(src\/gen\/|src\/store\/(?!size\.ts)|src\/sync\/engine|src\/grpc\/(?!server-limits\.ts)|src\/(index|messages)\.ts$|connectors\/datadog\/(resources\/|connector\.ts|cli-run\.ts))/;
    expect(closure.filter((f) => heavy.test(f))).toEqual([]);

    // And the sync's Validate takes that check's answer: one GET /api/v1/validate per sync, as before.
    const before = sim.stats.byOperation["GET /api/v1/validate"] ?? 0;
    const r = await runRecorded("sync-validate", ["--base-url", sim.baseUrl, "--api-key", sim.apiKey, "--app-key", sim.appKey, "-f", "validate.c1z"]);
    expect(r.code).toBe(0);
    expect((sim.stats.byOperation["GET /api/v1/validate"] ?? 0) - before).toBe(1);
  });

  it("a one-shot sync sets the launcher's V8 flags once its first request is dispatched, before it connects and before the rest loads", async () => {
    const r = await runRecorded("sync-flags", ["--base-url", sim.baseUrl, "--api-key", sim.apiKey, "--app-key", sim.appKey, "-f", "flags.c1z"]);
    expect(r.code, r.stderr).toBe(0);
    // The launcher's, then runSync's own heap growth (src/sync/heap-growth.ts, for hosts without the launcher).
    const launcher = ["--liftoff-only", "--no-wasm-tier-up", "--no-wasm-dynamic-tiering", "--heap-growing-percent=20", "--no-maglev", "--optimize-for-size"];
    expect(r.flags.map((f) => f.flag)).toEqual([...launcher, "--heap-growing-percent=20"]);
    const before = r.modules.slice(0, r.flags[0]!.modules);
    // The API client had loaded (the built-ins of its path with Node's code cache) ...
    expect(before.some((u) => u.endsWith("/src/http/client.ts"))).toBe(true);
    expect(before.some((u) => u.endsWith("/connectors/datadog/cli-sync.ts"))).toBe(true);
    // ... nothing of the rest had, and undici had not connected: --liftoff-only is in place before it compiles
    // its WebAssembly HTTP parser.
    expect(before.filter((u) => /\/(cli-run|sync\/engine|store\/store)\.ts$/.test(u))).toEqual([]);
    expect(r.flags.slice(0, launcher.length).every((f) => f.connections === 0)).toBe(true);
    expect(r.modules.some((u) => u.endsWith("/src/sync/engine.ts"))).toBe(true);
  });

  it("every other command sets them before it loads its body; help sets none", async () => {
    const check = await runRecorded("check-flags", ["check", "--base-url", sim.baseUrl, "--api-key", sim.apiKey, "--app-key", sim.appKey]);
    expect(check.code, check.stderr).toBe(0);
    expect(check.flags.map((f) => f.flag)).toContain("--liftoff-only");
    expect(check.flags).toHaveLength(6);
    expect(check.modules.slice(0, check.flags[0]!.modules).filter((u) => u.endsWith("/cli-run.ts"))).toEqual([]);
    expect(check.modules.some((u) => u.endsWith("/connectors/datadog/cli-run.ts"))).toBe(true);
    for (const args of [["--help"], ["help", "check"]]) {
      const help = await runRecorded(`help-flags-${args.length}`, args);
      expect(help.code).toBe(0);
      expect(help.flags).toEqual([]);
    }
  });

  it("the sync's console logs (a terminal's format) load pino-pretty; JSON logs do not", async () => {
    const json = await runRecorded("json-logs", ["--base-url", sim.baseUrl, "--api-key", sim.apiKey, "--app-key", sim.appKey, "-f", "json.c1z", "--log-format", "json"]);
    expect(json.code).toBe(0);
    expect(json.packages.has("pino-pretty")).toBe(false);
    const console = await runRecorded("console-logs", ["--base-url", sim.baseUrl, "--api-key", sim.apiKey, "--app-key", sim.appKey, "-f", "console.c1z", "--log-format", "console"]);
    expect(console.code).toBe(0);
    expect(console.packages.has("pino-pretty")).toBe(true);
  });
});

describe("--version", () => {
  it("bin/ answers a lone --version (and -v) without loading the program, with the runner's own words", async () => {
    const lines: string[] = [];
    const code = await runConnectorCli(datadogCli, ["--version"], { stdout: { write: (t: string) => lines.push(t) } }, { handleSignals: false });
    expect(code).toBe(0);
    for (const flag of ["--version", "-v"]) {
      const r = await runRecorded(`version${flag}`, [flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(lines.join(""));
      expect(r.modules.filter((u) => u.startsWith("file:") && !u.endsWith("/bin/baton-datadog.js"))).toEqual([]);
    }
  });
});
