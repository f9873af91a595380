// What the image ships, computed without a container engine: the Dockerfile's build stage is run on a copy of the
// build context (its COPYs with .dockerignore's rules, then `npm run build` and the prune step exactly as written),
// and what it leaves in dist/ is compared with an independent account of what runs: the entry module the launcher
// (bin/baton-datadog.js) actually loads from the full build, found with a module resolve hook, and every file that
// entry reaches through static imports and literal dynamic imports (test/deploy/runtime-imports.ts, a different
// reader from the prune's lexer). A file shipped that nothing reaches fails, and so does a reachable one missing.
// Then the image's /app is assembled from the Dockerfile's COPYs and runs: --version, `demo`, and `lambda` serving
// an invocation through the Lambda Runtime API emulator.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../connectors/datadog/simulator/index.ts";
import { ConnectorServiceGetMetadataRequestSchema } from "../../src/gen/c1/connector/v2/connector_pb.js";
import { ResourceTypesServiceListResourceTypesRequestSchema, type ResourceTypesServiceListResourceTypesResponse } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { makeTempDir } from "../helpers/temp-dir.ts";
import { runProcess } from "../helpers/child-process.ts";
import { invoke, startHostedPlatform, startRuntimeApiEmulator } from "../hosted/platform/index.ts";
import { linkedNodeModules, runBuildStage } from "./build-stage.ts";
import { copyFrom, imageFilesFromContext, instructionsOf, readDockerfile, type DockerfileModel } from "./dockerfile-model.ts";
import { isBuiltin, packageName, runtimeGraph, type RuntimeGraph } from "./runtime-imports.ts";
import { init, parse } from "es-module-lexer";

