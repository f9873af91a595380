/**
 * The Lambda deployment zip (issue 15 item 7) as Lambda gets it: built into a private stage (test/package/stage.ts,
 * the same build as `npm run build`), packaged by scripts/package-lambda.ts with the production dependencies alone
 * (the lockfile's, taken from the checkout's node_modules),
 * then unpacked with the zip reader into an empty directory and the handler module imported by Node 24 in a fresh
 * process with an empty environment, as the nodejs24.x runtime would (handler dist/connectors/datadog/lambda.handler);
 * then that process cold-starts against the hosted test platform and serves the Datadog simulator, so a file the
 * zip lacks (a module loaded lazily, a dependency left out) fails here and not in a deployed function.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readZip, writeZip, type ZipEntry } from "../../scripts/lambda-zip.ts";
import { HANDLER, HANDLER_FILE, packageLambda, type PackageResult } from "../../scripts/package-lambda.ts";
import { create } from "@bufbuild/protobuf";
import { startSimulator } from "../../connectors/datadog/simulator/index.ts";
import { ConnectorServiceGetMetadataRequestSchema, ConnectorServiceValidateRequestSchema } from "../../src/gen/c1/connector/v2/connector_pb.js";
import { ResourceTypesServiceListResourceTypesRequestSchema, type ResourceTypesServiceListResourceTypesResponse } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { tempDirs } from "../helpers/temp-dir.ts";
import { stagePackage } from "../package/stage.ts";
import { buildEvent, decodeResult, findMethod, invoke, startHostedPlatform, startRuntimeApiEmulator } from "./platform/index.ts";

const tempDir = tempDirs("all");
const dirs: string[] = [];
let result: PackageResult | undefined;
let entries: ZipEntry[] = [];
let unpacked = "";
let skipReason = "";

beforeAll(() => {
  let stage: string;
  try {
    stage = stagePackage();
  } catch (err) {
    skipReason = `the build toolchain is not usable here: ${(err as Error).message.split("\n")[0]}`;
    return;
  }
  dirs.push(stage);
  const out = tempDir("baton-lambda-zip-");
  // deps "checkout": the lockfile's production packages from this checkout's node_modules instead of a fresh
  // `npm ci --omit=dev` (the default of `npm run package:lambda`): the two made byte-identical zips when measured,
  // and this one takes seconds instead of half a minute and needs no registry.
  result = packageLambda({ built: stage, out: join(out, "baton-datadog-lambda.zip"), deps: "checkout", log: (line) => console.log(line) });
  entries = readZip(readFileSync(result.zipPath));
  unpacked = tempDir("baton-lambda-task-");
  for (const e of entries) {
    mkdirSync(dirname(join(unpacked, e.name)), { recursive: true });
    writeFileSync(join(unpacked, e.name), e.data, { mode: e.mode });
  }
}, 120_000);

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the Lambda deployment zip", () => {
  it("holds the compiled handler, bin/, package.json and the production dependencies only", (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const names = new Set(entries.map((e) => e.name));
    expect(result!.handler).toBe(HANDLER);
    expect(result!.entries).toBe(entries.length);
    for (const f of [HANDLER_FILE, "package.json", "bin/baton-datadog.js", "dist/connectors/datadog/main.js", "dist/src/gen/c1/transport/v1/transport_pb.js", "node_modules/jose/package.json", "node_modules/@grpc/grpc-js/package.json", "node_modules/zod/package.json"]) {
      expect(names.has(f), f).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(unpacked, "package.json"), "utf8")).type).toBe("module");
    const all = [...names];
    // No dev dependencies: these are all devDependencies of package.json.
    for (const dev of ["vitest", "typescript", "@bufbuild/buf", "@bufbuild/protoc-gen-es", "node", "ajv", "kubernetes-models", "@types/node"]) {
      expect(all.filter((n) => n.startsWith(`node_modules/${dev}/`)), dev).toEqual([]);
    }
    expect(all.filter((n) => n.endsWith(".ts") || n.endsWith(".mts") || n.endsWith(".cts"))).toEqual([]);
    expect(all.filter((n) => n.endsWith(".map"))).toEqual([]);
    expect(all.filter((n) => /\.test\.|test-support|\/bench\//.test(n) && n.startsWith("dist/"))).toEqual([]);
    expect(all.filter((n) => n.startsWith("node_modules/.bin/"))).toEqual([]);
    // Lambda runs the code as a user other than the owner.
    expect(entries.filter((e) => (e.mode & 0o444) !== 0o444).map((e) => e.name)).toEqual([]);
    console.log(`zip: ${result!.zipBytes} bytes (${(result!.zipBytes / 1e6).toFixed(2)} MB), ${result!.entries} files, ${result!.unpackedBytes} bytes unpacked`);
  });

  it("the same files make the same zip (fixed timestamps, sorted entries), and another zip reader accepts it", (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const names = entries.map((e) => e.name);
    expect(names).toEqual([...names].sort());
    // A second opinion on the format from Info-ZIP's unzip where the machine has it (not needed to build the zip).
    const unzip = spawnSync("unzip", ["-tq", result!.zipPath], { encoding: "utf8" });
    if (unzip.error) return;
    expect(unzip.status, unzip.stdout + unzip.stderr).toBe(0);
  });

  it("its handler module imports with Node 24 in an empty environment and exports handler(event, context)", (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const [file, exportName] = [HANDLER.slice(0, HANDLER.lastIndexOf(".")) + ".js", HANDLER.slice(HANDLER.lastIndexOf(".") + 1)];
    const url = pathToFileURL(join(unpacked, file)).href;
    const script = `const started = performance.now(); const m = await import(${JSON.stringify(url)}); const h = m[${JSON.stringify(exportName)}];
      process.stdout.write(JSON.stringify({ type: typeof h, arity: typeof h === "function" ? h.length : -1, ms: Math.round(performance.now() - started) }));`;
    // cwd = the task root and no environment beyond PATH: nothing from the checkout can leak into the import.
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: unpacked, env: { PATH: "/usr/bin:/bin" }, encoding: "utf8", timeout: 30_000 });
    expect(child.stderr).toBe("");
    expect(child.status).toBe(0);
    const loaded = JSON.parse(child.stdout) as { type: string; arity: number; ms: number };
    expect(loaded.type).toBe("function");
    console.log(`handler module import from the unpacked zip: ${loaded.ms} ms`);
  });
});

/** The unpacked handler in its own Node 24 process: one JSON event per stdin line, one JSON answer per stdout line. */
function handlerProcess(moduleUrl: string, env: Record<string, string>) {
  const script = `
    import { createInterface } from "node:readline";
    const started = performance.now();
    const { handler } = await import(${JSON.stringify(moduleUrl)});
    let first = true;
    for await (const line of createInterface({ input: process.stdin })) {
      let out;
      try {
        const payload = await handler(JSON.parse(line), { awsRequestId: "pkg-test", getRemainingTimeInMillis: () => 30000 });
        out = { ok: true, payload: JSON.parse(JSON.stringify(payload)) };
      } catch (err) {
        out = { ok: false, error: String(err && err.stack || err) };
      }
      if (first) { out.coldStartMs = Math.round(performance.now() - started); first = false; }
      out.maxRssKb = process.resourceUsage().maxRSS;
      process.stdout.write(JSON.stringify(out) + "\\n");
    }`;
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: unpacked, env, stdio: "pipe" });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += String(d)));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async call(event: unknown): Promise<{ ok: boolean; payload?: unknown; error?: string; coldStartMs?: number; maxRssKb: number }> {
      child.stdin.write(`${JSON.stringify(event)}\n`);
      const next = await lines.next();
      if (next.done) throw new Error(`the handler process ended: ${stderr.slice(-2000)}`);
      return JSON.parse(next.value);
    },
    stderr: () => stderr,
    close: () => child.kill(),
  };
}

