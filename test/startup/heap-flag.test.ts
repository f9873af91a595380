/**
 * bin/baton-datadog.js sets the sync's heap growth (src/sync/heap-growth.ts), turns V8's Maglev tier off and puts V8
 * in its memory-over-speed mode before the program loads: a fake checkout holds the real launcher and package.json
 * and a stand-in bundle, and a preloaded module records every v8.setFlagsFromString call. The stand-in prints what
 * was recorded when it loads, so a flag set after the program started loading would not be in its line.
 */
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_HEAP_GROWING_PERCENT, HEAP_GROWING_ENV } from "../../src/sync/heap-growth.ts";
import { runProcess } from "../helpers/child-process.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { ROOT } from "../package/stage.ts";

const tempDir = tempDirs();
const OFS = "--optimize-for-size";
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

beforeEach(() => {
  dir = tempDir("heap-flag-");
  cpSync(join(ROOT, "bin"), join(dir, "bin"), { recursive: true });
  cpSync(join(ROOT, "package.json"), join(dir, "package.json"));
  mkdirSync(join(dir, "dist/cli"), { recursive: true });
  writeFileSync(join(dir, "recorder.mjs"), RECORDER);
  writeFileSync(
    join(dir, "dist/cli/baton-datadog.mjs"),
    `const atLoad = JSON.stringify(globalThis.__flags);\nexport async function main(argv) { process.stdout.write(atLoad + "\\n"); }\n`,
  );
  writeFileSync(join(dir, "dist/cli/sources.json"), "[]");
});

async function flagsSet(args: string[], env: Record<string, string> = {}): Promise<string> {
  const run = await runProcess(process.execPath, ["--import", join(dir, "recorder.mjs"), join(dir, "bin/baton-datadog.js"), ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  expect(run.code, run.stderr).toBe(0);
  return run.stdout.trim();
}

describe("the launcher's V8 flags (heap growth, Maglev, size over speed)", () => {
  it("sets the sync's default before the program loads", async () => {
    expect(await flagsSet(["sync"])).toBe(JSON.stringify([`--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`, "--no-maglev", OFS]));
  });

  it("takes the same variable as runSync, 0 included (V8's own growth)", async () => {
    expect(await flagsSet(["sync"], { [HEAP_GROWING_ENV]: " 35 " })).toBe(JSON.stringify(["--heap-growing-percent=35", "--no-maglev", OFS]));
    expect(await flagsSet(["sync"], { [HEAP_GROWING_ENV]: "0" })).toBe(JSON.stringify(["--heap-growing-percent=0", "--no-maglev", OFS]));
  });

  it("leaves a value runSync refuses for runSync to refuse, with its message", async () => {
    for (const bad of ["lots", "401", "1.5", "-5"]) expect(await flagsSet(["sync"], { [HEAP_GROWING_ENV]: bad })).toBe(JSON.stringify(["--no-maglev", OFS]));
  });

  it("turns V8's Maglev tier off before the program loads (memory), unless BATON_MAGLEV=on", async () => {
    expect(JSON.parse(await flagsSet(["sync"], { BATON_MAGLEV: "on" }))).toEqual([`--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`, OFS]);
    expect(JSON.parse(await flagsSet(["sync"], { BATON_MAGLEV: "off" }))).toContain("--no-maglev");
  });

  it("puts V8 in its memory-over-speed mode before the program loads, unless BATON_OPTIMIZE_FOR_SIZE=off", async () => {
    for (const off of ["off", "0", "NO", "false"]) {
      expect(JSON.parse(await flagsSet(["sync"], { BATON_OPTIMIZE_FOR_SIZE: off }))).toEqual([`--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`, "--no-maglev"]);
    }
    // Anything else, "on" included, keeps the default.
    for (const on of ["on", "", "maybe"]) expect(JSON.parse(await flagsSet(["sync"], { BATON_OPTIMIZE_FOR_SIZE: on }))).toContain(OFS);
  });

  it("sets nothing for a lone --version, which loads no program", async () => {
    const run = await runProcess(process.execPath, ["--import", join(dir, "recorder.mjs"), "--import", "data:text/javascript,process.on('exit',()=>process.stderr.write(JSON.stringify(globalThis.__flags)))", join(dir, "bin/baton-datadog.js"), "--version"], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "" },
    });
    expect(run.stdout).toMatch(/^baton-datadog \d/);
    expect(run.stderr).toBe("[]");
  });
});
