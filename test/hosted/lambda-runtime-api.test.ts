/**
 * `baton-datadog lambda` as a container-image function: the real CLI in a child process, a Lambda Runtime API
 * client under the platform's Runtime API emulator, cold-starting against the hosted test platform and serving
 * the Datadog connector on the simulator. Also measures the zip handler's cold start (import to first response)
 * and the peak RSS after one warm invocation, in a child process of its own.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Simulator } from "../../connectors/datadog/simulator/index.ts";
import { Code } from "../../src/connector/errors.ts";
import { ConnectorServiceGetMetadataRequestSchema, ConnectorServiceValidateRequestSchema } from "../../src/gen/c1/connector/v2/connector_pb.js";
import { GrantManagerServiceGrantRequestSchema, GrantManagerServiceRevokeRequestSchema } from "../../src/gen/c1/connector/v2/grant_pb.js";
import { ResourcesServiceListResourcesRequestSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { EntitlementSchema } from "../../src/gen/c1/connector/v2/entitlement_pb.js";
import { ResourceSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { buildEvent, invoke, invokeRaw, startHostedPlatform, startRuntimeApiEmulator, type HostedPlatform, type RuntimeApiEmulator } from "./platform/index.ts";
import { runDatadogCliInProcess } from "../helpers/cli-in-process.ts";
import { cliSyncCounts, hostedConfig, hostedWalk, newSyncId, simulatedOrg, type Counts } from "./hosted-walk.ts";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const bin = fileURLToPath(new URL("../../bin/baton-datadog.js", import.meta.url));

let sim: Simulator;
let platform: HostedPlatform;
let emulator: RuntimeApiEmulator;
let child: ChildProcess;
let childStderr = "";
let reference: Counts;
let coldStartMs = 0;

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, RUN_SOURCES: "1", BATON_LOG_FORMAT: "json", ...extra };
}

/** Peak resident set of a live process, from /proc (Linux). */
function peakRssMb(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  sim = await simulatedOrg(29);
  reference = await cliSyncCounts(sim);
  platform = await startHostedPlatform({ config: { config: hostedConfig(sim), version: "cv-1" } });
  emulator = await startRuntimeApiEmulator();
  const started = performance.now();
  child = spawn(process.execPath, [bin, "lambda"], { cwd: repo, env: childEnv({ ...platform.env, ...emulator.env }), stdio: ["ignore", "pipe", "pipe"] });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (childStderr += d));
  child.stdout!.resume();
  const ready = await emulator.waitForReady(30_000);
  if (ready !== "ready") throw new Error(`baton-datadog lambda did not start: ${ready} ${JSON.stringify(emulator.initErrors)} ${childStderr}`);
  const first = await invoke(emulator, "/c1.connector.v2.ConnectorService/GetMetadata", create(ConnectorServiceGetMetadataRequestSchema), { jwt: await platform.mintInvocationJwt() });
  coldStartMs = Math.round(performance.now() - started);
  expect(first.status.code).toBe(0);
}, 90_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
  }
  await emulator?.close();
  await platform?.close();
  await sim?.close();
});

const jwt = () => platform.mintInvocationJwt();
const pastReloadFloor = () => new Promise((r) => setTimeout(r, 1100));

