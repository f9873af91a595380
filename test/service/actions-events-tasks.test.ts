/**
 * Service mode runs the action, event-feed and issue-credential tasks (PROTOCOL-2 §3.4, §4.3, §5.1, §7) against
 * the test platform: the answers arrive packed in FinishTask; an invoked action that FAILED finishes as an error
 * with its message and no response; a slow action answers RUNNING and its status task later COMPLETE; events
 * are paged by list_events tasks with the feed's cursor from a start_at; an issued credential decrypts to the
 * issued key; an invalid issuance is refused, final, with the contract's code.
 */
import { generateKeyPairSync } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { anyUnpack, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { compactDecrypt } from "jose";
import { Code } from "../../src/connector/errors.ts";
import {
  BatonActionStatus,
  GetActionSchemaResponseSchema,
  GetActionStatusResponseSchema,
  InvokeActionResponseSchema,
  ListActionSchemasResponseSchema,
} from "../../src/gen/c1/connector/v2/action_pb.js";
import { ListEventFeedsResponseSchema, ListEventsResponseSchema } from "../../src/gen/c1/connector/v2/event_feed_pb.js";
import { EncryptionConfigSchema, IssueCredentialResponseSchema, ResourceIdSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import type { BatonServiceFinishTaskRequest } from "../../src/gen/c1/connectorapi/baton/v1/baton_pb.js";
import { tempDirs } from "../helpers/temp-dir.ts";
import { makeTestPki, startTestPlatform, type TestPki, type TestPlatform, type TaskInit } from "../platform/index.ts";
import { EVENT_COUNT, FEED_ID, FIRST_EVENT_AT, testConnector, testState, type TestState } from "../actions/test-connector.ts";
import { inProcess, startService, type RunningService } from "./helpers.ts";

const tempDir = tempDirs("all");
let pki: TestPki;
let pkiDir: string;
let platform: TestPlatform;
let service: RunningService;
let state: TestState;

beforeAll(async () => {
  pkiDir = tempDir("actions-tasks-pki-");
  pki = makeTestPki(pkiDir);
  platform = await startTestPlatform({ pki });
  state = testState();
  service = startService(platform, inProcess(testConnector(state), true));
});
afterEach(() => {
  expect(platform.duplicateFinishes).toEqual([]);
});
afterAll(async () => {
  state?.slowGate.resolve();
  await service?.stop();
  await platform?.close();
});

function success(finish: BatonServiceFinishTaskRequest) {
  expect(finish.finalState.case, JSON.stringify(finish.status)).toBe("success");
  return finish.finalState.case === "success" ? finish.finalState.value.response : undefined;
}

function failure(finish: BatonServiceFinishTaskRequest) {
  expect(finish.finalState.case).toBe("error");
  return {
    code: finish.status?.code,
    message: finish.status?.message,
    nonRetryable: finish.finalState.case === "error" && finish.finalState.value.nonRetryable,
    hasResponse: finish.finalState.case === "success",
  };
}

const run = async (task: TaskInit) => platform.waitForFinished(platform.enqueue(task));

describe("action tasks", () => {
  it("action_list_schemas and action_get_schema answer with the connector's schemas", async () => {
    const all = anyUnpack(success(await run({ taskType: { case: "actionListSchemas", value: {} } }))!, ListActionSchemasResponseSchema)!;
    expect(all.schemas).toHaveLength(7);
    const users = anyUnpack(success(await run({ taskType: { case: "actionListSchemas", value: { resourceTypeId: "user" } } }))!, ListActionSchemasResponseSchema)!;
    expect(users.schemas.map((s) => s.name).sort()).toEqual(["disable_user", "enable_user"]);
    const echo = anyUnpack(success(await run({ taskType: { case: "actionGetSchema", value: { name: "echo" } } }))!, GetActionSchemaResponseSchema)!;
    expect(echo.schema?.displayName).toBe("Echo");
    expect(failure(await run({ taskType: { case: "actionGetSchema", value: { name: "" } } }))).toEqual({ code: Code.UNKNOWN, message: "action name required", nonRetryable: false, hasResponse: false });
    expect(failure(await run({ taskType: { case: "actionGetSchema", value: { name: "disable_user" } } }))).toMatchObject({ code: Code.NOT_FOUND, nonRetryable: false });
  });

  it("action_invoke runs a resource-scoped action and answers COMPLETE", async () => {
    const r = anyUnpack(
      success(await run({ taskType: { case: "actionInvoke", value: { name: "disable_user", resourceTypeId: "user", args: { user: { resource_type_id: "user", resource_id: "u3" } } } } }))!,
      InvokeActionResponseSchema,
    )!;
    expect(r).toMatchObject({ status: BatonActionStatus.COMPLETE, name: "disable_user", response: { success: true, changed: true } });
    expect(state.users.get("u3")!.status).toBe("disabled");
  });

  it("an action that FAILED finishes the task as an error with its message and no response, retryable", async () => {
    expect(failure(await run({ taskType: { case: "actionInvoke", value: { name: "explode" } } }))).toEqual({
      code: Code.UNKNOWN,
      message: "the target system is down",
      nonRetryable: false,
      hasResponse: false,
    });
  });

  it("a slow action answers RUNNING after the default 1 s; action_status reports it, then COMPLETE", async () => {
    state.slowGate = Promise.withResolvers<void>();
    const invoked = anyUnpack(success(await run({ taskType: { case: "actionInvoke", value: { name: "slow_report" } } }))!, InvokeActionResponseSchema)!;
    expect(invoked.status).toBe(BatonActionStatus.RUNNING);
    const status = async () => anyUnpack(success(await run({ taskType: { case: "actionStatus", value: { id: invoked.id } } }))!, GetActionStatusResponseSchema)!;
    expect((await status()).status).toBe(BatonActionStatus.RUNNING);
    state.slowGate.resolve();
    await new Promise((r) => setTimeout(r, 20));
    expect(await status()).toMatchObject({ id: invoked.id, status: BatonActionStatus.COMPLETE, response: { rows: 42 } });
    expect(failure(await run({ taskType: { case: "actionStatus", value: { id: "" } } }))).toMatchObject({ code: Code.UNKNOWN, message: "action id required", nonRetryable: false });
    expect(failure(await run({ taskType: { case: "actionStatus", value: { id: "no-such-id" } } }))).toMatchObject({ code: Code.NOT_FOUND, nonRetryable: false });
  });

  it("a FAILED status is still a successful action_status task", async () => {
    const invoked = anyUnpack(success(await run({ taskType: { case: "actionInvoke", value: { name: "remote_job" } } }))!, InvokeActionResponseSchema)!;
    state.jobs.set([...state.jobs.keys()].at(-1)!, "broken");
    const s = anyUnpack(success(await run({ taskType: { case: "actionStatus", value: { id: invoked.id } } }))!, GetActionStatusResponseSchema)!;
    expect(s.status).toBe(BatonActionStatus.FAILED);
  });
});

describe("event feed tasks", () => {
  it("list_event_feeds answers with the feeds", async () => {
    const r = anyUnpack(success(await run({ taskType: { case: "listEventFeeds", value: {} } }))!, ListEventFeedsResponseSchema)!;
    expect(r.list.map((f) => f.id)).toEqual([FEED_ID]);
  });

  it("list_events tasks page with the feed's cursor from start_at until has_more is false", async () => {
    const startAt = timestampFromDate(new Date(FIRST_EVENT_AT.getTime() + 200 * 60_000));
    const ids: string[] = [];
    let cursor = "";
    for (let page = 0; page < 10; page++) {
      const r = anyUnpack(success(await run({ taskType: { case: "listEvents", value: { eventFeedId: FEED_ID, startAt, cursor, pageSize: 20 } } }))!, ListEventsResponseSchema)!;
      ids.push(...r.events.map((e) => e.id));
      cursor = r.cursor;
      if (!r.hasMore) break;
    }
    expect(ids).toEqual(Array.from({ length: EVENT_COUNT - 200 }, (_, i) => `ev-${200 + i}`));
  });

  it("a failing list_events call is finished with its error (Go leaves it unfinished; we do not)", async () => {
    expect(failure(await run({ taskType: { case: "listEvents", value: { eventFeedId: "nope" } } }))).toMatchObject({ code: Code.NOT_FOUND, nonRetryable: false });
  });
});

describe("issue_credential task", () => {
  const recipient = () => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const config = create(EncryptionConfigSchema, {
      provider: "baton/jwk/v1",
      config: { case: "jwkPublicKeyConfig", value: { pubKey: new TextEncoder().encode(JSON.stringify(publicKey.export({ format: "jwk" }))) } },
    });
    return { config, decrypt: async (b: Uint8Array) => new TextDecoder().decode((await compactDecrypt(new TextDecoder().decode(b), privateKey)).plaintext) };
  };

  it("issues a credential with the task id as request id, encrypted for the platform", async () => {
    const enc = recipient();
    const id = platform.enqueue({
      taskType: { case: "issueCredential", value: { identityId: { resourceType: "service_account", resource: "sa1" }, credentialOptions: { options: { case: "apiKey", value: { scopes: ["write"] } } }, encryptionConfigs: [enc.config] } },
    });
    const finish = await platform.waitForFinished(id);
    const r = anyUnpack(success(finish)!, IssueCredentialResponseSchema)!;
    expect(r.requestId).toBe(id);
    // The response's annotations are also FinishTask's, as Go sends them.
    const annotations = finish.finalState.case === "success" ? finish.finalState.value.annotations : [];
    expect(annotations.map((a) => anyUnpack(a, ResourceIdSchema)?.resourceType)).toEqual(["issued-by"]);
    const held = state.keys.get(`key-${id}`)!;
    expect(held.scopes).toEqual(["write"]);
    expect(await enc.decrypt(r.encryptedData[0]!.encryptedBytes)).toBe(held.secret);
    expect(service.logs.text()).not.toContain(held.secret);
  });

  it("an invalid request is refused with the contract's code, final, and nothing is issued", async () => {
    const before = state.keys.size;
    const finish = await run({
      taskType: { case: "issueCredential", value: { identityId: { resourceType: "service_account", resource: "sa1" }, credentialOptions: { options: { case: "apiKey", value: { scopes: ["root"] } } }, encryptionConfigs: [recipient().config] } },
    });
    expect(failure(finish)).toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('scope "root" is not offered'), nonRetryable: true });
    const noIssuer = await run({
      taskType: { case: "issueCredential", value: { identityId: { resourceType: "user", resource: "u1" }, credentialOptions: { options: { case: "apiKey", value: {} } }, encryptionConfigs: [recipient().config] } },
    });
    expect(failure(noIssuer)).toMatchObject({ code: Code.UNIMPLEMENTED, nonRetryable: true });
    expect(state.keys.size).toBe(before);
  });
});
