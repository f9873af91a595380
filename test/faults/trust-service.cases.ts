/**
 * Trust (service): cases of issue 12 for this area. Each case reproduces one defect against the real parts on loopback
 * (the TLS test platform, the Datadog connector in-process syncing the simulator) and records its measured outcome in
 * the "Trust" section of the fault matrix.
 *
 * - Defect 8: tasks that cannot be run (a type this build does not know, no type, types Go does not handle, a task
 *   missing what it needs, bytes that do not decode) are finished as the Go SDK finishes them, never dropped; a task
 *   above gRPC's default 4 MiB is received and run; one above the raised 32 MiB bound is an error naming its size,
 *   polled again after a backoff, not in a hot loop.
 * - Defect 12: a finished sync whose upload cannot be made during a long outage is kept, survives a restart of the
 *   service, and is uploaded once the platform is back: finished once with success, no second sync.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code } from "../../src/connector/errors.ts";
import { TaskSchema, type BatonServiceFinishTaskRequest } from "../../src/gen/c1/connectorapi/baton/v1/baton_pb.js";
import type { RunServiceOptions } from "../../src/service/runner.ts";
import type { Simulator } from "../../connectors/datadog/simulator/index.ts";
import { makeTestPki, startTestPlatform, type TestPki, type TestPlatform, type TestPlatformOptions } from "../platform/index.ts";
import { eventually, startService, uploadedSync, type RunningService } from "../service/helpers.ts";
import { collector } from "./collect.ts";
import { record } from "./matrix.ts";
import { builtDatadog, cleanSync, onCleanup, startSim, tempDir } from "./support.ts";
import { tempDirs } from "../helpers/temp-dir.ts";

const syncTask = { taskType: { case: "syncFull" as const, value: {} } };
const MiB = 1024 * 1024;
let pki: TestPki;
let pkiDir: string;

async function platform(options: Omit<TestPlatformOptions, "pki"> = {}): Promise<TestPlatform> {
  const p = await startTestPlatform({ pki, ...options });
  collector.secret(p.clientSecret, "platform client secret");
  collector.secret(p.clientSecret.split(":")[3], "platform client secret (key part)");
  onCleanup(() => p.close());
  return p;
}

async function service(p: TestPlatform, sim: Simulator, name: string, overrides: Partial<RunServiceOptions> = {}): Promise<RunningService> {
  const { rpc } = await builtDatadog(sim, collector.logger(`service: ${name} (connector)`));
  const s = startService(p, rpc, overrides);
  let collected = false;
  const collect = () => {
    if (collected) return;
    collected = true;
    for (const line of s.logs.lines) collector.add(`service: ${name}`, line);
  };
  onCleanup(async () => {
    await s.stop().catch(() => undefined);
    collect();
  });
  return s;
}

function outcome(finish: BatonServiceFinishTaskRequest) {
  return {
    state: finish.finalState.case,
    code: finish.status?.code,
    message: finish.status?.message,
    nonRetryable: finish.finalState.case === "error" && finish.finalState.value.nonRetryable,
  };
}

const describeFinish = (o: ReturnType<typeof outcome>) =>
  o.state === "success" ? "success" : `${Object.entries(Code).find(([, v]) => v === o.code)?.[0]} ${JSON.stringify(o.message)} ${o.nonRetryable ? "non-retryable" : "retryable"}`;

/** A task with field `no` set, a task type this build does not know (a newer platform's). */
function unknownTypeTask(id: string, no: number) {
  const task = create(TaskSchema, { id });
  task.$unknown = [{ no, wireType: WireType.LengthDelimited, data: new BinaryWriter().bytes(new Uint8Array([0x0a, 0x00])).finish() }];
  return task;
}

/** Task bytes with a readable id, then a grant body whose length runs past the end. */
function undecodableGrant(id: string): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).string(id);
  w.tag(103, WireType.LengthDelimited).uint32(200).raw(new Uint8Array([0x0a, 0x02, 0x01]));
  return w.finish();
}

/** A hello task carrying `bytes` of annotation: as large a task as one likes, that any connector can run. */
function largeHello(bytes: number) {
  return {
    taskType: {
      case: "hello" as const,
      value: { annotations: [{ typeUrl: "type.googleapis.com/google.protobuf.BytesValue", value: new Uint8Array(bytes).fill(7) }] },
    },
  };
}

