/**
 * Kept uploads in the runner, against the test platform: how a kept sync's task is finished when the platform
 * cancels it, forgets it across a restart, or stays away longer than the maximum age, and when it cannot be
 * kept at all (the size cap).
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { Code } from "../../src/connector/errors.ts";
import type { BatonServiceFinishTaskRequest } from "../../src/gen/c1/connectorapi/baton/v1/baton_pb.js";
import { fixtureConnector } from "../fixtures/fixture-connector.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { makeTestPki, startTestPlatform, type TestPki, type TestPlatform } from "../platform/index.ts";
import { eventually, inProcess, observedRpc, startService, type RunningService } from "./helpers.ts";

const fileTempDir = tempDirs("all");
const testTempDir = tempDirs();
let pkiDir: string;
let pki: TestPki;
let root: string;
const cleanups: (() => unknown)[] = [];

beforeAll(() => {
  pkiDir = fileTempDir("kept-restart-pki-");
  pki = makeTestPki(pkiDir);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function platform(nextHeartbeatMs = 50): Promise<TestPlatform> {
  root = testTempDir("kept-restart-");
  const p = await startTestPlatform({ pki, nextHeartbeatMs });
  cleanups.push(() => p.close());
  return p;
}

function service(p: TestPlatform, overrides: Parameters<typeof startService>[2] = {}): RunningService & { rpc: ReturnType<typeof observedRpc> } {
  const rpc = observedRpc(inProcess(fixtureConnector()));
  const s = startService(p, rpc.rpc, { keptUploads: { dir: join(root, "kept") }, ...overrides });
  cleanups.push(() => s.stop().catch(() => {}));
  return Object.assign(s, { rpc });
}

const uploadCalls = (p: TestPlatform) => p.calls.filter((c) => c.method === "UploadAsset").length;
const keptFiles = () => (existsSync(join(root, "kept")) ? readdirSync(join(root, "kept")) : []);

function errorOf(finish: BatonServiceFinishTaskRequest) {
  expect(finish.finalState.case).toBe("error");
  return { code: finish.status?.code, message: finish.status?.message, nonRetryable: finish.finalState.case === "error" && finish.finalState.value.nonRetryable };
}

/** A sync whose uploads fail (UNAVAILABLE) while everything else answers: it ends up kept. */
async function keptSync(p: TestPlatform, s: RunningService) {
  await p.waitFor(() => p.hellos[0], "Hello");
  p.fail.unavailableMethods = ["UploadAsset"];
  p.fail.unavailableCalls = 1_000_000;
  const id = p.enqueue({ taskType: { case: "syncFull", value: {} } });
  await p.waitFor(() => uploadCalls(p) >= 4, "the kept sync's first retry");
  await eventually(() => s.logs.lines.some((l) => l.includes("keeping it to upload when the platform is back")), "the sync kept");
  return id;
}

describe("kept uploads in service mode", () => {
  it("a kept sync the platform cancels is deleted and finished CANCELLED; heartbeats go on while it waits", async () => {
    const p = await platform();
    const s = service(p);
    const id = await keptSync(p, s);
    const beats = p.heartbeats.filter((h) => h.taskId === id).length;
    await p.waitFor(() => p.heartbeats.filter((h) => h.taskId === id).length > beats + 2, "heartbeats while kept");
    p.cancel(id);
    expect(errorOf(await p.waitForFinished(id))).toEqual({ code: Code.CANCELLED, message: "the platform cancelled the task", nonRetryable: true });
    expect(keptFiles()).toEqual([]);
    expect(p.uploads).toEqual([]);
  });

  it("a kept sync takes no concurrency slot: with --task-concurrency 1 the next task runs while it waits", async () => {
    const p = await platform();
    const s = service(p, { taskConcurrency: 1 });
    const id = await keptSync(p, s);
    const next = p.enqueue({ taskType: { case: "hello", value: {} } });
    expect((await p.waitForFinished(next)).finalState.case).toBe("success");
    expect(p.finished.has(id)).toBe(false);
    p.fail.unavailableCalls = 0;
    expect((await p.waitForFinished(id)).finalState.case).toBe("success");
    expect(keptFiles()).toEqual([]);
  });

  it("after a restart, a kept sync of a task the platform has forgotten is deleted, not uploaded forever", async () => {
    const p = await platform();
    const first = service(p);
    const id = await keptSync(p, first);
    await first.stop();
    expect(keptFiles().filter((n) => n.endsWith(".c1z"))).toHaveLength(1);
    p.fail.unavailableCalls = 0;
    p.forget(id);
    const second = service(p);
    await eventually(() => second.logs.lines.some((l) => l.includes("the platform refused the kept sync's upload; deleted it")), "the refused upload");
    expect(keptFiles()).toEqual([]);
    await eventually(() => second.logs.lines.some((l) => l.includes("the platform rejected the task's result; giving up on it")), "FinishTask refused");
    expect(p.uploadAttempts.filter((a) => a.taskId === id).at(-1)?.outcome).toBe("refused");
    expect(second.rpc.total()).toBeGreaterThan(0); // GetMetadata for Hello...
    expect(second.rpc.calls.get("listResourceTypes")).toBeUndefined(); // ...but no sync
  });

  it("a kept sync older than the maximum age is deleted and the task finished as a retryable failure", async () => {
    const p = await platform(5000);
    const s = service(p, { keptUploads: { dir: join(root, "kept"), maxAgeMs: 600 } });
    const id = await keptSync(p, s);
    const finish = errorOf(await p.waitForFinished(id));
    expect(finish).toMatchObject({ code: Code.UNAVAILABLE, nonRetryable: false });
    expect(finish.message).toMatch(/^the sync finished at \S+ but the platform did not take its upload within 600 ms; the kept file was deleted, run the sync again$/);
    expect(keptFiles()).toEqual([]);
  });

  it("a sync that cannot be kept (over the size cap) is reported as a retryable failure, as without kept uploads", async () => {
    const p = await platform(5000);
    const s = service(p, { keptUploads: { dir: join(root, "kept"), maxTotalBytes: 100 } });
    await p.waitFor(() => p.hellos[0], "Hello");
    p.fail.unavailableMethods = ["UploadAsset"];
    p.fail.unavailableCalls = 3;
    const id = p.enqueue({ taskType: { case: "syncFull", value: {} } });
    expect(errorOf(await p.waitForFinished(id))).toMatchObject({ code: Code.UNAVAILABLE, nonRetryable: false });
    expect(s.logs.text()).toContain("over their 100-byte cap");
    expect(keptFiles()).toEqual([]);
    expect(uploadCalls(p)).toBe(3);
  });
});
