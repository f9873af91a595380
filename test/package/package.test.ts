// The npm package as a user gets it: built, packed with `npm pack`, installed from the tarball into an empty
// directory, then run through its bin with the user's Node. Also what the tarball must not carry (tests,
// sources, the simulator's test support, benches) and the one-line refusal of a Node older than `engines`.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDirs } from "../helpers/temp-dir.ts";
import { ROOT, stagePackage } from "./stage.ts";

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  version: string;
  engines: { node: string };
  exports: Record<string, string | { types: string; default: string }>;
};
// The user's PATH without this repository's node_modules/.bin (which brings the `node` devDependency).
const systemPath = (process.env.PATH ?? "").split(delimiter).filter((p) => !p.includes("node_modules")).join(delimiter);
const node24Path = [dirname(process.execPath), systemPath].join(delimiter);

type Packed = { filename: string; size: number; unpackedSize: number; entryCount: number; files: { path: string }[] };

const tempDir = tempDirs("all");
const dirs: string[] = [];
let packed: Packed;
let tarball = "";
let app = "";
let installError = "";

beforeAll(() => {
  const stage = stagePackage();
  dirs.push(stage);
  const out = tempDir("baton-tgz-");
  // The stage is built already; --ignore-scripts keeps prepack (npm run build, which needs the sources) out of it.
  packed = (JSON.parse(execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", out], { cwd: stage, encoding: "utf8", env: { ...process.env, PATH: node24Path } })) as Packed[])[0];
  tarball = join(out, packed.filename);
  console.log(`tarball ${packed.filename}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${packed.entryCount} files`);
  app = tempDir("baton-app-");
  writeFileSync(join(app, "package.json"), '{ "name": "an-app", "private": true }\n');
  // Dependencies come from npm's cache when they are there (after `npm ci`), from the registry otherwise.
  const install = spawnSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball], {
    cwd: app,
    encoding: "utf8",
    env: { ...process.env, PATH: node24Path },
    timeout: 120_000,
  });
  if (install.status !== 0) installError = `npm install of the tarball failed (no registry and no npm cache?): ${(install.stderr || String(install.error)).trim().split("\n").at(-1)}`;
}, 180_000);
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the packed tarball", () => {
  it("carries bin/, the compiled dist/ with declarations, and no tests, sources, benches or test support", () => {
    const files = packed.files.map((f) => f.path);
    for (const f of ["package.json", "bin/baton-datadog.js", "dist/connectors/datadog/main.js", "dist/connectors/datadog/simulator/server.js", "dist/src/gen/c1/connector/v2/resource_pb.js"]) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
    expect(files.filter((f) => /\.test\.|(^|\/)test\/|test-support|\/bench\//.test(f))).toEqual([]);
    expect(files.filter((f) => !/^(bin\/|dist\/|package\.json$|README\.md$|LICENSE)/.test(f))).toEqual([]);
  });

  it("holds every target of package.json's exports, each with its declarations", () => {
    const files = new Set(packed.files.map((f) => f.path));
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === "string") {
        expect(files.has(target.replace(/^\.\//, "")), `${subpath} -> ${target}`).toBe(true);
        continue;
      }
      expect(files.has(target.default.replace(/^\.\//, "")), `${subpath} -> ${target.default}`).toBe(true);
      expect(files.has(target.types.replace(/^\.\//, "")), `${subpath} types -> ${target.types}`).toBe(true);
    }
  });
});

describe("installed from the tarball into an empty directory", () => {
  const bin = () => join(app, "node_modules", ".bin", "baton-datadog");

  it("npx baton-datadog demo writes demo.c1z, and --version names the package's version", (ctx) => {
    if (installError) ctx.skip(installError);
    const demo = spawnSync(bin(), ["demo"], { cwd: app, encoding: "utf8", env: { PATH: node24Path, HOME: app }, timeout: 60_000 });
    expect(demo.status, demo.stderr).toBe(0);
    expect(existsSync(join(app, "demo.c1z"))).toBe(true);
    const version = spawnSync(bin(), ["--version"], { cwd: app, encoding: "utf8", env: { PATH: node24Path } });
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(`baton-datadog ${pkg.version}`);
  });

  it("keeps Node's compile cache in the user's own cache directory, and none with BATON_COMPILE_CACHE=off", (ctx) => {
    if (installError) ctx.skip(installError);
    const home = tempDir("baton-home-");
    const cache = join(home, ".cache", "baton-datadog", "compile-cache");
    const help = spawnSync(bin(), ["--help"], { cwd: app, encoding: "utf8", env: { PATH: node24Path, HOME: home }, timeout: 60_000 });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stderr).toBe("");
    // One directory per Node version and V8 flags, holding an entry per module the run compiled.
    const [versioned] = readdirSync(cache);
    expect(versioned).toMatch(/^v\d+\.\d+\.\d+-/);
    expect(readdirSync(join(cache, versioned!)).length).toBeGreaterThan(3);
    // XDG_CACHE_HOME wins over HOME; off turns it off.
    const xdg = tempDir("baton-xdg-");
    expect(spawnSync(bin(), ["--help"], { cwd: app, env: { PATH: node24Path, HOME: home, XDG_CACHE_HOME: xdg } }).status).toBe(0);
    expect(existsSync(join(xdg, "baton-datadog", "compile-cache"))).toBe(true);
    const off = tempDir("baton-home-off-");
    expect(spawnSync(bin(), ["--help"], { cwd: app, env: { PATH: node24Path, HOME: off, BATON_COMPILE_CACHE: "off" } }).status).toBe(0);
    expect(readdirSync(off)).toEqual([]);
  });

  it("the SDK, the messages and the Datadog connector import by their package names", (ctx) => {
    if (installError) ctx.skip(installError);
    const script = Object.keys(pkg.exports)
      .filter((s) => s !== "./package.json")
      .map((s) => `Object.keys(await import(${JSON.stringify(s === "." ? "baton-datadog" : `baton-datadog/${s.slice(2)}`)})).length`);
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", `console.log(JSON.stringify([${script.join(",")}]))`], { cwd: app, encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const counts = JSON.parse(run.stdout) as number[];
    expect(counts.length).toBe(Object.keys(pkg.exports).length - 1); // every export but ./package.json, "./lambda" included
    for (const c of counts) expect(c).toBeGreaterThan(0);
  });

  it("on a Node.js older than engines.node, says in one line which version is needed and exits 2", (ctx) => {
    if (installError) ctx.skip(installError);
    const found = spawnSync("node", ["-p", "process.versions.node"], { encoding: "utf8", env: { PATH: systemPath } });
    const old = found.status === 0 ? found.stdout.trim() : "";
    const required = pkg.engines.node.replace(/^>=\s*/, "");
    if (!old || Number(old.split(".")[0]) >= Number(required.split(".")[0])) ctx.skip(`no Node.js older than ${required} on the system PATH (found ${old || "none"})`);
    const run = spawnSync(bin(), ["demo"], { cwd: app, encoding: "utf8", env: { PATH: systemPath } });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n")).toEqual([expect.stringContaining(`needs Node.js ${required} or newer; this is Node.js ${old}`)]);
    expect(run.stderr).not.toMatch(/\bat |ERR_/);
  });
});
