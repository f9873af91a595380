/**
 * bin/baton-datadog.js's V8 flags for memory (--liftoff-only, the sync's heap growth from src/sync/heap-growth.ts,
 * no Maglev, size over speed): it sets none before the program loads, because one changed flag makes V8 refuse the
 * code cache of Node's built-in modules; it hands the program a function that sets them, once
 * (connectors/datadog/launcher-flags.ts). A fake checkout holds the real launcher and package.json and a stand-in
 * bundle, and a preloaded module records every v8.setFlagsFromString call. The stand-in prints what was recorded
 * when it loaded and after it called the function twice.
 */
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_HEAP_GROWING_PERCENT, HEAP_GROWING_ENV } from "../../src/sync/heap-growth.ts";
import { runProcess } from "../helpers/child-process.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { ROOT } from "../package/stage.ts";

const tempDir = tempDirs();
const LIFTOFF = ["--liftoff-only", "--no-wasm-tier-up", "--no-wasm-dynamic-tiering"];
const OFS = "--optimize-for-size";
const GROWTH = `--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`;
let dir: string;

// Wraps node:v8's setFlagsFromString before the launcher imports it (syncBuiltinESMExports makes `import
// { setFlagsFromString } from "node:v8"` see the wrapper).
const RECORDER = `import { createRequire, syncBuiltinESMExports } from "node:module";
const v8 = createRequire(import.meta.url)("node:v8");
const set = v8.setFlagsFromString;
globalThis.__flags = [];
v8.setFlagsFromString = (flags) => { globalThis.__flags.push(flags); return set(flags); };
syncBuiltinESMExports();
`;

// The stand-in program calls the hook the way launcher-flags.ts does.
const PROGRAM = `const atLoad = [...globalThis.__flags];
export async function main(argv) {
  const hook = globalThis[Symbol.for("baton-datadog.launcher-flags")];
  if (typeof hook === "function") { hook(); hook(); }
  process.stdout.write(JSON.stringify({ atLoad, hook: typeof hook, set: globalThis.__flags }) + "\\n");
}
`;

beforeEach(() => {
  dir = tempDir("heap-flag-");
  cpSync(join(ROOT, "bin"), join(dir, "bin"), { recursive: true });
  cpSync(join(ROOT, "package.json"), join(dir, "package.json"));
  mkdirSync(join(dir, "dist/cli"), { recursive: true });
  writeFileSync(join(dir, "recorder.mjs"), RECORDER);
  writeFileSync(join(dir, "dist/cli/baton-datadog.mjs"), PROGRAM);
  writeFileSync(join(dir, "dist/cli/sources.json"), "[]");
});

interface Recorded {
  atLoad: string[];
  hook: string;
  set: string[];
}

async function launch(args: string[], env: Record<string, string> = {}): Promise<Recorded> {
  const run = await runProcess(process.execPath, ["--import", join(dir, "recorder.mjs"), join(dir, "bin/baton-datadog.js"), ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim()) as Recorded;
}

/** The flags the program's call sets (none before it loads, whatever the run). */
async function flagsSet(args: string[], env: Record<string, string> = {}): Promise<string[]> {
  const r = await launch(args, env);
  expect(r.atLoad).toEqual([]);
  return r.set;
}

describe("the launcher's V8 flags (liftoff, heap growth, Maglev, size over speed)", () => {
  it("sets none before the program loads, and all of them, once, when the program asks", async () => {
    for (const args of [[], ["sync"], ["--base-url", "http://127.0.0.1:1"], ["serve"], ["lambda"]]) {
      const r = await launch(args);
      expect(r.atLoad).toEqual([]);
      expect(r.hook).toBe("function");
      expect(r.set).toEqual([...LIFTOFF, GROWTH, "--no-maglev", OFS]);
    }
  });

  it("sets none and offers none for help, which has no use for them (the built-ins' code cache stays on)", async () => {
    for (const args of [["--help"], ["-h"], ["help"], ["demo", "--help"]]) {
      const r = await launch(args);
      expect(r).toEqual({ atLoad: [], hook: "undefined", set: [] });
    }
  });

  it("takes the same variable as runSync, 0 included (V8's own growth)", async () => {
    expect(await flagsSet(["sync"], { [HEAP_GROWING_ENV]: " 35 " })).toEqual([...LIFTOFF, "--heap-growing-percent=35", "--no-maglev", OFS]);
    expect(await flagsSet(["sync"], { [HEAP_GROWING_ENV]: "0" })).toEqual([...LIFTOFF, "--heap-growing-percent=0", "--no-maglev", OFS]);
  });

  it("leaves a value runSync refuses for runSync to refuse, with its message", async () => {
    for (const bad of ["lots", "401", "1.5", "-5"]) expect(await flagsSet(["sync"], { [HEAP_GROWING_ENV]: bad })).toEqual([...LIFTOFF, "--no-maglev", OFS]);
  });

  it("turns V8's Maglev tier off (memory), unless BATON_MAGLEV=on", async () => {
    expect(await flagsSet(["sync"], { BATON_MAGLEV: "on" })).toEqual([...LIFTOFF, GROWTH, OFS]);
    expect(await flagsSet(["sync"], { BATON_MAGLEV: "off" })).toContain("--no-maglev");
  });

  it("puts V8 in its memory-over-speed mode, unless BATON_OPTIMIZE_FOR_SIZE=off", async () => {
    for (const off of ["off", "0", "NO", "false"]) {
      expect(await flagsSet(["sync"], { BATON_OPTIMIZE_FOR_SIZE: off })).toEqual([...LIFTOFF, GROWTH, "--no-maglev"]);
    }
    // Anything else, "on" included, keeps the default.
    for (const on of ["on", "", "maybe"]) expect(await flagsSet(["sync"], { BATON_OPTIMIZE_FOR_SIZE: on })).toContain(OFS);
  });

  it("sets nothing for a lone --version, which loads no program", async () => {
    const run = await runProcess(process.execPath, ["--import", join(dir, "recorder.mjs"), "--import", "data:text/javascript,process.on('exit',()=>process.stderr.write(JSON.stringify(globalThis.__flags)))", join(dir, "bin/baton-datadog.js"), "--version"], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "" },
    });
    expect(run.stdout).toMatch(/^baton-datadog \d/);
    expect(run.stderr).toBe("[]");
  });

  it("imported (the bench's sync child), runs no program and lends its list, environment switches included", async () => {
    const script = `const m = await import(${JSON.stringify(pathToFileURL(join(dir, "bin/baton-datadog.js")).href)});
      process.stdout.write(JSON.stringify({ defaults: m.launcherFlags({}), switched: m.launcherFlags({ BATON_MAGLEV: "on", BATON_OPTIMIZE_FOR_SIZE: "off" }), hook: typeof globalThis[Symbol.for("baton-datadog.launcher-flags")] }));`;
    const run = await runProcess(process.execPath, ["--import", join(dir, "recorder.mjs"), "--input-type=module", "-e", script, "--", "sync"], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "" },
    });
    expect(run.code, run.stderr).toBe(0);
    // The stand-in program prints its record when it runs; imported, the launcher neither loads it nor sets a flag.
    expect(JSON.parse(run.stdout)).toEqual({ defaults: [...LIFTOFF, GROWTH, "--no-maglev", OFS], switched: [...LIFTOFF, GROWTH], hook: "undefined" });
  });
});