describe("the unpacked handler on the hosted platform", () => {
  it("cold-starts (token, config, connector) and answers GetMetadata, Validate and ListResourceTypes from the zip's files alone", async (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const sim = await startSimulator({ seed: 3, counts: { users: 5, teams: 2, roles: 3, schedules: 1, apiKeys: 1, appKeys: 1, serviceAccounts: 1 } });
    const platform = await startHostedPlatform({ config: { config: { "api-key": sim.apiKey, "app-key": sim.appKey, "base-url": sim.baseUrl }, version: "cv-1" } });
    const fn = handlerProcess(pathToFileURL(join(unpacked, HANDLER_FILE)).href, { PATH: "/usr/bin:/bin", ...platform.env });
    try {
      const call = async (method: string, request: Parameters<typeof buildEvent>[1], encoding: "legacy" | "v2") => {
        const answer = await fn.call(buildEvent(method, request, { encoding, jwt: await platform.mintInvocationJwt() }));
        expect(answer.error).toBeUndefined();
        return { ...decodeResult(answer.payload, findMethod(method)?.output), answer };
      };
      const meta = await call("/c1.connector.v2.ConnectorService/GetMetadata", create(ConnectorServiceGetMetadataRequestSchema), "v2");
      expect(meta.status).toMatchObject({ code: 0 });
      expect(meta.encoding).toBe("v2");
      const validate = await call("/c1.connector.v2.ConnectorService/Validate", create(ConnectorServiceValidateRequestSchema), "legacy");
      expect(validate.status).toMatchObject({ code: 0 });
      expect(validate.encoding).toBe("legacy");
      const types = await call("/c1.connector.v2.ResourceTypesService/ListResourceTypes", create(ResourceTypesServiceListResourceTypesRequestSchema), "v2");
      expect(types.status.code).toBe(0);
      expect((types.response as ResourceTypesServiceListResourceTypesResponse).list.map((t) => t.id)).toContain("user");
      expect(platform.counters.configFetches).toBe(1);
      expect(platform.tokenRequests.map((r) => r.status)).toEqual([400, 200]); // the nonce challenge, then the token
      console.log(`from the zip: cold start (import to first response) ${meta.answer.coldStartMs} ms, max RSS after 3 invocations ${Math.round(types.answer.maxRssKb / 1024)} MB`);
    } finally {
      fn.close();
      await platform.close();
      await sim.close();
    }
  }, 60_000);
});