export function trustServiceCases(): void {
  describe("Trust: service", () => {
    const pkiDirs = tempDirs("all");
    beforeAll(() => {
      pkiDir = pkiDirs("trust-service-pki-");
      pki = makeTestPki(pkiDir);
    });

    it("defect 8: tasks that cannot be run are finished as the Go SDK finishes them, never dropped", async () => {
      const p = await platform();
      const sim = await startSim();
      const s = await service(p, sim, "tasks that cannot be run");
      await p.waitFor(() => p.hellos[0], "Hello");
      const ids = {
        unknownType: p.enqueueTask(unknownTypeTask("t-unknown-type", 140)),
        noType: p.enqueueTask(create(TaskSchema, { id: "t-no-type" })),
        eventFeed: p.enqueue({ id: "t-event-feed", taskType: { case: "eventFeed", value: {} } }),
        compact: p.enqueue({ id: "t-compact", taskType: { case: "compactSyncs", value: {} } }),
        actionNoName: p.enqueue({ id: "t-action-no-name", taskType: { case: "actionInvoke", value: {} } }),
        grantNoPrincipal: p.enqueue({
          id: "t-grant-no-principal",
          taskType: { case: "grant", value: { entitlement: { id: "role:x:member", resource: { id: { resourceType: "role", resource: "x" } } } } },
        }),
        revokeNoGrant: p.enqueue({ id: "t-revoke-no-grant", taskType: { case: "revoke", value: {} } }),
        undecodable: "t-undecodable",
      };
      p.enqueueRawTask(undecodableGrant(ids.undecodable));
      p.enqueueRawTask(new Uint8Array([0x0a, 0xff, 0xff])); // no readable id: nothing can be finished
      const sync = p.enqueue(syncTask);
      await p.waitForFinished(sync, 60_000);
      const got: Record<string, ReturnType<typeof outcome>> = {};
      for (const [name, id] of Object.entries(ids)) {
        await p.waitFor(() => p.finished.get(id), `FinishTask of ${id}`, 5000).catch(() => undefined);
        const finish = p.finished.get(id);
        expect(finish, `${name} (${id}) was finished`).toBeDefined();
        got[name] = outcome(finish!);
      }
      const unsupported = { state: "error", code: Code.UNKNOWN, message: "unsupported task type", nonRetryable: false };
      const malformed = (m: string) => ({ state: "error", code: Code.UNKNOWN, message: `${m}\ntask failed and is non-retryable`, nonRetryable: true });
      expect(got).toEqual({
        unknownType: unsupported,
        noType: unsupported,
        eventFeed: unsupported,
        compact: unsupported,
        actionNoName: { state: "error", code: Code.UNKNOWN, message: "action name required", nonRetryable: false },
        grantNoPrincipal: malformed("malformed grant task"),
        revokeNoGrant: malformed("invalid task type"),
        undecodable: { ...malformed("x"), message: expect.stringMatching(/^malformed grant task: its bytes do not decode \(.+\)\ntask failed and is non-retryable$/) },
      });
      for (const id of Object.values(ids)) expect(p.heartbeats.filter((h) => h.taskId === id), `heartbeats of ${id}`).toEqual([]);
      expect(p.duplicateFinishes).toEqual([]);
      expect(outcome(p.finished.get(sync)!).state).toBe("success");
      const idless = s.logs.entries().filter((e) => e.msg === "GetTask failed; trying again" && /no readable task id/.test(String(e.err)));
      expect(idless.length).toBeGreaterThanOrEqual(1);
      record({
        section: "Trust",
        case: "tasks that cannot be run (issue 12, defect 8)",
        how:
          "the test platform hands out a task of an unknown type (field 140), one without a type, event_feed, compact_syncs, " +
          "action_invoke without a name, a grant without a principal, a revoke without a grant, task bytes that do not decode " +
          "(a readable id, a grant body cut short), bytes with no readable id, then a sync",
        outcome:
          `each finished once, without a heartbeat: ${Object.entries(got).map(([k, o]) => `${k}: ${describeFinish(o).replaceAll("\\ntask failed and is non-retryable", " + marker")}`).join("; ")}; ` +
          `the id-less answer was a failed poll (${idless.length}× "GetTask failed; trying again"), then the sync finished with success`,
      });
    });

    it("defect 8: a task above 4 MiB is received and run; one above the 32 MiB bound is an error naming its size, retried with backoff", async () => {
      const p = await platform();
      const sim = await startSim();
      const s = await service(p, sim, "large tasks");
      await p.waitFor(() => p.hellos[0], "Hello");
      const big = p.enqueue(largeHello(5 * MiB));
      const finish = await p.waitForFinished(big, 20_000);
      expect(outcome(finish).state).toBe("success");
      expect(p.hellos.at(-1)?.taskId).toBe(big);

      // The platform sends a 40 MiB task on every poll, four times, then a small one.
      const huge = create(TaskSchema, { id: "t-huge", ...largeHello(40 * MiB) });
      const pollsBefore = p.calls.filter((c) => c.method === "GetTask").length;
      for (let i = 0; i < 4; i++) p.enqueueTask(huge);
      const after = p.enqueue({ taskType: { case: "hello", value: {} } });
      await p.waitForFinished(after, 30_000);
      const refusals = s.logs.entries().filter((e) => typeof e.taskBytes === "number");
      expect(refusals).toHaveLength(4);
      for (const r of refusals) {
        expect(r).toMatchObject({ level: "error", limitBytes: 32 * MiB, delayMs: expect.any(Number) });
        expect(r.taskBytes as number).toBeGreaterThan(40 * MiB);
        expect(r.delayMs as number).toBeGreaterThan(0);
        expect(String(r.msg)).toContain(`a task of ${r.taskBytes} bytes, above the ${32 * MiB}-byte limit`);
      }
      const polls = p.calls.filter((c) => c.method === "GetTask").slice(pollsBefore, pollsBefore + 5).map((c) => c.at);
      const gaps = polls.slice(1).map((t, i) => t - polls[i]);
      expect(p.finished.has("t-huge")).toBe(false);
      record({
        section: "Trust",
        case: "a task over the receive limit (issue 12, defect 8)",
        how: "a hello task of 5 MiB (gRPC's default limit is 4 MiB), then a 40 MiB task sent on four polls in a row, then a small task",
        outcome:
          `the 5 MiB task was received and run (success); the 40 MiB one (${refusals[0].taskBytes} bytes) failed each poll with an error naming ` +
          `its size and the 32 MiB bound, then waits of ${refusals.map((r) => r.delayMs).join(", ")} ms (test backoff 20-200 ms; production 1 s ` +
          `doubling to 5 min), measured gaps between polls ${gaps.join(", ")} ms; then the small task ran`,
        message: String(refusals[0].msg).replace(/\d{8,}/, "N"),
      });
    });

    it("defect 12: a finished sync that cannot be uploaded during a long outage is kept across a restart and uploaded once the platform is back", async () => {
      const p = await platform({ nextHeartbeatMs: 100 });
      const sim = await startSim();
      const keptDir = join(tempDir("kept-uploads"), "kept");
      const first = await service(p, sim, "outage at upload (before the restart)", { keptUploads: { dir: keptDir } });
      await p.waitFor(() => p.hellos[0], "Hello");
      const before = sim.stats.requests;
      const id = p.enqueue(syncTask);
      await eventually(() => sim.stats.requests > before, "the sync's first request to Datadog", 30_000);
      const downAt = Date.now();
      p.fail.down = true;
      // 3 attempts inside the task, then at least 2 more of the kept sync: longer than the upload retries.
      await p.waitFor(() => p.calls.filter((c) => c.method === "UploadAsset").length >= 5, "upload attempts beyond the 3 of a task", 60_000);
      const syncRequests = sim.stats.requests - before;
      const kept = readdirSync(keptDir);
      expect(kept.filter((n) => n.endsWith(".c1z"))).toHaveLength(1);
      expect(kept.join(" ")).not.toContain(id);
      for (const name of kept) expect(statSync(join(keptDir, name)).mode & 0o777).toBe(0o600);
      const keptBytes = statSync(join(keptDir, kept.find((n) => n.endsWith(".c1z"))!)).size;
      const attemptsBeforeRestart = p.calls.filter((c) => c.method === "UploadAsset").length;

      // The service restarts while the platform is still down.
      await first.stop();
      expect(readdirSync(keptDir).sort()).toEqual(kept.sort());
      const second = await service(p, sim, "outage at upload (after the restart)", { keptUploads: { dir: keptDir } });
      await eventually(() => second.logs.lines.some((l) => l.includes("Hello failed; trying again")), "the restarted service waiting for the platform");
      p.fail.down = false;
      const outageMs = Date.now() - downAt;
      const finish = await p.waitForFinished(id, 30_000);
      expect(outcome(finish).state, JSON.stringify(finish.status)).toBe("success");
      expect(p.finishCalls.filter((f) => f.taskId === id && f.accepted)).toHaveLength(1);
      expect(p.uploads.filter((u) => u.taskId === id)).toHaveLength(1);
      const uploaded = await uploadedSync(p, id);
      expect(uploaded.upload.checksumOk).toBe(true);
      expect(uploaded.rows).toEqual((await cleanSync()).rows);
      expect(sim.stats.requests - before).toBe(syncRequests); // not synced again
      await eventually(() => !existsSync(keptDir) || readdirSync(keptDir).length === 0, "the kept files removed");
      expect(second.logs.lines.some((l) => l.includes("uploading a sync kept by an earlier run"))).toBe(true);
      record({
        section: "Trust",
        case: "a finished sync during a long platform outage (issue 12, defect 12)",
        how:
          "BatonService UNAVAILABLE (token endpoint 503) from the sync's first Datadog request on; the service stopped (SIGTERM) and " +
          `started again during the outage; the platform back after ${(outageMs / 1000).toFixed(1)} s`,
        outcome:
          `${attemptsBeforeRestart} upload attempts before the restart (3 of the task, then the kept sync's); the c1z (${keptBytes} bytes) kept ` +
          "0600 under a hashed name in the writable directory, survived the restart, was uploaded after Hello: one upload, checksum right, " +
          `rows identical to a clean sync, FinishTask success once, no second sync (${syncRequests} Datadog requests in all), kept files removed`,
      });
    });
  });
}