describe("baton-datadog lambda under the Runtime API emulator", () => {
  it("walks the org with the CLI sync's counts, one invocation at a time", async () => {
    console.log(`baton-datadog lambda: spawn to first response ${coldStartMs} ms`);
    const walk = await hostedWalk(emulator, { jwt, encoding: "v2", syncId: newSyncId() });
    expect({ resourceTypes: walk.resourceTypes, resources: walk.resources, entitlements: walk.entitlements, grants: walk.grants }).toEqual(reference);
    expect(platform.counters.configFetches).toBe(1);
    expect(emulator.protocolErrors).toEqual([]);
    const rss = peakRssMb(child.pid!);
    console.log(`baton-datadog lambda: peak RSS after the walk ${rss} MB`);
  }, 120_000);

  it("refuses unauthenticated, wrong-audience and expired invocations", async () => {
    const call = (token?: string) => invoke(emulator, "/c1.connector.v2.ConnectorService/Validate", create(ConnectorServiceValidateRequestSchema), { jwt: token, encoding: "legacy" });
    expect((await call()).status).toMatchObject({ code: Code.UNAUTHENTICATED, message: "missing authorization header" });
    expect((await call(await platform.mintInvocationJwt({ aud: "elsewhere" }))).status.code).toBe(Code.UNAUTHENTICATED);
    expect((await call(await platform.mintInvocationJwt({ exp: Math.floor(Date.now() / 1000) - 1 }))).status.code).toBe(Code.UNAUTHENTICATED);
  });

  it("a malformed frame is a function error through /error; an unknown method is UNIMPLEMENTED", async () => {
    const raw = await invokeRaw(emulator, { v: 7, frame: Buffer.from([0x0a, 0x01, 0x2f]).toString("base64") });
    expect(raw).toMatchObject({ ok: false, error: { errorMessage: "transport: unsupported wire frame version 7" } });
    const unknown = await invoke(emulator, "/c1.connector.v2.ResourcesService/Nope", create(ResourcesServiceListResourcesRequestSchema), { jwt: await jwt() });
    expect(unknown.status).toMatchObject({ code: Code.UNIMPLEMENTED, message: "unknown method Nope for service c1.connector.v2.ResourcesService" });
    // still serving after a function error
    expect((await invoke(emulator, "/c1.connector.v2.ConnectorService/GetMetadata", create(ConnectorServiceGetMetadataRequestSchema), { jwt: await jwt() })).status.code).toBe(0);
  });

  it("grant and revoke: refused with provisioning off, done after a reload to a config with it on (once, not per call)", async () => {
    const role = sim.org.roles.values()[0]!;
    const user = sim.org.users.values().find((u) => !role.users.has(u.id) && !u.disabled && !u.serviceAccount)!;
    const roleResource = create(ResourceSchema, { id: { resourceType: "role", resource: role.id } });
    const entitlement = create(EntitlementSchema, { id: `role:${role.id}:member`, resource: roleResource, slug: "member" });
    const principal = create(ResourceSchema, { id: { resourceType: "user", resource: user.id } });
    const grantReq = create(GrantManagerServiceGrantRequestSchema, { entitlement, principal });
    const off = await invoke(emulator, "/c1.connector.v2.GrantManagerService/Grant", grantReq, { jwt: await jwt() });
    expect(off.status.code).toBe(Code.FAILED_PRECONDITION);

    platform.setConfig(hostedConfig(sim, { provisioning: true }), "cv-2");
    await pastReloadFloor();
    const fetches = platform.counters.configFetches;
    const on = await invoke(emulator, "/c1.connector.v2.GrantManagerService/Grant", grantReq, { jwt: await jwt(), configVersion: "cv-2" });
    expect(on.status.code, on.status.message).toBe(0);
    expect(role.users.has(user.id)).toBe(true);
    const revoke = create(GrantManagerServiceRevokeRequestSchema, { grant: { id: `${entitlement.id}:user:${user.id}`, entitlement, principal } });
    const revoked = await invoke(emulator, "/c1.connector.v2.GrantManagerService/Revoke", revoke, { jwt: await jwt(), configVersion: "cv-2", encoding: "legacy" });
    expect(revoked.status.code, revoked.status.message).toBe(0);
    expect(role.users.has(user.id)).toBe(false);
    expect(platform.counters.configFetches).toBe(fetches + 1);
  }, 30_000);

  it("a served policy without the Datadog host: every call fails with the egress error, nothing reaches the simulator", async () => {
    platform.setConfig(hostedConfig(sim), "cv-3", { allowedHosts: ["api.datadoghq.eu"], mode: "enforce", httpsOnly: true });
    await pastReloadFloor();
    const sent = sim.stats.requests;
    for (const resourceTypeId of ["user", "team", "api-key"]) {
      const r = await invoke(emulator, "/c1.connector.v2.ResourcesService/ListResources", create(ResourcesServiceListResourcesRequestSchema, { resourceTypeId }), { jwt: await jwt(), configVersion: "cv-3" });
      expect(r.status.code, resourceTypeId).toBe(Code.PERMISSION_DENIED);
      expect(r.status.message).toMatch(/egress to http:\/\/127\.0\.0\.1:\d+ is not allowed by the egress policy, which allows api\.datadoghq\.eu \(https only\)/);
    }
    expect(sim.stats.requests).toBe(sent);
  });

  it("SIGTERM ends the runtime loop between invocations: the process closes the connector and exits 0", async () => {
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("still running after 10 s"), 10_000))]);
    expect(code, childStderr.slice(-2000)).toBe(0);
  }, 15_000);

  it("a cold start that fails is reported as an init error and the process exits 1", async () => {
    const emu = await startRuntimeApiEmulator();
    try {
      const env = { ...platform.env, ...emu.env, BATON_LAMBDA_CLIENT_SECRET: "not-a-secret" };
      const bad = spawn(process.execPath, [bin, "lambda"], { cwd: repo, env: childEnv(env), stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      bad.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      const exit = new Promise<number | null>((r) => bad.once("exit", (code) => r(code)));
      expect(await emu.waitForReady(30_000)).toBe("init-error");
      expect(await exit).toBe(1);
      expect(emu.initErrors).toHaveLength(1);
      expect(JSON.stringify(emu.initErrors[0].body)).toMatch(/BATON_LAMBDA_CLIENT_SECRET/);
      expect(stderr).not.toContain("not-a-secret");
      expect(emu.polls).toBe(0);
    } finally {
      await emu.close();
    }
  }, 40_000);
});