const ROOT = join(import.meta.dirname, "..", "..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { name: string; version: string; dependencies: Record<string, string> };
const PRUNE_STEP = /^node scripts\/image-prune\.ts\b/;

/** Files under `dir`, '/'-separated and relative to `base`. */
function filesUnder(base: string, dir: string): string[] {
  return (readdirSync(join(base, dir), { recursive: true }) as string[])
    .map((f) => `${dir}/${f.split("\\").join("/")}`)
    .filter((f) => statSync(join(base, f)).isFile())
    .sort();
}

/** The entry module(s) under dist/ that `node bin/baton-datadog.js --help` loads first, seen by a resolve hook. */
function launcherEntry(appDir: string, scratch: string): string {
  const log = join(scratch, "resolved.log");
  const hook = join(scratch, "resolve-hook.mjs");
  writeFileSync(log, "");
  writeFileSync(
    hook,
    `import { registerHooks } from "node:module";\nimport { appendFileSync } from "node:fs";\n` +
      `registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); if (r.url.startsWith("file:")) appendFileSync(${JSON.stringify(log)}, r.url + "\\n"); return r; } });\n`,
  );
  const r = spawnSync(process.execPath, ["--import", pathToFileURL(hook).href, join(appDir, "bin", "baton-datadog.js"), "--help"], {
    cwd: scratch,
    env: { PATH: "/usr/bin:/bin", HOME: scratch },
    encoding: "utf8",
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`the launcher's --help failed on the build (exit ${r.status}): ${r.stderr}`);
  const distPrefix = pathToFileURL(join(appDir, "dist")).href + "/";
  const first = readFileSync(log, "utf8").split("\n").find((u) => u.startsWith(distPrefix));
  if (!first) throw new Error("the launcher loaded nothing from dist/");
  return `dist/${decodeURIComponent(first.slice(distPrefix.length))}`;
}

/** Shipped files nothing reaches, and reached files not shipped (both under dist/). */
export function compareShipped(shipped: readonly string[], reached: ReadonlySet<string>): { unreachable: string[]; missing: string[] } {
  const set = new Set(shipped);
  return {
    unreachable: shipped.filter((f) => !reached.has(f)),
    missing: [...reached].filter((f) => f.startsWith("dist/") && !set.has(f)).sort(),
  };
}

const scratch = makeTempDir("baton-image-files-");
const runtime = readDockerfile(ROOT);
const lambda = readDockerfile(ROOT, "lambda");

/** The stage the image's dist/ comes from (`COPY --from=<stage> /app/dist ./dist`). */
function distStageName(model: DockerfileModel): string {
  const copies = instructionsOf(model.final, "COPY").filter((i) => copyFrom(i) !== null && i.getArguments().some((a) => /\/dist$/.test(a.getValue())));
  expect(copies, "one COPY --from=<stage> …/dist").toHaveLength(1);
  return copyFrom(copies[0])!;
}

let stageDir = "";
let fullBuild: string[] = [];
let entry = "";
let graph: RuntimeGraph;
let pruneStep = "";
let shipped: string[] = [];
let appDir = "";

beforeAll(() => {
  const stage = runtime.stages.find((s) => s.name === distStageName(runtime))!;
  stageDir = runBuildStage(ROOT, stage, (step, dir) => {
    if (!PRUNE_STEP.test(step)) return;
    // The build is complete: read what runs before the prune deletes anything, in the image's layout (dist/ next
    // to bin/ and package.json, no sources: the launcher decides by what is there).
    pruneStep = step;
    fullBuild = filesUnder(dir, "dist");
    const full = join(scratch.dir, "unpruned-app");
    cpSync(join(dir, "dist"), join(full, "dist"), { recursive: true });
    cpSync(join(ROOT, "bin"), join(full, "bin"), { recursive: true });
    cpSync(join(ROOT, "package.json"), join(full, "package.json"));
    linkedNodeModules(ROOT, full);
    entry = launcherEntry(full, scratch.dir);
    graph = runtimeGraph(full, [entry]);
  });
  expect(pruneStep, "the build stage runs scripts/image-prune.ts after the build").not.toBe("");
  shipped = filesUnder(stageDir, "dist");

  // The image's /app: dist/ from the build stage, the rest from the build context, as the Dockerfile copies them.
  appDir = join(scratch.dir, "app");
  mkdirSync(appDir);
  cpSync(join(stageDir, "dist"), join(appDir, "dist"), { recursive: true });
  for (const [imagePath, contextPath] of imageFilesFromContext(ROOT, runtime)) {
    if (!imagePath.startsWith("/app/")) continue;
    mkdirSync(join(appDir, imagePath.slice(5), ".."), { recursive: true });
    cpSync(join(ROOT, contextPath), join(appDir, imagePath.slice(5)));
  }
  linkedNodeModules(ROOT, appDir);
}, 240_000);

afterAll(() => {
  if (stageDir) rmSync(stageDir, { recursive: true, force: true });
  scratch.cleanup();
});

describe("the image's dist/ is what the launcher can load, no more and no less", () => {
  it("the prune starts from the module the launcher runs", () => {
    const candidates = pruneStep.split(/\s+/).filter((a) => a.startsWith("dist/"));
    expect(candidates, `${pruneStep} names the launcher's candidates`).toContain(entry);
    // --first-existing takes the first candidate the build made: it must be the one the launcher picks.
    const firstBuilt = candidates.find((c) => fullBuild.includes(c));
    expect(firstBuilt, `the launcher runs ${entry}; the prune would start from ${firstBuilt}`).toBe(entry);
  });

  it("every shipped file is reached from the entry, and every reached file is shipped", () => {
    expect(graph.missing, "imports the independent reader could not resolve").toEqual([]);
    const { unreachable, missing } = compareShipped(shipped, graph.files);
    expect(unreachable, "shipped but no entry loads them").toEqual([]);
    expect(missing, "loaded by the program but not in the image").toEqual([]);
    expect(shipped).toContain(entry);
    const bytes = (files: string[], dir: string) => files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    console.log(
      `image dist/: ${shipped.length} files (${bytes(shipped, stageDir)} bytes) from the build's ${fullBuild.length}; entry ${entry}; ` +
        `pruned ${fullBuild.filter((f) => /\.(m|c)?js$/.test(f) && !shipped.includes(f)).length} unreached modules and ${fullBuild.filter((f) => !/\.(m|c)?js$/.test(f)).length} declarations/maps`,
    );
  });

  it("the comparison catches a stray module and a missing one", () => {
    const reachedOne = shipped.find((f) => f !== entry)!;
    const tampered = [...shipped.filter((f) => f !== reachedOne), "dist/src/never-imported.js"];
    expect(compareShipped(tampered, graph.files)).toEqual({ unreachable: ["dist/src/never-imported.js"], missing: [reachedOne] });
  });

  it("ships no declarations, source maps, tests, benches or simulator test support, and only world-readable files", () => {
    expect(shipped.filter((f) => /\.d\.[cm]?ts$|\.map$|\.test\.|\/bench\/|test-support/.test(f))).toEqual([]);
    // Lambda runs the function as a user of its own: every file must be readable by others.
    expect(shipped.filter((f) => (statSync(join(stageDir, f)).mode & 0o004) === 0)).toEqual([]);
  });

  it("keeps the lazily loaded parts: the lambda command's runtime, grpc serving, the hosted handler's modules", () => {
    const loads = (needle: RegExp) => [...graph.files].some((f) => needle.test(readFileSync(join(stageDir, f), "utf8")));
    // Whether bundled or not, the code of `lambda` (the Runtime API client) and of `serve` is in the shipped files.
    expect(loads(/AWS_LAMBDA_RUNTIME_API/), "the Runtime API client").toBe(true);
    expect(loads(/\/invocation\/next/), "the Runtime API's next-invocation path").toBe(true);
    expect(loads(/@grpc\/grpc-js/), "grpc serving").toBe(true);
  });

  it("every package the shipped code imports is a production dependency (dev dependencies are not in the image)", async () => {
    // Read with a lexer: bundled chunks inline packages whose comments show `import … from '…'` examples, which
    // the regex reader above takes for imports (harmless for files: a made-up relative path would show as missing).
    await init;
    const imported = new Map<string, string>();
    for (const f of shipped.filter((f) => /\.(m|c)?js$/.test(f))) {
      for (const imp of parse(readFileSync(join(stageDir, f), "utf8"), f)[0]) {
        const n = imp.n;
        if (n === undefined || n.startsWith(".") || n.startsWith("/") || isBuiltin(n)) continue;
        if (!imported.has(packageName(n))) imported.set(packageName(n), f);
      }
    }
    expect(imported.size).toBeGreaterThan(3);
    const notProduction = [...imported].filter(([name]) => !(name in pkg.dependencies)).map(([name, by]) => `${name} (imported by ${by})`);
    expect(notProduction).toEqual([]);
  });
});

describe("the assembled /app runs", () => {
  const imageEnv = (home: string) => ({ PATH: "/usr/bin:/bin", NODE_ENV: "production", NODE_OPTIONS: "--max-semi-space-size=2", MALLOC_ARENA_MAX: "2", TMPDIR: home, HOME: home });

  it("--version and demo", async () => {
    const work = join(scratch.dir, "work");
    mkdirSync(work);
    const version = await runProcess(process.execPath, [join(appDir, "bin", "baton-datadog.js"), "--version"], { cwd: work, env: imageEnv(work) });
    expect(version.stdout.trim()).toBe(`${pkg.name} ${pkg.version}`);
    const demo = await runProcess(process.execPath, [join(appDir, "bin", "baton-datadog.js"), "demo"], { cwd: work, env: imageEnv(work) });
    expect(demo.code, demo.stderr).toBe(0);
    expect(demo.stdout).toMatch(/^Sync finished in [\d.]+m?s\b/m);
    expect(demo.stdout).toMatch(/^user\s+200\b/m);
  }, 60_000);

  it("`lambda` (the lambda target's command) serves invocations through the Runtime API emulator", async () => {
    expect(lambda.final.name).toBe("lambda");
    const command = [...instructionsOf(lambda.final, "ENTRYPOINT"), ...instructionsOf(lambda.final, "CMD")].flatMap((i) => JSON.parse(i.getArgumentsContent() ?? "[]") as string[]);
    expect(command).toEqual(["node", "/app/bin/baton-datadog.js", "lambda"]);
    const sim = await startSimulator({ seed: 5, counts: { users: 3, teams: 1, roles: 2, schedules: 1, apiKeys: 1, appKeys: 1, serviceAccounts: 1 } });
    const platform = await startHostedPlatform({ config: { config: { "api-key": sim.apiKey, "app-key": sim.appKey, "base-url": sim.baseUrl }, version: "cv-1" } });
    const emulator = await startRuntimeApiEmulator();
    const tmp = join(scratch.dir, "lambda-tmp");
    mkdirSync(tmp);
    // The lambda target's environment (TMPDIR and HOME on /tmp) plus what Lambda and the platform set.
    const fn = spawn(process.execPath, [join(appDir, "bin", "baton-datadog.js"), command.at(-1)!], {
      cwd: tmp,
      env: { ...imageEnv(tmp), ...platform.env, ...emulator.env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    fn.stderr.on("data", (d) => (stderr += String(d)));
    try {
      expect(await emulator.waitForReady(30_000), stderr).toBe("ready");
      const meta = await invoke(emulator, "/c1.connector.v2.ConnectorService/GetMetadata", create(ConnectorServiceGetMetadataRequestSchema), { jwt: await platform.mintInvocationJwt() });
      expect(meta.status, stderr).toMatchObject({ code: 0 });
      const types = await invoke(emulator, "/c1.connector.v2.ResourceTypesService/ListResourceTypes", create(ResourceTypesServiceListResourceTypesRequestSchema), { jwt: await platform.mintInvocationJwt() });
      expect(types.status.code, stderr).toBe(0);
      expect((types.response as ResourceTypesServiceListResourceTypesResponse).list.map((t) => t.id)).toContain("user");
      const status = existsSync(`/proc/${fn.pid}/status`) ? readFileSync(`/proc/${fn.pid}/status`, "utf8") : "";
      const hwm = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
      console.log(`lambda from the image's files: peak RSS ${hwm ? Math.round(Number(hwm) / 1024) : "?"} MB after cold start and 2 invocations`);
    } finally {
      fn.kill();
      await emulator.close();
      await platform.close();
      await sim.close();
    }
  }, 60_000);
});
