/**
 * Which program bin/baton-datadog.js runs: the bundle in dist/cli/ after a build, the sources in a checkout
 * whose sources changed after that build (or with RUN_SOURCES=1), and a lone --version without either. A fake
 * checkout holds the real launcher and package.json, and stand-ins for the bundle and the sources that say which
 * one ran.
 */
import { cpSync, mkdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { runProcess } from "../helpers/child-process.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { ROOT } from "../package/stage.ts";

const tempDir = tempDirs();
let dir: string;
const stub = (who: string) => `export async function main(argv) { process.stdout.write(${JSON.stringify(who)} + " " + argv.join(" ") + "\\n"); }\n`;

beforeEach(() => {
  dir = tempDir("launcher-");
  cpSync(join(ROOT, "bin"), join(dir, "bin"), { recursive: true });
  cpSync(join(ROOT, "package.json"), join(dir, "package.json"));
  mkdirSync(join(dir, "connectors/datadog"), { recursive: true });
  mkdirSync(join(dir, "dist/cli"), { recursive: true });
  writeFileSync(join(dir, "connectors/datadog/main.ts"), stub("sources"));
  writeFileSync(join(dir, "dist/cli/baton-datadog.mjs"), stub("bundle"));
  writeFileSync(join(dir, "dist/cli/sources.json"), JSON.stringify(["connectors/datadog/main.ts"]));
  // Built after the last edit of the sources.
  const edited = new Date(Date.now() - 60_000);
  utimesSync(join(dir, "connectors/datadog/main.ts"), edited, edited);
});

const launch = (args: string[], env: Record<string, string> = {}) =>
  runProcess(process.execPath, [join(dir, "bin/baton-datadog.js"), ...args], { cwd: dir, env: { PATH: process.env.PATH ?? "", ...env } });

describe("the launcher", () => {
  it("runs the bundle when the build is newer than every source it listed", async () => {
    expect((await launch(["help"])).stdout).toBe("bundle help\n");
  });

  it("runs the sources when one changed after the build, when one is gone, or with RUN_SOURCES=1", async () => {
    expect((await launch(["help"], { RUN_SOURCES: "1" })).stdout).toBe("sources help\n");
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(dir, "connectors/datadog/main.ts"), later, later);
    expect((await launch(["help"])).stdout).toBe("sources help\n");
    writeFileSync(join(dir, "dist/cli/sources.json"), JSON.stringify(["connectors/datadog/main.ts", "src/gone.ts"]));
    utimesSync(join(dir, "connectors/datadog/main.ts"), new Date(0), new Date(0));
    expect((await launch(["help"])).stdout).toBe("sources help\n");
  });

  it("runs the bundle where there are no sources (an installed package, the image)", async () => {
    rmSync(join(dir, "connectors"), { recursive: true });
    expect((await launch(["help"], { RUN_SOURCES: "1" })).stdout).toBe("bundle help\n");
  });

  it("answers a lone --version from package.json without running either", async () => {
    const pkg = (await import("../../package.json", { with: { type: "json" } })).default as { name: string; version: string };
    for (const flag of ["--version", "-v"]) expect((await launch([flag])).stdout).toBe(`${pkg.name} ${pkg.version}\n`);
    // With more arguments it is the program's to answer.
    expect((await launch(["--version", "--log-level", "debug"])).stdout).toBe("bundle --version --log-level debug\n");
  });
});
