/**
 * Service mode end to end against the test platform (real TLS, real token exchange, real gRPC): Hello, a full
 * sync uploaded as a valid c1z, every provisioning task kind finished with the connector's response, unsupported
 * kinds finished with an error; health probes; platform cancellation; outages at start and mid-task; uploads
 * and FinishTask failing on purpose; refused credentials retried with backoff; SIGTERM; concurrency.
 */
import { generateKeyPairSync } from "node:crypto";
import { statSync } from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { anyIs, anyUnpack } from "@bufbuild/protobuf/wkt";
import { compactDecrypt } from "jose";
import { entitlement, grant, groupResource, resourceId, resourceRef } from "../../src/connector/builders.ts";
import { Code } from "../../src/connector/errors.ts";
import { Capability } from "../../src/gen/c1/connector/v2/connector_pb.js";
import { GrantManagerServiceGrantResponseSchema, GrantManagerServiceRevokeResponseSchema } from "../../src/gen/c1/connector/v2/grant_pb.js";
import {
  CreateAccountResponseSchema,
  DeleteResourceV2ResponseSchema,
  EncryptionConfigSchema,
  RotateCredentialResponseSchema,
} from "../../src/gen/c1/connector/v2/resource_pb.js";
import type { BatonServiceFinishTaskRequest } from "../../src/gen/c1/connectorapi/baton/v1/baton_pb.js";
import { fixtureConnector } from "../fixtures/fixture-connector.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { makeTestPki, startTestPlatform, type TestPki, type TestPlatform, type TestPlatformOptions } from "../platform/index.ts";
import { eventually, inProcess, listDir, observedRpc, startService, uploadedSync, type RunningService } from "./helpers.ts";
import { provisioningFixture } from "./provisioning-fixture.ts";

const tempDir = tempDirs("all");
let pkiDir: string;
let pki: TestPki;
let platform: TestPlatform | undefined;
let service: RunningService | undefined;
const cleanups: (() => unknown)[] = [];

beforeAll(() => {
  pkiDir = tempDir("runner-test-pki-");
  pki = makeTestPki(pkiDir);
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  await service?.stop().catch(() => {});
  service = undefined;
  await platform?.close();
  platform = undefined;
});

async function newPlatform(options: Omit<TestPlatformOptions, "pki"> = {}): Promise<TestPlatform> {
  platform = await startTestPlatform({ pki, ...options });
  return platform;
}

const syncTask = { taskType: { case: "syncFull" as const, value: {} } };
const heartbeatsOf = (p: TestPlatform, id: string) => p.heartbeats.filter((h) => h.taskId === id).length;
const logCount = (s: RunningService, msg: string) => s.logs.entries().filter((e) => e.msg === msg).length;

function encryptionConfig() {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = publicKey.export({ format: "jwk" });
  const config = create(EncryptionConfigSchema, {
    provider: "baton/jwk/v1",
    keyId: "platform-key",
    config: { case: "jwkPublicKeyConfig", value: { pubKey: new TextEncoder().encode(JSON.stringify(jwk)) } },
  });
  const decrypt = async (bytes: Uint8Array) =>
    new TextDecoder().decode((await compactDecrypt(new TextDecoder().decode(bytes), privateKey)).plaintext);
  return { config, decrypt };
}

function successResponse(finish: BatonServiceFinishTaskRequest) {
  expect(finish.finalState.case, JSON.stringify(finish.status)).toBe("success");
  return finish.finalState.case === "success" ? finish.finalState.value.response : undefined;
}

function errorOf(finish: BatonServiceFinishTaskRequest) {
  expect(finish.finalState.case).toBe("error");
  return {
    code: finish.status?.code,
    message: finish.status?.message,
    nonRetryable: finish.finalState.case === "error" && finish.finalState.value.nonRetryable,
  };
}

