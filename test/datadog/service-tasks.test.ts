/**
 * The Datadog connector in service mode against the test platform, on the simulator: the action tasks run the
 * user actions (a disable read back from the simulated org; a refusal finished as an error with its reason), the
 * event-feed tasks page the Audit Trail feed with its cursor from a start_at, and issue_credential hands a
 * service account a scoped application key the simulator accepts once decrypted.
 */
import { generateKeyPairSync } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { anyUnpack, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { compactDecrypt } from "jose";
import { Code } from "../../src/connector/errors.ts";
import { BatonActionStatus, InvokeActionResponseSchema, ListActionSchemasResponseSchema } from "../../src/gen/c1/connector/v2/action_pb.js";
import { ListEventFeedsResponseSchema, ListEventsResponseSchema } from "../../src/gen/c1/connector/v2/event_feed_pb.js";
import { EncryptionConfigSchema, IssueCredentialResponseSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import type { BatonServiceFinishTaskRequest } from "../../src/gen/c1/connectorapi/baton/v1/baton_pb.js";
import { CHANGES_FEED, USAGE_FEED } from "../../connectors/datadog/resources/audit-feed.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { makeTestPki, startTestPlatform, type TaskInit, type TestPki, type TestPlatform } from "../platform/index.ts";
import { inProcess, startService, type RunningService } from "../service/helpers.ts";
import { startHarness, type Harness } from "./harness.ts";

const tempDir = tempDirs("all");
let pki: TestPki;
let pkiDir: string;
let platform: TestPlatform;
let service: RunningService;
let h: Harness;

beforeAll(async () => {
  pkiDir = tempDir("datadog-tasks-pki-");
  pki = makeTestPki(pkiDir);
  [platform, h] = await Promise.all([startTestPlatform({ pki }), startHarness({ provisioning: true })]);
  service = startService(platform, inProcess(h.connector, true));
});
afterEach(() => {
  expect(platform.duplicateFinishes).toEqual([]);
});
afterAll(async () => {
  await service?.stop();
  await platform?.close();
  await h?.close();
});

function success(finish: BatonServiceFinishTaskRequest) {
  expect(finish.finalState.case, JSON.stringify(finish.status)).toBe("success");
  return finish.finalState.case === "success" ? finish.finalState.value.response : undefined;
}

const run = async (task: TaskInit) => platform.waitForFinished(platform.enqueue(task));
const userArg = (id: string) => ({ user: { resource_type_id: "user", resource_id: id } });

describe("action tasks", () => {
  it("lists the user actions and runs disable_user; a refused resend finishes as an error with its reason", async () => {
    const schemas = anyUnpack(success(await run({ taskType: { case: "actionListSchemas", value: { resourceTypeId: "user" } } }))!, ListActionSchemasResponseSchema)!;
    expect(schemas.schemas.map((s) => s.name).sort()).toEqual(["disable_user", "enable_user", "resend_invitation"]);

    const user = h.sim.org.users.values().find((u) => !u.serviceAccount && u.status === "Active")!;
    const invoked = anyUnpack(
      success(await run({ taskType: { case: "actionInvoke", value: { name: "disable_user", resourceTypeId: "user", args: userArg(user.id) } } }))!,
      InvokeActionResponseSchema,
    )!;
    expect(invoked).toMatchObject({ status: BatonActionStatus.COMPLETE, response: { success: true, changed: true, status: "Disabled" } });
    expect(h.sim.org.user(user.id).disabled).toBe(true);

    const refused = await run({ taskType: { case: "actionInvoke", value: { name: "resend_invitation", resourceTypeId: "user", args: userArg(user.id) } } });
    expect(refused.finalState.case).toBe("error");
    expect(refused.status).toMatchObject({ code: Code.UNKNOWN, message: expect.stringContaining("is Disabled, not Pending") });
  });
});

describe("event feed tasks", () => {
  it("list_event_feeds names both feeds; list_events tasks page the changes from start_at with the cursor", async () => {
    const feeds = anyUnpack(success(await run({ taskType: { case: "listEventFeeds", value: {} } }))!, ListEventFeedsResponseSchema)!;
    expect(feeds.list.map((f) => f.id).sort()).toEqual([CHANGES_FEED, USAGE_FEED].sort());

    const startAt = timestampFromDate(new Date());
    await new Promise((r) => setTimeout(r, 5));
    const role = h.sim.org.roles.values()[2];
    const members = h.sim.org.users.values().filter((u) => !u.serviceAccount && !role.users.has(u.id)).slice(0, 5);
    for (const u of members) await h.client.addUserToRole(role.id, u.id);

    const granted: string[] = [];
    let cursor = "";
    let pages = 0;
    for (; pages < 20; pages++) {
      const r = anyUnpack(
        success(await run({ taskType: { case: "listEvents", value: { eventFeedId: CHANGES_FEED, startAt, cursor, pageSize: 2 } } }))!,
        ListEventsResponseSchema,
      )!;
      for (const e of r.events) if (e.event.case === "createGrantEvent") granted.push(e.event.value.principal!.id!.resource);
      cursor = r.cursor;
      if (!r.hasMore) break;
    }
    expect(granted).toEqual(members.map((u) => u.id));
    expect(pages).toBeGreaterThanOrEqual(2);
  });
});

describe("issue_credential task", () => {
  it("issues a scoped application key for a service account, encrypted for the platform; the simulator accepts it", async () => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const config = create(EncryptionConfigSchema, {
      provider: "baton/jwk/v1",
      config: { case: "jwkPublicKeyConfig", value: { pubKey: new TextEncoder().encode(JSON.stringify(publicKey.export({ format: "jwk" }))) } },
    });
    const account = h.sim.org.users.values().find((u) => u.serviceAccount && !u.disabled)!;
    const id = platform.enqueue({
      taskType: {
        case: "issueCredential",
        value: {
          identityId: { resourceType: "user", resource: account.id },
          credentialOptions: { options: { case: "apiKey", value: { scopes: ["user_access_read"] } } },
          encryptionConfigs: [config],
        },
      },
    });
    const r = anyUnpack(success(await platform.waitForFinished(id))!, IssueCredentialResponseSchema)!;
    expect(r.requestId).toBe(id);
    const key = new TextDecoder().decode((await compactDecrypt(new TextDecoder().decode(r.encryptedData[0]!.encryptedBytes), privateKey)).plaintext);
    const res = await fetch(`${h.sim.baseUrl}/api/v2/users?page[size]=1`, { headers: { "DD-API-KEY": h.sim.apiKey, "DD-APPLICATION-KEY": key } });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(h.sim.org.appKey(r.secret!.id!.resource).owner.id).toBe(account.id);
    expect(service.logs.text()).not.toContain(key);
  });
});
