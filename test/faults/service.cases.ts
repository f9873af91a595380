/**
 * Service-mode faults against the test platform (real TLS, token exchange, gRPC) with the Datadog connector
 * syncing the simulator: the platform unreachable or refusing at start and mid-task, the token endpoint refusing,
 * heartbeats failing, an upload cut mid-stream, FinishTask failing, a task cancelled, SIGTERM in a child process.
 * Nothing is lost (every task finished exactly once, its upload whole with the right checksum and the rows of a
 * clean sync) and nothing is duplicated (one accepted FinishTask per task, one upload per sync).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Code } from "../../src/connector/errors.ts";
import type { RunServiceOptions } from "../../src/service/runner.ts";
import type { Simulator } from "../../connectors/datadog/simulator/index.ts";
import { makeTestPki, startTestPlatform, type TestPki, type TestPlatform, type TestPlatformOptions } from "../platform/index.ts";
import { eventually, startService, uploadedSync, type RunningService } from "../service/helpers.ts";
import { collector } from "./collect.ts";
import { record } from "./matrix.ts";
import { builtDatadog, cleanSync, onCleanup, sleep, startCli, startSim, tempDir } from "./support.ts";
import { tempDirs } from "../helpers/temp-dir.ts";

const syncTask = { taskType: { case: "syncFull" as const, value: {} } };
let pki: TestPki;
let pkiDir: string;

async function platform(options: Omit<TestPlatformOptions, "pki"> = {}): Promise<TestPlatform> {
  const p = await startTestPlatform({ pki, ...options });
  collector.secret(p.clientSecret, "platform client secret");
  // The Ed25519 private key inside the secret, in both the encoded and the decoded JWK form.
  collector.secret(p.clientSecret.split(":")[3], "platform client secret (key part)");
  const jwk = JSON.parse(Buffer.from(p.clientSecret.split(":")[3], "base64url").toString("utf8")) as { d: string };
  collector.secret(jwk.d, "platform client private key (JWK d)");
  onCleanup(() => p.close());
  return p;
}

/** The service in-process with the Datadog connector; its log lines join the collector when it stops. */
async function service(p: TestPlatform, sim: Simulator, name: string, overrides: Partial<RunServiceOptions> = {}): Promise<RunningService> {
  const { rpc } = await builtDatadog(sim, collector.logger(`service: ${name} (connector)`));
  const s = startService(p, rpc, overrides);
  onCleanup(async () => {
    await s.stop().catch(() => undefined);
    for (const line of s.logs.lines) collector.add(`service: ${name}`, line);
  });
  return s;
}

/** Every task finished exactly once; each sync's upload arrived once, whole, with the rows of a clean sync. */
async function nothingLostNothingDuplicated(p: TestPlatform, taskIds: string[], syncIds: string[]): Promise<void> {
  const { rows } = await cleanSync();
  for (const id of taskIds) {
    expect(p.finished.has(id), `task ${id} finished`).toBe(true);
    expect(p.finishCalls.filter((f) => f.taskId === id && f.accepted), `accepted FinishTask calls of ${id}`).toHaveLength(1);
  }
  expect(p.duplicateFinishes).toEqual([]);
  for (const id of syncIds) {
    expect(p.finished.get(id)!.finalState.case, JSON.stringify(p.finished.get(id)!.status)).toBe("success");
    expect(p.uploads.filter((u) => u.taskId === id), `uploads of ${id}`).toHaveLength(1);
    const uploaded = await uploadedSync(p, id);
    expect(uploaded.upload.checksumOk).toBe(true);
    expect(uploaded.rows).toEqual(rows);
  }
}

const heartbeatsOf = (p: TestPlatform, id: string) => p.heartbeats.filter((h) => h.taskId === id).length;
const logged = (s: RunningService, pattern: RegExp) => s.logs.lines.some((l) => pattern.test(l));