describe("service mode against the test platform", () => {
  it("says Hello, syncs and uploads a valid c1z, runs every provisioning task kind, and finishes unsupported kinds with an error", async () => {
    const p = await newPlatform();
    const fixture = provisioningFixture();
    service = startService(p, inProcess(fixture.connector, true));

    const hello = await p.waitFor(() => p.hellos[0], "Hello");
    expect(hello.hostId).toBe("test-host");
    expect(hello.buildInfo).toMatchObject({ langVersion: process.version, package: "baton-test", packageVersion: "9.9.9" });
    expect(hello.osInfo).toMatchObject({ hostname: os.hostname(), os: process.platform, kernelVersion: os.release(), kernelArch: os.machine() });
    expect(hello.osInfo?.platform).toBeTruthy();
    expect(hello.connectorMetadata?.displayName).toBe("Fixture (provisioning)");
    expect(hello.connectorMetadata?.capabilities?.connectorCapabilities).toEqual(
      expect.arrayContaining([Capability.SYNC, Capability.PROVISION, Capability.ACCOUNT_PROVISIONING, Capability.CREDENTIAL_ROTATION]),
    );

    // sync_full → upload → FinishTask{success}
    const syncId = p.enqueue(syncTask);
    expect(successResponse(await p.waitForFinished(syncId))).toBeUndefined();
    const { upload, rows, counts } = await uploadedSync(p, syncId);
    expect(upload.hostId).toBe("test-host");
    expect(upload.chunkSizes.every((n) => n > 0 && n <= 512 * 1024)).toBe(true);
    expect(rows.filter((r) => r.startsWith("r|user:")).map((r) => r.split("|")[1])).toEqual(
      ["u0", "u1", "u2", "u3", "u4", "u5", "u6"].map((u) => `user:${u}`),
    );
    expect(rows.some((r) => r.startsWith("g|group:g1:member:user:u0|"))).toBe(true);
    expect(counts).toMatchObject({ resourceTypes: 5, resources: 21, entitlements: 4 });

    // A sync limited to users, without entitlements and grants.
    const usersOnly = p.enqueue({ taskType: { case: "syncFull", value: { syncResourceTypeIds: ["user"], skipEntitlementsAndGrants: true } } });
    successResponse(await p.waitForFinished(usersOnly));
    expect((await uploadedSync(p, usersOnly)).counts).toMatchObject({ resourceTypes: 1, resources: 7, entitlements: 0, grants: 0 });

    // grant / revoke
    const g1 = groupResource({ type: "group", id: "g1", displayName: "Group g1" });
    const member = entitlement(g1, "member");
    const grantId = p.enqueue({ taskType: { case: "grant", value: { entitlement: member, principal: resourceRef(resourceId("user", "u5")) } } });
    const granted = successResponse(await p.waitForFinished(grantId))!;
    expect(anyIs(granted, GrantManagerServiceGrantResponseSchema)).toBe(true);
    expect(anyUnpack(granted, GrantManagerServiceGrantResponseSchema)!.grants.map((g) => g.id)).toEqual(["group:g1:member:user:u5"]);

    const revokeId = p.enqueue({ taskType: { case: "revoke", value: { grant: grant(member, resourceId("user", "u0")) } } });
    expect(anyIs(successResponse(await p.waitForFinished(revokeId))!, GrantManagerServiceRevokeResponseSchema)).toBe(true);

    // create_account, with the new password encrypted for the platform
    const enc = encryptionConfig();
    const createId = p.enqueue({
      taskType: {
        case: "createAccount",
        value: { accountInfo: { login: "newbie", emails: [{ address: "newbie@example.com", isPrimary: true }] }, encryptionConfigs: [enc.config], resourceTypeId: "user" },
      },
    });
    const created = anyUnpack(successResponse(await p.waitForFinished(createId))!, CreateAccountResponseSchema)!;
    expect(created.result.case).toBe("success");
    expect(created.result.case === "success" && created.result.value.resource?.id?.resource).toBe("new-newbie");
    expect(created.encryptedData).toHaveLength(1);
    expect(await enc.decrypt(created.encryptedData[0].encryptedBytes)).toBe("pw-for-newbie");

    // delete_resource, rotate_credentials
    const deleteId = p.enqueue({ taskType: { case: "deleteResource", value: { resourceId: resourceId("user", "u6") } } });
    expect(anyIs(successResponse(await p.waitForFinished(deleteId))!, DeleteResourceV2ResponseSchema)).toBe(true);
    const rotateId = p.enqueue({ taskType: { case: "rotateCredentials", value: { resourceId: resourceId("user", "u1"), encryptionConfigs: [enc.config] } } });
    const rotated = anyUnpack(successResponse(await p.waitForFinished(rotateId))!, RotateCredentialResponseSchema)!;
    expect(await enc.decrypt(rotated.encryptedData[0].encryptedBytes)).toBe("key-u1");

    expect(fixture.changes).toEqual([
      "grant group:g1:member user:u5",
      "revoke group:g1:member:user:u0",
      "create newbie",
      "delete user:u6",
      "rotate u1",
    ]);

    // Unsupported kinds, a failing provisioning call, and the hello task.
    const feedId = p.enqueue({ taskType: { case: "eventFeed", value: {} } });
    const diffId = p.enqueue({ taskType: { case: "createSyncDiff", value: { baseSyncId: "a", newSyncId: "b" } } });
    // As the Go SDK finishes them (PROTOCOL-2 §7): UNKNOWN "unsupported task type", retryable.
    expect(errorOf(await p.waitForFinished(feedId))).toEqual({ code: Code.UNKNOWN, message: "unsupported task type", nonRetryable: false });
    expect(errorOf(await p.waitForFinished(diffId))).toEqual({ code: Code.UNKNOWN, message: "unsupported task type", nonRetryable: false });
    const badGrant = p.enqueue({
      taskType: { case: "grant", value: { entitlement: entitlement(groupResource({ type: "nope", id: "x", displayName: "x" }), "member"), principal: resourceRef(resourceId("user", "u1")) } },
    });
    expect(errorOf(await p.waitForFinished(badGrant))).toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringMatching(/unknown resource type "nope"/), nonRetryable: true });
    const helloTask = p.enqueue({ taskType: { case: "hello", value: {} } });
    successResponse(await p.waitForFinished(helloTask));
    expect(p.hellos.at(-1)?.taskId).toBe(helloTask);

    expect(p.duplicateFinishes).toEqual([]);
    expect(listDir(service.tempDir)).toEqual([]); // each sync's files are gone
    const summary = await service.stop();
    expect(summary).toEqual({ hostId: "test-host", tasksStarted: 11, tasksReported: 11, tasksUnreported: 0 });
    expect(service.logs.text()).not.toContain(p.clientSecret.split(":")[3]);
    expect(p.calls.filter((c) => c.outcome === "unauthenticated")).toEqual([]);
  });

  it("finishes provisioning tasks with FAILED_PRECONDITION when provisioning is off", async () => {
    const p = await newPlatform();
    service = startService(p, inProcess(fixtureConnector()));
    const id = p.enqueue({ taskType: { case: "createAccount", value: { accountInfo: { login: "x" } } } });
    expect(errorOf(await p.waitForFinished(id))).toEqual({ code: Code.FAILED_PRECONDITION, message: "provisioning is not enabled: start the connector with -p (--provisioning) or set BATON_PROVISIONING=true", nonRetryable: true });
  });

  it("serves /live, /ready (503 until Hello succeeded) and /health, without secrets", async () => {
    const p = await newPlatform();
    p.fail.down = true;
    service = startService(p, inProcess(fixtureConnector()), { health: { port: 0, bindAddress: "127.0.0.1" } });
    const port = await service.healthPort;
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: res.status, body: await res.text() };
    };
    await eventually(() => logCount(service!, "Hello failed; trying again") >= 1, "a failed Hello");
    expect((await get("/live")).status).toBe(200);
    expect((await get("/ready")).status).toBe(503);
    const starting = await get("/health");
    expect(starting.status).toBe(200);
    expect(JSON.parse(starting.body)).toMatchObject({ status: "starting", ready: false, runningTasks: 0 });

    p.fail.down = false;
    // The second poll is sent only after the first one's answer was handled.
    await p.waitFor(() => p.calls.filter((c) => c.method === "GetTask" && c.outcome === "ok").length >= 2, "polling");
    expect((await get("/ready")).status).toBe(200);
    const healthy = await get("/health");
    expect(JSON.parse(healthy.body)).toMatchObject({ status: "ok", ready: true, stopping: false });
    expect(JSON.parse(healthy.body).lastPollAt).toMatch(/^\d{4}-/);
    expect((await get("/nope")).status).toBe(404);
    for (const r of [starting, healthy]) {
      expect(r.body).not.toContain(p.clientSecret.split(":")[3]);
      expect(r.body).not.toContain(p.clientId);
    }
    await service.stop();
    await expect(fetch(`http://127.0.0.1:${port}/live`)).rejects.toThrow(); // the probe server is gone
  });

  it("stops a sync the platform cancels within 2 heartbeats, and reports it cancelled", async () => {
    const p = await newPlatform({ nextHeartbeatMs: 100 });
    const observed = observedRpc(inProcess(fixtureConnector({ delayMs: 20, users: 3000 })));
    service = startService(p, observed.rpc);
    const id = p.enqueue(syncTask);
    await p.waitFor(() => heartbeatsOf(p, id) >= 1, "the sync's first heartbeat");
    p.cancel(id);
    const atCancel = heartbeatsOf(p, id);
    const finish = await p.waitForFinished(id);
    expect(heartbeatsOf(p, id) - atCancel).toBeLessThanOrEqual(2);
    expect(p.heartbeats.filter((h) => h.taskId === id && h.answeredCancelled)).toHaveLength(1);
    expect(errorOf(finish)).toEqual({ code: Code.CANCELLED, message: "the platform cancelled the task", nonRetryable: true });
    expect(p.uploads).toEqual([]);

    // Nothing of the sync goes on: no more connector calls while the service keeps polling and runs another task.
    const callsAtFinish = observed.total();
    const probe = p.enqueue({ taskType: { case: "eventFeed", value: {} } });
    await p.waitForFinished(probe);
    const polls = p.calls.length;
    await p.waitFor(() => p.calls.length >= polls + 5, "more polls");
    expect(observed.total()).toBe(callsAtFinish);
    expect(heartbeatsOf(p, id) - atCancel).toBeLessThanOrEqual(2);
    expect(listDir(service.tempDir)).toEqual([]);
  });

  it("survives the platform being down at start and mid-task: the sync still finishes and uploads whole", async () => {
    // Heartbeats every 200 ms: the outage spans a few of them, well under the 10 that abort a task.
    const p = await newPlatform({ nextHeartbeatMs: 200 });
    await p.stop();
    const observed = observedRpc(inProcess(fixtureConnector()));
    service = startService(p, observed.rpc);
    await eventually(() => logCount(service!, "Hello failed; trying again") >= 2, "Hello retried during the outage");
    await p.start();
    await p.waitFor(() => p.hellos.length === 1, "Hello after the outage");

    // Hold the sync inside a listing, cut the platform off, and let heartbeats fail a few times.
    const release = Promise.withResolvers<void>();
    observed.hold = release.promise;
    observed.holdMethods = ["listResources"];
    const id = p.enqueue(syncTask);
    await observed.held.promise;
    await p.waitFor(() => heartbeatsOf(p, id) >= 1, "a heartbeat");
    await p.stop();
    await eventually(() => logCount(service!, "heartbeat failed") >= 2, "heartbeats failing during the outage");
    await p.start();
    const before = heartbeatsOf(p, id);
    await p.waitFor(() => heartbeatsOf(p, id) > before, "heartbeats after the outage");
    observed.hold = undefined;
    release.resolve();

    successResponse(await p.waitForFinished(id));
    const { rows } = await uploadedSync(p, id);
    expect(rows.filter((r) => r.startsWith("r|user:"))).toHaveLength(7);
    expect(p.uploads).toHaveLength(1);
    let ended = false;
    void service.done.finally(() => (ended = true));
    await Promise.resolve();
    expect(ended).toBe(false); // the outage did not end the service
  });

  it("sends an upload interrupted mid-stream again, whole, in chunks", async () => {
    const p = await newPlatform();
    service = startService(p, inProcess(fixtureConnector()), { uploadChunkBytes: 1024 });
    p.fail.uploadFailuresMidStream = 2;
    const id = p.enqueue(syncTask);
    successResponse(await p.waitForFinished(id));
    expect(p.uploadAttempts.filter((a) => a.taskId === id).map((a) => a.outcome)).toEqual(["failed-on-purpose", "failed-on-purpose", "ok"]);
    const { upload, rows } = await uploadedSync(p, id);
    expect(upload.chunkSizes.length).toBeGreaterThan(1);
    expect(upload.chunkSizes.slice(0, -1).every((n) => n === 1024)).toBe(true);
    expect(rows.filter((r) => r.startsWith("r|user:"))).toHaveLength(7);
  });

  it("keeps a finished sync whose upload failed 3 times and uploads it once the platform is back, without syncing again", async () => {
    const p = await newPlatform({ nextHeartbeatMs: 50 }); // many failed heartbeats during the outage: they must not abort it
    const observed = observedRpc(inProcess(fixtureConnector()));
    service = startService(p, observed.rpc);
    const release = Promise.withResolvers<void>();
    observed.hold = release.promise;
    observed.holdMethods = ["listResourceTypes"];
    const id = p.enqueue(syncTask);
    await observed.held.promise;
    p.fail.down = true;
    observed.hold = undefined;
    release.resolve();
    await p.waitFor(() => p.calls.filter((c) => c.method === "UploadAsset").length >= 5, "3 upload attempts, then retries of the kept sync");
    await p.waitFor(() => p.calls.filter((c) => c.method === "Heartbeat").length >= 12, "more than 10 failed heartbeats");
    const keptDir = join(service.tempDir, "baton-kept-uploads");
    const kept = listDir(keptDir);
    expect(kept.filter((n) => n.endsWith(".c1z"))).toHaveLength(1);
    expect(kept.join(" ")).not.toContain(id); // nothing about the task in file names
    for (const name of kept) expect(statSync(join(keptDir, name)).mode & 0o777).toBe(0o600);
    expect(statSync(keptDir).mode & 0o777).toBe(0o700);
    expect(p.calls.filter((c) => c.method === "FinishTask")).toEqual([]); // not reported as failed
    p.fail.down = false;
    successResponse(await p.waitForFinished(id));
    expect(p.uploads.filter((u) => u.taskId === id)).toHaveLength(1);
    expect((await uploadedSync(p, id)).rows.filter((r) => r.startsWith("r|user:"))).toHaveLength(7);
    expect(observed.calls.get("listResourceTypes")).toBe(1); // synced once
    expect(listDir(keptDir)).toEqual([]);
    expect(logCount(service, "the kept sync was uploaded")).toBe(1);
  });

  it("without kept uploads, gives up an upload after 3 attempts and reports a retryable failure once the platform answers", async () => {
    const p = await newPlatform({ nextHeartbeatMs: 5000 });
    const observed = observedRpc(inProcess(fixtureConnector()));
    service = startService(p, observed.rpc, { keptUploads: false });
    const release = Promise.withResolvers<void>();
    observed.hold = release.promise;
    observed.holdMethods = ["listResourceTypes"];
    const id = p.enqueue(syncTask);
    await observed.held.promise;
    p.fail.down = true;
    observed.hold = undefined;
    release.resolve();
    await p.waitFor(() => p.calls.filter((c) => c.method === "UploadAsset").length >= 3, "3 upload attempts");
    await p.waitFor(() => p.calls.filter((c) => c.method === "FinishTask").length >= 2, "FinishTask retried during the outage");
    p.fail.down = false;
    expect(errorOf(await p.waitForFinished(id))).toMatchObject({ code: Code.UNAVAILABLE, nonRetryable: false });
    expect(p.calls.filter((c) => c.method === "UploadAsset")).toHaveLength(3);
    expect(p.uploads).toEqual([]);
    expect(listDir(service.tempDir)).toEqual([]);
  });

  it("retries FinishTask until the platform takes it: the result is not lost and not duplicated", async () => {
    const p = await newPlatform();
    const fixture = provisioningFixture();
    service = startService(p, inProcess(fixture.connector, true));
    p.fail.finishTaskFailures = 3;
    const g1 = groupResource({ type: "group", id: "g1", displayName: "Group g1" });
    const id = p.enqueue({ taskType: { case: "grant", value: { entitlement: entitlement(g1, "member"), principal: resourceRef(resourceId("user", "u2")) } } });
    const finish = await p.waitForFinished(id);
    expect(anyUnpack(successResponse(finish)!, GrantManagerServiceGrantResponseSchema)!.grants).toHaveLength(1);
    expect(p.finishCalls.filter((f) => f.taskId === id).map((f) => f.accepted)).toEqual([false, false, false, true]);
    const polls = p.calls.length;
    await p.waitFor(() => p.calls.length >= polls + 5, "more polls");
    expect(p.finishCalls.filter((f) => f.taskId === id)).toHaveLength(4);
    expect(p.duplicateFinishes).toEqual([]);
    expect(fixture.changes).toEqual(["grant group:g1:member user:u2"]); // the grant ran once
  });

  it("reports refused credentials clearly and retries with growing waits, not in a hot loop", async () => {
    const p = await newPlatform();
    p.fail.tokenRefusals = 4;
    const baseMs = 100;
    service = startService(p, inProcess(fixtureConnector()), { backoff: { baseMs, maxMs: 5000 } });
    await p.waitFor(() => p.hellos[0], "Hello once the platform accepts the credentials");
    const attempts = p.tokenRequests.map((r) => r.at);
    expect(p.tokenRequests.map((r) => r.status)).toEqual([401, 401, 401, 401, 200]);
    // Attempt n waits at least half of base·2ⁿ (equal jitter); a hot loop would retry at once.
    for (let n = 0; n < 4; n++) expect(attempts[n + 1] - attempts[n]).toBeGreaterThanOrEqual(0.9 * (baseMs / 2) * 2 ** n);
    const refusals = service.logs.entries().filter((e) => e.msg === "Hello failed; trying again");
    expect(refusals).toHaveLength(4);
    for (const r of refusals) {
      expect(r.level).toBe("error"); // an operator must act
      expect(r.err).toMatch(/^the platform refused the client credentials: invalid_client: client credential revoked \(HTTP 401/);
    }
    expect(service.logs.text()).not.toContain(p.clientSecret.split(":")[3]);
  });

  it("renews the access token before it expires, without a refused call", async () => {
    const p = await newPlatform({ tokenExpiresInSeconds: 2 }); // renewed 400 ms before it expires
    service = startService(p, inProcess(fixtureConnector()));
    await p.waitFor(() => p.tokenRequests.filter((r) => r.ok).length >= 2, "a renewal");
    const polls = p.calls.length;
    await p.waitFor(() => p.calls.length >= polls + 5, "calls with the renewed token");
    expect(p.calls.filter((c) => c.outcome === "unauthenticated")).toEqual([]);
  });

  it("on SIGTERM stops taking tasks and lets the running one finish, then returns", async () => {
    const p = await newPlatform();
    const fixture = provisioningFixture();
    const observed = observedRpc(inProcess(fixture.connector, true));
    service = startService(p, observed.rpc);
    const release = Promise.withResolvers<void>();
    observed.hold = release.promise;
    observed.holdMethods = ["grant"];
    const g1 = groupResource({ type: "group", id: "g1", displayName: "Group g1" });
    const running = p.enqueue({ taskType: { case: "grant", value: { entitlement: entitlement(g1, "member"), principal: resourceRef(resourceId("user", "u3")) } } });
    await observed.held.promise;

    service.controller.abort(); // what the CLI does on SIGTERM
    await eventually(() => logCount(service!, "shutting down: letting running tasks finish") === 1, "shutdown to begin");
    const later = p.enqueue({ taskType: { case: "eventFeed", value: {} } });
    const getTasks = p.calls.filter((c) => c.method === "GetTask").length;
    await p.waitFor(() => heartbeatsOf(p, running) >= 3, "heartbeats while the task finishes");
    release.resolve();
    const summary = await service.done;
    expect(summary).toMatchObject({ tasksStarted: 1, tasksReported: 1, tasksUnreported: 0 });
    successResponse(p.finished.get(running)!);
    expect(fixture.changes).toEqual(["grant group:g1:member user:u3"]);
    expect(p.calls.filter((c) => c.method === "GetTask")).toHaveLength(getTasks);
    expect(p.finished.has(later)).toBe(false);
    expect(p.pendingTasks()).toBe(1);
  });

  it("cancels what is still running when the grace period ends, and reports it as retryable", async () => {
    const p = await newPlatform();
    const observed = observedRpc(inProcess(provisioningFixture().connector, true));
    service = startService(p, observed.rpc, { shutdownGraceMs: 100 });
    const release = Promise.withResolvers<void>();
    cleanups.push(() => release.resolve());
    observed.hold = release.promise;
    observed.holdMethods = ["grant"];
    const g1 = groupResource({ type: "group", id: "g1", displayName: "Group g1" });
    const id = p.enqueue({ taskType: { case: "grant", value: { entitlement: entitlement(g1, "member"), principal: resourceRef(resourceId("user", "u3")) } } });
    await observed.held.promise;
    service.controller.abort();
    const summary = await service.done;
    expect(summary).toMatchObject({ tasksStarted: 1, tasksReported: 1 });
    expect(errorOf(p.finished.get(id)!)).toEqual({
      code: Code.CANCELLED,
      message: "the connector shut down before the task finished",
      nonRetryable: false,
    });
  });

  it("aborts a task after 10 heartbeats in a row failed", async () => {
    const p = await newPlatform({ nextHeartbeatMs: 20 });
    const observed = observedRpc(inProcess(fixtureConnector()));
    service = startService(p, observed.rpc);
    const release = Promise.withResolvers<void>();
    cleanups.push(() => release.resolve());
    observed.hold = release.promise;
    observed.holdMethods = ["listResources"];
    p.fail.unavailableMethods = ["Heartbeat"];
    p.fail.unavailableCalls = 1_000_000;
    const id = p.enqueue(syncTask);
    const finish = await p.waitForFinished(id);
    expect(errorOf(finish)).toEqual({
      code: Code.UNAVAILABLE,
      message: "lost contact with the platform: 10 heartbeats in a row failed",
      nonRetryable: false,
    });
    expect(p.calls.filter((c) => c.method === "Heartbeat")).toHaveLength(10);
    expect(p.uploads).toEqual([]);
  });

  it("runs at most --task-concurrency tasks at once and stops polling while full", async () => {
    const p = await newPlatform();
    const fixture = provisioningFixture();
    const observed = observedRpc(inProcess(fixture.connector, true));
    service = startService(p, observed.rpc, { taskConcurrency: 2 });
    const release = Promise.withResolvers<void>();
    observed.hold = release.promise;
    observed.holdMethods = ["grant"];
    const g1 = groupResource({ type: "group", id: "g1", displayName: "Group g1" });
    const ids = ["u1", "u2", "u3"].map((u) =>
      p.enqueue({ taskType: { case: "grant", value: { entitlement: entitlement(g1, "member"), principal: resourceRef(resourceId("user", u)) } } }),
    );
    await eventually(() => observed.calls.get("grant") === 2, "two grants running");
    const getTasks = p.calls.filter((c) => c.method === "GetTask").length;
    const beats = p.heartbeats.length;
    await p.waitFor(() => p.heartbeats.length >= beats + 6, "time passing (heartbeats)");
    expect(observed.calls.get("grant")).toBe(2);
    expect(p.pendingTasks()).toBe(1);
    expect(p.calls.filter((c) => c.method === "GetTask")).toHaveLength(getTasks);
    observed.hold = undefined;
    release.resolve();
    for (const id of ids) successResponse(await p.waitForFinished(id));
    expect(observed.calls.get("grant")).toBe(3);
  });
});