describe("the container-image entrypoint from the same files", () => {
  it("`node bin/baton-datadog.js lambda` serves invocations through the Runtime API emulator, and reports a failed cold start as an init error", async (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const sim = await startSimulator({ seed: 4, counts: { users: 3, teams: 1, roles: 2, schedules: 1, apiKeys: 1, appKeys: 1, serviceAccounts: 1 } });
    const platform = await startHostedPlatform({ config: { config: { "api-key": sim.apiKey, "app-key": sim.appKey, "base-url": sim.baseUrl }, version: "cv-1" } });
    const emulator = await startRuntimeApiEmulator();
    const broken = await startRuntimeApiEmulator();
    const run = (env: Record<string, string>) => spawn(process.execPath, [join(unpacked, "bin", "baton-datadog.js"), "lambda"], { cwd: unpacked, env: { PATH: "/usr/bin:/bin", ...env }, stdio: ["ignore", "ignore", "pipe"] });
    const fn = run({ ...platform.env, ...emulator.env });
    let stderr = "";
    fn.stderr.on("data", (d) => (stderr += String(d)));
    const { BATON_LAMBDA_CLIENT_SECRET: _secret, ...withoutSecret } = platform.env;
    const failing = run({ ...withoutSecret, ...broken.env });
    try {
      expect(await emulator.waitForReady(30_000), stderr).toBe("ready");
      const meta = await invoke(emulator, "/c1.connector.v2.ConnectorService/GetMetadata", create(ConnectorServiceGetMetadataRequestSchema), { jwt: await platform.mintInvocationJwt() });
      expect(meta.status, stderr).toMatchObject({ code: 0 });
      expect(meta.encoding).toBe("v2");
      const unauthenticated = await invoke(emulator, "/c1.connector.v2.ConnectorService/GetMetadata", create(ConnectorServiceGetMetadataRequestSchema), { encoding: "legacy" });
      expect(unauthenticated.status).toMatchObject({ code: 16, message: "missing authorization header" });
      expect(await broken.waitForReady(30_000)).toBe("init-error");
      expect(JSON.stringify(broken.initErrors[0].body)).toContain("BATON_LAMBDA_CLIENT_SECRET");
    } finally {
      fn.kill();
      failing.kill();
      await emulator.close();
      await broken.close();
      await platform.close();
      await sim.close();
    }
  }, 60_000);
});

describe("the zip writer", () => {
  it("round-trips empty, incompressible, compressible and UTF-8-named files with their modes", () => {
    const noise = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24));
    const input = [
      { name: "a/empty.txt", data: new Uint8Array(0) },
      { name: "a/noise.bin", data: noise, mode: 0o755 },
      { name: "b/text.js", data: Buffer.from("export const x = 1;\n".repeat(500)) },
      { name: "c/ünïcode-名前.json", data: Buffer.from("{}") },
    ];
    const zip = writeZip(input);
    expect(writeZip(input).equals(zip)).toBe(true); // deterministic
    const back = readZip(zip);
    expect(back.map((e) => [e.name, e.data.toString("hex"), e.mode])).toEqual(input.map((e) => [e.name, Buffer.from(e.data).toString("hex"), e.mode ?? 0o644]));
    expect(back.find((e) => e.name === "b/text.js")!.method).toBe("deflate");
  });

  it("refuses unsafe or duplicate names, and a damaged entry on reading", () => {
    for (const name of ["/abs", "../up", "a/../b", "a\\b", "", "a//b"]) expect(() => writeZip([{ name, data: new Uint8Array(1) }]), name).toThrow(/unsafe entry name/);
    expect(() => writeZip([{ name: "x", data: new Uint8Array(1) }, { name: "x", data: new Uint8Array(1) }])).toThrow(/duplicate/);
    const zip = writeZip([{ name: "x.txt", data: Buffer.from("hello hello hello hello") }]);
    const damaged = Buffer.from(zip);
    damaged[30 + "x.txt".length + 2] ^= 0xff; // a byte of the compressed data
    expect(() => readZip(damaged)).toThrow();
    expect(() => readZip(Buffer.from("not a zip at all, not at all"))).toThrow(/not a zip/);
  });
});