describe("baton-datadog lambda outside a Lambda function", () => {
  it("without AWS_LAMBDA_RUNTIME_API, or with one that is not host:port, says so and exits 2", async () => {
    const missing = await runDatadogCliInProcess(["lambda"], { env: {}, cwd: repo });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("lambda: AWS_LAMBDA_RUNTIME_API is not set");
    const bad = await runDatadogCliInProcess(["lambda"], { env: { AWS_LAMBDA_RUNTIME_API: "http://x/y" }, cwd: repo });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('AWS_LAMBDA_RUNTIME_API must be host:port (got "http://x/y")');
  });
});

describe("the zip handler (connectors/datadog/lambda.ts) in a process of its own", () => {
  it("measures import-to-first-response and the peak RSS after one warm invocation", async () => {
    const events = {
      first: buildEvent("/c1.connector.v2.ConnectorService/GetMetadata", create(ConnectorServiceGetMetadataRequestSchema), { jwt: await jwt() }),
      warm: buildEvent("/c1.connector.v2.ResourcesService/ListResources", create(ResourcesServiceListResourcesRequestSchema, { resourceTypeId: "user", pageSize: 50 }), { jwt: await jwt() }),
    };
    const script = `
      const t0 = performance.now();
      const { handler } = await import(${JSON.stringify(new URL("../../connectors/datadog/lambda.ts", import.meta.url).href)});
      const importMs = performance.now() - t0;
      const events = JSON.parse(process.env.EVENTS);
      const ctx = { getRemainingTimeInMillis: () => 30000 };
      const first = await handler(events.first, ctx);
      const coldMs = performance.now() - t0;
      const t1 = performance.now();
      const warm = await handler(events.warm, ctx);
      const warmMs = performance.now() - t1;
      process.stdout.write("\\nRESULT " + JSON.stringify({ importMs, coldMs, warmMs, maxRssMb: process.resourceUsage().maxRSS / 1024, first: typeof first, okFirst: typeof first.frame === "string", okWarm: typeof warm.frame === "string" }));
      await handler.close();
    `;
    const run = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: repo, env: childEnv({ ...platform.env, EVENTS: JSON.stringify(events) }), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    run.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    run.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
    const code = await new Promise<number | null>((r) => run.once("exit", r));
    expect(code, err).toBe(0);
    const logged = (out + err).split("\n").find((l) => l.includes("hosted cold start done"));
    const breakdown = logged ? (JSON.parse(logged.slice(logged.indexOf("{"))) as { coldStart?: Record<string, number> }).coldStart : undefined;
    const m = JSON.parse(out.split("\n").find((l) => l.startsWith("RESULT "))!.slice("RESULT ".length)) as { importMs: number; coldMs: number; warmMs: number; maxRssMb: number; first: string; okFirst: boolean; okWarm: boolean };
    expect(m.first).toBe("object"); // an object for nodejs24.x to serialise, never a string
    expect(m.okFirst && m.okWarm).toBe(true);
    expect(breakdown?.totalMs).toBeGreaterThan(0);
    console.log(`zip handler: cold start breakdown (ms): module import ${Math.round(m.importMs)}, ${JSON.stringify(breakdown)}`);
    console.log(`zip handler: import to first response ${Math.round(m.coldMs)} ms; warm ListResources ${Math.round(m.warmMs)} ms; peak RSS ${Math.round(m.maxRssMb)} MB`);
  }, 60_000);
});
