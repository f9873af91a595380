/**
 * The CLI bundle (scripts/bundle-cli.ts, the build's last step) is what bin/ runs once the package is built: it
 * must behave as the sources do. A private stage of the package build (test/package/stage.ts, tsc + bundle) runs
 * `--help` and a one-shot sync against the simulator; the answers are compared with the sources' own, and the
 * module recorder shows the bundle is what ran (no dist/src module, none of grpc-js, the AWS SDK, jose).
 */
import { globSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { datadogCli, startSimulator } from "../../connectors/datadog/index.ts";
import { runConnectorCli } from "../../src/index.ts";
import { runProcess } from "../helpers/child-process.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { ROOT, stagePackage } from "../package/stage.ts";

const RECORDER = join(import.meta.dirname, "module-recorder.mjs");

const tempDir = tempDirs("all");
let stage: string;
let dir: string;
let sim: Awaited<ReturnType<typeof startSimulator>>;
beforeAll(async () => {
  stage = stagePackage();
  // The stage is the package without its dependencies: the checkout's serve it, as an install's would.
  symlinkSync(join(ROOT, "node_modules"), join(stage, "node_modules"));
  dir = tempDir("bundle-run-");
  sim = await startSimulator({ seed: 5, counts: { users: 40 } });
}, 180_000);
afterAll(async () => {
  await sim?.close();
  if (stage) rmSync(stage, { recursive: true, force: true });
});

async function run(bin: string, name: string, args: string[]) {
  const record = join(dir, `${name}.modules`);
  const r = await runProcess(process.execPath, ["--import", RECORDER, bin, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: dir, RUN_SOURCES: "1", MODULE_RECORD_FILE: record },
  });
  return { ...r, modules: readFileSync(record, "utf8").split("\n").filter(Boolean) };
}

const local = (modules: string[], root: string) => modules.filter((u) => u.startsWith(`file://${root}/`) && !u.includes("/node_modules/")).map((u) => u.slice(`file://${root}/`.length));
/** The summary's table rows (per type and total), without the line that says how long the sync took. */
const countRows = (stdout: string) => stdout.split("\n").filter((l) => /^\S+\s+[\d,]+\s+[\d,]+\s+[\d,]+$/.test(l.trim()));

describe("the CLI bundle", () => {
  it("is what the built package's bin/ runs, and its --help is the sources' own", async () => {
    const lines: string[] = [];
    await runConnectorCli(datadogCli, ["--help"], { stdout: { write: (t: string) => lines.push(t) } }, { handleSignals: false });
    const r = await run(join(stage, "bin/baton-datadog.js"), "help", ["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(lines.join(""));
    const loaded = local(r.modules, stage);
    expect(loaded).toContain("dist/cli/baton-datadog.mjs");
    expect(loaded.filter((f) => !f.startsWith("dist/cli/") && f !== "bin/baton-datadog.js")).toEqual([]);
  });

  it("syncs the simulator to the same counts as the sources, loading no grpc-js, AWS SDK or jose", async () => {
    const args = (file: string) => ["--base-url", sim.baseUrl, "--api-key", sim.apiKey, "--app-key", sim.appKey, "-f", join(dir, file)];
    const bundled = await run(join(stage, "bin/baton-datadog.js"), "sync-bundle", args("bundle.c1z"));
    expect(bundled.stderr).not.toMatch(/error/i);
    expect(bundled.code).toBe(0);
    const sources = await run(join(ROOT, "bin/baton-datadog.js"), "sync-sources", args("sources.c1z"));
    expect(sources.code).toBe(0);
    expect(countRows(bundled.stdout).length).toBeGreaterThan(3);
    expect(countRows(bundled.stdout)).toEqual(countRows(sources.stdout));
    expect(local(bundled.modules, stage).filter((f) => f.startsWith("dist/") && !f.startsWith("dist/cli/"))).toEqual([]);
    expect(bundled.modules.filter((u) => /\/node_modules\/(@grpc|@aws-sdk|@smithy|jose)\//.test(u))).toEqual([]);
  });

  it("is ASCII with no comments but legal ones: V8 keeps each script's source for the process's life, two bytes per character once one is beyond Latin-1", () => {
    const chunks = globSync("dist/cli/*.mjs", { cwd: stage });
    expect(chunks.length).toBeGreaterThan(10);
    for (const chunk of chunks) {
      const text = readFileSync(join(stage, chunk), "utf8");
      expect(/[^\x00-\x7f]/.exec(text)?.[0], chunk).toBeUndefined();
      // JSDoc of the SDK's own sources (each module opens with one) is gone; rolldown's region markers stay.
      expect(text, chunk).not.toMatch(/^\/\*\*\n\s*\* /m);
    }
  });
});
