/**
 * Service mode end to end with the real Datadog connector (in process) against the test platform (real TLS,
 * token exchange, gRPC) and the Datadog simulator: Hello → sync_full whose upload is a valid c1z with the
 * simulator's users → grant → revoke → create_account, each finished with the connector's response in Any and
 * visible in the simulator's state. With provisioning off, every provisioning task is refused, final, and
 * nothing reaches Datadog.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { anyIs, anyUnpack } from "@bufbuild/protobuf/wkt";
import { entitlement, grant, resourceId, resourceRef, roleResource } from "../../src/connector/builders.ts";
import { Code } from "../../src/connector/errors.ts";
import { Capability } from "../../src/gen/c1/connector/v2/connector_pb.js";
import { GrantManagerServiceGrantResponseSchema, GrantManagerServiceRevokeResponseSchema } from "../../src/gen/c1/connector/v2/grant_pb.js";
import { CreateAccountResponseSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import type { BatonServiceFinishTaskRequest } from "../../src/gen/c1/connectorapi/baton/v1/baton_pb.js";
import type { BuiltDatadog } from "../../connectors/datadog/build.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { expectedCounts, startSimulator, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { makeTestPki, startTestPlatform, type TestPki, type TestPlatform } from "../platform/index.ts";
import { capturedLogger, startService, uploadedSync, type CapturedLogs, type RunningService } from "../service/helpers.ts";
import { activeHumans, datadogFor, E2E_ORG, E2E_SEED, withC1zBytes } from "./datadog.ts";

const tempDir = tempDirs("all");
let pkiDir: string;
let pki: TestPki;
let sim: Simulator;
let platform: TestPlatform | undefined;
let service: RunningService | undefined;
let built: BuiltDatadog | undefined;

beforeAll(async () => {
  pkiDir = tempDir("e2e-service-pki-");
  pki = makeTestPki(pkiDir);
});
afterEach(async () => {
  await service?.stop().catch(() => {});
  service = undefined;
  await built?.close();
  built = undefined;
  await platform?.close();
  platform = undefined;
  await sim?.close();
});

/** A fresh simulator and platform, and service mode running the Datadog connector against both. */
async function start(provisioning: boolean): Promise<{ p: TestPlatform; connectorLogs: CapturedLogs }> {
  sim = await startSimulator({ seed: E2E_SEED, counts: E2E_ORG });
  platform = await startTestPlatform({ pki, nextPollMs: 20, nextHeartbeatMs: 100 });
  const connectorLogs = capturedLogger();
  const datadog = await datadogFor(sim, connectorLogs.logger, provisioning);
  built = datadog.built;
  service = startService(platform, datadog.rpc);
  return { p: platform, connectorLogs };
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

describe("service mode with the Datadog connector", () => {
  it("says Hello, uploads a full sync of the simulator, then grants, revokes and creates an account in Datadog", async () => {
    const { p, connectorLogs } = await start(true);

    const hello = await p.waitFor(() => p.hellos[0], "Hello");
    expect(hello.connectorMetadata?.displayName).toBe("Datadog");
    expect(hello.connectorMetadata?.capabilities?.connectorCapabilities).toEqual(
      expect.arrayContaining([Capability.SYNC, Capability.PROVISION, Capability.ACCOUNT_PROVISIONING]),
    );

    // sync_full: the upload is a valid c1z holding exactly the simulator's org.
    const expected = expectedCounts(sim.org);
    const syncTask = p.enqueue({ taskType: { case: "syncFull", value: {} } });
    expect(successResponse(await p.waitForFinished(syncTask))).toBeUndefined();
    const { upload, rows, counts } = await uploadedSync(p, syncTask);
    expect(upload.bytes.subarray(0, 5).toString("latin1")).toBe("C1ZF\0");
    expect(counts.resourcesByType).toEqual({
      user: expected.users,
      role: expected.roles,
      team: expected.teams,
      schedule: expected.schedules,
      "api-key": expected.apiKeys,
      "application-key": expected.appKeys,
    });
    expect(counts.grants).toBe(expected.grants);
    const syncedUsers = rows.filter((r) => r.startsWith("r|user:")).map((r) => r.split("|")[1].slice("user:".length));
    expect(syncedUsers.sort()).toEqual(sim.org.users.values().map((u) => u.id).sort());

    // grant: a role's member entitlement, as synced, to an active user outside the role.
    const role = sim.org.roles.values().find((r) => activeHumans(sim).some((u) => !r.users.has(u.id)))!;
    const target = activeHumans(sim).find((u) => !role.users.has(u.id))!;
    const { member, principal } = await withC1zBytes(upload.bytes, (store, id) => ({
      member: store.getEntitlement(id, `role:${role.id}:member`),
      principal: store.getResource(id, "user", target.id),
    }));
    expect(member, "the role's member entitlement is in the upload").toBeDefined();
    expect(principal, "the user is in the upload").toBeDefined();
    const grantTask = p.enqueue({ taskType: { case: "grant", value: { entitlement: member, principal } } });
    const granted = successResponse(await p.waitForFinished(grantTask))!;
    expect(anyIs(granted, GrantManagerServiceGrantResponseSchema)).toBe(true);
    const newGrants = anyUnpack(granted, GrantManagerServiceGrantResponseSchema)!.grants;
    expect(newGrants.map((g) => g.id)).toEqual([`role:${role.id}:member:user:${target.id}`]);
    expect(role.users.has(target.id)).toBe(true);

    // revoke: the grant the platform was just told about.
    const revokeTask = p.enqueue({ taskType: { case: "revoke", value: { grant: newGrants[0] } } });
    const revoked = successResponse(await p.waitForFinished(revokeTask))!;
    expect(anyIs(revoked, GrantManagerServiceRevokeResponseSchema)).toBe(true);
    expect(role.users.has(target.id)).toBe(false);

    // create_account: a new, invited Datadog user.
    const email = "e2e.new.hire@example.com";
    expect(sim.org.userByEmail(email)).toBeUndefined();
    const createTask = p.enqueue({
      taskType: {
        case: "createAccount",
        value: {
          accountInfo: { emails: [{ address: email, isPrimary: true }], login: email, profile: { name: "E2E New Hire", title: "SRE" } },
          resourceTypeId: "user",
        },
      },
    });
    const createdAny = successResponse(await p.waitForFinished(createTask))!;
    expect(anyIs(createdAny, CreateAccountResponseSchema)).toBe(true);
    const created = anyUnpack(createdAny, CreateAccountResponseSchema)!;
    expect(created.result.case).toBe("success");
    const newUser = sim.org.userByEmail(email);
    expect(newUser).toMatchObject({ name: "E2E New Hire", title: "SRE", status: "Pending" });
    expect(created.result.value?.resource?.id).toMatchObject({ resourceType: "user", resource: newUser!.id });
    expect(sim.org.invitations.filter((i) => i.user.id === newUser!.id)).toHaveLength(1);

    expect(p.duplicateFinishes).toEqual([]);
    const summary = await service!.stop();
    expect(summary).toMatchObject({ tasksStarted: 4, tasksReported: 4, tasksUnreported: 0 });
    const logs = service!.logs.text() + connectorLogs.text();
    for (const secret of [sim.apiKey, sim.appKey, p.clientSecret.split(":")[3]]) expect(logs).not.toContain(secret);
  });

  it("with provisioning off, finishes every provisioning task with a final FAILED_PRECONDITION and leaves Datadog untouched", async () => {
    const { p } = await start(false);
    await p.waitFor(() => p.hellos[0], "Hello");
    sim.resetStats();

    const role = sim.org.roles.values()[0];
    const target = activeHumans(sim).find((u) => !role.users.has(u.id))!;
    const member = entitlement(roleResource({ type: "role", id: role.id, displayName: role.name }), "member");
    const principal = resourceRef(resourceId("user", target.id));
    const apiKey = sim.org.apiKeys.values()[0];
    const tasks = [
      p.enqueue({ taskType: { case: "grant", value: { entitlement: member, principal } } }),
      p.enqueue({ taskType: { case: "revoke", value: { grant: grant(member, resourceId("user", role.users.values()[0]?.id ?? target.id)) } } }),
      p.enqueue({ taskType: { case: "createAccount", value: { accountInfo: { emails: [{ address: "off@example.com", isPrimary: true }] } } } }),
      p.enqueue({ taskType: { case: "deleteResource", value: { resourceId: resourceId("api-key", apiKey.id) } } }),
      p.enqueue({ taskType: { case: "rotateCredentials", value: { resourceId: resourceId("application-key", sim.org.appKeys.values()[0].id) } } }),
    ];
    for (const id of tasks) {
      expect(errorOf(await p.waitForFinished(id)), id).toEqual({
        code: Code.FAILED_PRECONDITION,
        message: "provisioning is not enabled: start the connector with -p (--provisioning) or set BATON_PROVISIONING=true",
        nonRetryable: true,
      });
    }
    // Not one request reached Datadog, and nothing changed there.
    expect(sim.stats.requests).toBe(0);
    expect(role.users.has(target.id)).toBe(false);
    expect(sim.org.userByEmail("off@example.com")).toBeUndefined();
    expect(sim.org.apiKeys.get(apiKey.id)).toBeDefined();
  });
});