export function serviceFaultCases(): void {
  describe("Service-mode faults", () => {
    const pkiDirs = tempDirs("all");
    beforeAll(() => {
      pkiDir = pkiDirs("faults-pki-");
      pki = makeTestPki(pkiDir);
    });

    it("platform unreachable at start (port closed), then back: Hello, then the sync finishes once", async () => {
      const p = await platform();
      await p.stop();
      const sim = await startSim();
      const s = await service(p, sim, "unreachable at start");
      const retries = () => s.logs.lines.filter((l) => l.includes("Hello failed; trying again")).length;
      await eventually(() => retries() >= 2, "the service retrying Hello while the platform is away");
      await p.start();
      await p.waitFor(() => p.hellos[0], "Hello after the outage");
      const id = p.enqueue(syncTask);
      await p.waitForFinished(id);
      await nothingLostNothingDuplicated(p, [id], [id]);
      record({
        section: "Service-mode faults",
        case: "platform unreachable at start",
        how: "the platform's port closed when the service starts, reopened later",
        outcome: `the service retried Hello with backoff (${retries()} "Hello failed; trying again"), no exit; said Hello once reachable; the sync finished once, upload whole, rows identical`,
      });
    });

    it("platform answering UNAVAILABLE (and the token endpoint 503) at start, then healthy", async () => {
      const p = await platform();
      p.fail.down = true;
      const sim = await startSim();
      const s = await service(p, sim, "down at start");
      await p.waitFor(() => p.tokenRequests.filter((t) => t.status === 503).length >= 2, "token requests refused with 503");
      p.fail.down = false;
      await p.waitFor(() => p.hellos[0], "Hello");
      const id = p.enqueue(syncTask);
      await p.waitForFinished(id);
      await nothingLostNothingDuplicated(p, [id], [id]);
      expect(logged(s, /503/)).toBe(true);
      record({
        section: "Service-mode faults",
        case: "platform unavailable at start",
        how: "token endpoint 503 and BatonService UNAVAILABLE until switched back",
        outcome: `${p.tokenRequests.filter((t) => t.status === 503).length} refused token requests retried with backoff; then Hello and the sync finished once, rows identical`,
      });
    });

    it("platform gone mid-task (connections cut, port closed), then back: the task finishes once, its upload whole", async () => {
      const p = await platform({ nextHeartbeatMs: 200 });
      const sim = await startSim({ latencyMs: 30 });
      await service(p, sim, "gone mid-task");
      const id = p.enqueue(syncTask);
      await p.waitFor(() => heartbeatsOf(p, id) >= 1, "the sync running");
      // Datadog slows down for as long as the platform is away, so the outage falls inside the sync, not its upload.
      sim.setLatency(2000);
      await p.stop();
      await sleep(1200);
      await p.start();
      sim.setLatency(30);
      await p.waitForFinished(id, 60_000);
      await nothingLostNothingDuplicated(p, [id], [id]);
      record({
        section: "Service-mode faults",
        case: "platform unavailable mid-task",
        how: "port closed and open connections cut for 1.2 s in the middle of a sync (heartbeats every 200 ms)",
        outcome: "the sync went on; heartbeats, upload and FinishTask retried after the outage: finished once, upload whole, rows identical",
      });
    });

    it("platform down exactly when a finished sync uploads: the sync is kept and uploaded once the platform is back, finished once", async () => {
      const p = await platform({ nextHeartbeatMs: 5000 });
      const sim = await startSim();
      await service(p, sim, "down at upload");
      await p.waitFor(() => p.hellos[0], "Hello");
      const before = sim.stats.requests;
      const id = p.enqueue(syncTask);
      // Down from the sync's first Datadog request on: the sync itself needs no platform and ends inside the outage.
      await eventually(() => sim.stats.requests > before, "the sync's first request to Datadog", 30_000);
      p.fail.down = true;
      // 3 attempts inside the task, then the kept sync's own retries (issue 12, defect 12).
      await p.waitFor(() => p.calls.filter((c) => c.method === "UploadAsset").length >= 5, "upload attempts beyond 3", 30_000);
      expect(p.calls.filter((c) => c.method === "FinishTask")).toEqual([]);
      const attempts = p.calls.filter((c) => c.method === "UploadAsset").length;
      p.fail.down = false;
      const finish = await p.waitForFinished(id);
      expect(finish.finalState.case).toBe("success");
      await nothingLostNothingDuplicated(p, [id], [id]);
      record({
        section: "Service-mode faults",
        case: "platform down while a finished sync uploads",
        how: "BatonService UNAVAILABLE from the end of the sync until the upload had failed 5 times",
        outcome:
          `3 upload attempts of the task, then the c1z kept in the writable directory and tried again with backoff (${attempts} attempts during ` +
          "the outage, no FinishTask); uploaded once the platform was back: finished once with success, upload whole, rows identical, no second sync",
      });
    });

    it("token endpoint refusing (401) three times: reported clearly, retried with backoff, then the task runs", async () => {
      const p = await platform();
      p.fail.tokenRefusals = 3;
      const sim = await startSim();
      const s = await service(p, sim, "token 401");
      await p.waitFor(() => p.hellos[0], "Hello after the refusals");
      const id = p.enqueue(syncTask);
      await p.waitForFinished(id);
      await nothingLostNothingDuplicated(p, [id], [id]);
      const refusals = p.tokenRequests.filter((t) => t.status === 401);
      expect(refusals).toHaveLength(3);
      const gaps = refusals.slice(1).map((t, i) => t.at - refusals[i].at);
      expect(gaps.every((g) => g >= 5)).toBe(true); // backoff, not a hot loop
      expect(logged(s, /401|refused|invalid_client/i)).toBe(true);
      record({
        section: "Service-mode faults",
        case: "token endpoint errors",
        how: "the token endpoint answers 401 invalid_client three times (test backoff 20-200 ms; production 1 s doubling to 5 min)",
        outcome: `each refusal logged, retried after a backoff (gaps ${gaps.join(", ")} ms); then Hello and the sync finished once, rows identical`,
      });
    });

    it("heartbeats failing (UNAVAILABLE) during a sync: the task still finishes once", async () => {
      const p = await platform({ nextHeartbeatMs: 100 });
      const sim = await startSim({ latencyMs: 30 });
      await service(p, sim, "heartbeat failures");
      const id = p.enqueue(syncTask);
      await p.waitFor(() => heartbeatsOf(p, id) >= 1, "the first heartbeat");
      p.fail.unavailableMethods = ["Heartbeat"];
      p.fail.unavailableCalls = 4;
      await p.waitForFinished(id, 60_000);
      const failedBeats = p.calls.filter((c) => c.method === "Heartbeat" && c.outcome === "failed-on-purpose").length;
      await nothingLostNothingDuplicated(p, [id], [id]);
      record({
        section: "Service-mode faults",
        case: "heartbeat failures",
        how: "4 heartbeats in a row answer UNAVAILABLE during a sync",
        outcome: `${failedBeats} failed heartbeats retried; the sync finished once, upload whole, rows identical`,
      });
    });

    it("an upload cut mid-stream (twice) is sent again whole: one upload, checksum right", async () => {
      const p = await platform();
      p.fail.uploadFailuresMidStream = 2;
      const sim = await startSim();
      await service(p, sim, "upload cut", { uploadChunkBytes: 16 * 1024 });
      const id = p.enqueue(syncTask);
      await p.waitForFinished(id);
      expect(p.uploadAttempts.filter((a) => a.taskId === id).map((a) => a.outcome)).toEqual(["failed-on-purpose", "failed-on-purpose", "ok"]);
      await nothingLostNothingDuplicated(p, [id], [id]);
      record({
        section: "Service-mode faults",
        case: "upload interrupted mid-stream",
        how: "UploadAsset fails after its first 16 KiB chunk, two attempts in a row",
        outcome: "the third attempt sent the whole file: one upload, sha256 right, rows identical; finished once",
      });
    });

    it("FinishTask failing three times, then succeeding: finished exactly once", async () => {
      const p = await platform();
      p.fail.finishTaskFailures = 3;
      const sim = await startSim();
      await service(p, sim, "FinishTask failures");
      const sync = p.enqueue(syncTask);
      await p.waitForFinished(sync);
      expect(p.finishCalls.filter((f) => f.taskId === sync).map((f) => f.accepted)).toEqual([false, false, false, true]);
      await nothingLostNothingDuplicated(p, [sync], [sync]);
      record({
        section: "Service-mode faults",
        case: "FinishTask failing then succeeding",
        how: "the first 3 FinishTask calls answer UNAVAILABLE",
        outcome: "FinishTask retried until accepted (4 calls, 1 accepted); the sync ran once, one upload, rows identical",
      });
    });

    it("a task cancelled by the platform mid-sync: finished once as CANCELLED, nothing uploaded, the next task runs", async () => {
      const p = await platform({ nextHeartbeatMs: 100 });
      const sim = await startSim({ latencyMs: 40 });
      await service(p, sim, "cancelled");
      const id = p.enqueue(syncTask);
      await p.waitFor(() => heartbeatsOf(p, id) >= 1, "the sync running");
      p.cancel(id);
      const finish = await p.waitForFinished(id);
      expect(finish.finalState.case).toBe("error");
      expect(finish.status?.code).toBe(Code.CANCELLED);
      expect(p.uploads.filter((u) => u.taskId === id)).toEqual([]);
      sim.setLatency(0);
      const next = p.enqueue(syncTask);
      await p.waitForFinished(next);
      await nothingLostNothingDuplicated(p, [id, next], [next]);
      record({
        section: "Service-mode faults",
        case: "task cancelled",
        how: "the platform answers a heartbeat with cancelled = true mid-sync",
        outcome: `finished once with CANCELLED ("${finish.status?.message}"), no upload; the next sync task finished once, rows identical`,
      });
    });

    it("SIGTERM during a sync (baton-datadog in service mode, a child process): the task finishes, then exit 0", async () => {
      const p = await platform({ clientIdHost: "platform.invalid" });
      const sim = await startSim({ latencyMs: 40 });
      const dir = tempDir("sigterm");
      const datadog = ["--api-key", sim.apiKey, "--app-key", sim.appKey, "--base-url", sim.baseUrl, "--sync-schedules", "--sync-secrets"];
      const child = startCli([...datadog, "--log-level", "debug"], {
        source: "service: SIGTERM child",
        env: {
          NODE_EXTRA_CA_CERTS: p.caFile,
          BATON_C1_API_HOST: p.host,
          BATON_CLIENT_ID: p.clientId,
          BATON_CLIENT_SECRET: p.clientSecret,
          BATON_HOST_ID: "faults-sigterm",
          TMPDIR: dir,
        },
      });
      await p.waitFor(() => p.hellos[0], "Hello from the child", 30_000);
      const before = sim.stats.requests;
      const id = p.enqueue(syncTask);
      await eventually(() => sim.stats.requests > before, "the sync's first request to Datadog", 30_000);
      child.kill("SIGTERM");
      const result = await child.done;
      expect({ code: result.code, signal: result.signal }, result.stderr.slice(-2000)).toEqual({ code: 0, signal: null });
      await nothingLostNothingDuplicated(p, [id], [id]);
      expect(result.stderr).toContain("shutting down: letting running tasks finish");
      record({
        section: "Service-mode faults",
        case: "SIGTERM during a sync",
        how: "`baton-datadog` in service mode as a child process (env config, NODE_EXTRA_CA_CERTS), SIGTERM at the sync's first Datadog request",
        outcome: "stopped polling, let the sync finish: uploaded once (checksum right, rows identical), FinishTask once, exit 0",
        exitCode: 0,
      });
    });
  });
}
