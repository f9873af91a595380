/**
 * The ActionService (PROTOCOL-2 §3) of a connector built on the public API, served over real gRPC on loopback
 * and called through the generated-proto client: schemas listed and fetched, global and resource-scoped
 * invocations, the provisioning switch, constraints, a slow action answered RUNNING then COMPLETE through
 * GetActionStatus, a remote job polled through the connector's `status`, a failing handler, and the bounds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { createConnectorService } from "../../src/connector/service.ts";
import { Code } from "../../src/connector/errors.ts";
import type { ConnectorRpc } from "../../src/connector/rpc.ts";
import { serveConnector, type ServedConnector } from "../../src/grpc/connector-server.ts";
import { connectorClient } from "../../src/grpc/connector-client.ts";
import { ActionType, BatonActionStatus } from "../../src/gen/c1/connector/v2/action_pb.js";
import { KSUID_LENGTH } from "../../src/store/ksuid.ts";
import { silentLogger } from "../helpers/logger.ts";
import { testConnector, testState, type TestState } from "./test-connector.ts";

let state: TestState;
const servers: ServedConnector[] = [];
const clients: (ConnectorRpc & { close(): void })[] = [];
let off: ConnectorRpc;
let on: ConnectorRpc;

async function served(provisioning: boolean): Promise<ConnectorRpc> {
  const rpc = createConnectorService(testConnector(state), { logger: silentLogger(), provisioning });
  const s = await serveConnector(rpc, { address: "127.0.0.1:0", credentials: grpc.ServerCredentials.createInsecure(), logger: silentLogger() });
  servers.push(s);
  const client = connectorClient(`127.0.0.1:${s.port}`, grpc.credentials.createInsecure());
  clients.push(client);
  return client;
}

const quick = { seconds: 0n, nanos: 50_000_000 };
const userArg = (id: string) => ({ user: { resource_type_id: "user", resource_id: id } });

beforeAll(async () => {
  state = testState();
  off = await served(false);
  on = await served(true);
});
afterAll(async () => {
  state.slowGate.resolve();
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
});

describe("schemas", () => {
  it("lists global and resource-scoped schemas, or one type's only", async () => {
    const all = await off.listActionSchemas({});
    const names = all.schemas.map((s) => `${s.resourceTypeId}/${s.name}`).sort();
    expect(names).toEqual(["/echo", "/explode", "/remote_job", "/slow_report", "/strict", "user/disable_user", "user/enable_user"]);
    const users = await off.listActionSchemas({ resourceTypeId: "user" });
    expect(users.schemas.map((s) => s.name).sort()).toEqual(["disable_user", "enable_user"]);
    const disable = users.schemas.find((s) => s.name === "disable_user")!;
    expect(disable.actionType).toEqual([ActionType.ACCOUNT_DISABLE]);
    expect(disable.arguments[0]!.field.case).toBe("resourceIdField");
    expect((await off.listActionSchemas({ resourceTypeId: "api_key" })).schemas).toEqual([]);
  });

  it("GetActionSchema finds global actions only", async () => {
    const echo = await off.getActionSchema({ name: "echo" });
    expect(echo.schema).toMatchObject({ name: "echo", displayName: "Echo", description: "Answers with its arguments", resourceTypeId: "" });
    expect(echo.schema!.returnTypes.map((f) => f.name)).toEqual(["message"]);
    await expect(off.getActionSchema({ name: "disable_user" })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    await expect(off.getActionSchema({ name: "" })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
  });
});

describe("invoking", () => {
  it("a global action completes inline with its response and a KSUID id", async () => {
    const r = await off.invokeAction({ name: "echo", args: { message: "hi" } });
    expect(r.status).toBe(BatonActionStatus.COMPLETE);
    expect(r.name).toBe("echo");
    expect(r.id).toHaveLength(KSUID_LENGTH);
    expect(r.response).toEqual({ success: true, message: "hi" });
    const again = await off.getActionStatus({ id: r.id });
    expect(again).toMatchObject({ id: r.id, name: "echo", status: BatonActionStatus.COMPLETE, response: { success: true, message: "hi" } });
  });

  it("a resource-scoped action that changes the system is refused without provisioning, and nothing changes", async () => {
    await expect(off.invokeAction({ name: "disable_user", resourceTypeId: "user", args: userArg("u1") })).rejects.toMatchObject({
      code: Code.FAILED_PRECONDITION,
      message: expect.stringContaining("provisioning is not enabled"),
    });
    expect(state.users.get("u1")!.status).toBe("enabled");
  });

  it("with provisioning it runs on the resource named by its resource id argument, idempotently", async () => {
    const first = await on.invokeAction({ name: "disable_user", resourceTypeId: "user", args: userArg("u1") });
    expect(first).toMatchObject({ status: BatonActionStatus.COMPLETE, response: { success: true, changed: true } });
    expect(state.users.get("u1")!.status).toBe("disabled");
    const second = await on.invokeAction({ name: "disable_user", resourceTypeId: "user", args: { user: { resourceTypeId: "user", resourceId: "u1" } } });
    expect(second).toMatchObject({ status: BatonActionStatus.COMPLETE, response: { success: true, changed: false } });
    const enabled = await on.invokeAction({ name: "enable_user", resourceTypeId: "user", args: userArg("u1") });
    expect(enabled.response).toMatchObject({ changed: true });
    expect(state.users.get("u1")!.status).toBe("enabled");
  });

  it("routing: a scoped action without its type, an unknown type, an unknown name, a resource of another type", async () => {
    await expect(on.invokeAction({ name: "disable_user", args: userArg("u1") })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: expect.stringContaining("give resource_type_id"),
    });
    await expect(on.invokeAction({ name: "disable_user", resourceTypeId: "group", args: userArg("u1") })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: "no actions found for resource type group",
    });
    await expect(on.invokeAction({ name: "nope", resourceTypeId: "user" })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    await expect(on.invokeAction({ name: "nope" })).rejects.toMatchObject({ code: Code.NOT_FOUND, message: "handler for action nope not found" });
    await expect(
      on.invokeAction({ name: "disable_user", resourceTypeId: "user", args: { user: { resource_type_id: "api_key", resource_id: "u1" } } }),
    ).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(on.invokeAction({ name: "disable_user", resourceTypeId: "user", args: { user: "u1" } })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
  });

  it("schema constraints are checked before the handler runs; null counts as absent", async () => {
    const before = state.seen.length;
    await expect(off.invokeAction({ name: "strict", args: { a: "1" } })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining("missing: b") });
    await expect(off.invokeAction({ name: "strict", args: { a: "1", b: null } })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(off.invokeAction({ name: "strict", args: { c: "1", d: "2" } })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining("mutually exclusive") });
    const ok = await off.invokeAction({ name: "strict", args: { a: "1", b: "2", c: "3", d: null } });
    expect(ok.status).toBe(BatonActionStatus.COMPLETE);
    expect(state.seen.length).toBe(before);
  });

  it("a failing handler settles FAILED with the error in the response; the RPC itself succeeds", async () => {
    const r = await off.invokeAction({ name: "explode" });
    expect(r.status).toBe(BatonActionStatus.FAILED);
    expect(r.response).toEqual({ error: "the target system is down" });
  });

  it("inline_wait is bounded (0 … 86400 s)", async () => {
    await expect(off.invokeAction({ name: "echo", inlineWait: { seconds: 86_401n } })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(off.getActionStatus({ id: "0000000000000000000000000000" })).rejects.toMatchObject({ code: Code.NOT_FOUND });
  });
});

describe("slow actions", () => {
  it("a handler slower than inline_wait answers RUNNING; GetActionStatus reports COMPLETE once it finishes", async () => {
    const started = Date.now();
    const r = await off.invokeAction({ name: "slow_report", inlineWait: quick });
    expect(Date.now() - started).toBeLessThan(900);
    expect(r.status).toBe(BatonActionStatus.RUNNING);
    expect((await off.getActionStatus({ id: r.id })).status).toBe(BatonActionStatus.RUNNING);
    state.slowGate.resolve();
    let status = BatonActionStatus.RUNNING;
    let response: unknown;
    for (let i = 0; i < 50 && status === BatonActionStatus.RUNNING; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      ({ status, response } = await off.getActionStatus({ id: r.id }));
    }
    expect(status).toBe(BatonActionStatus.COMPLETE);
    expect(response).toEqual({ rows: 42 });
  });

  it("without inline_wait the call waits 1 s, then answers RUNNING", async () => {
    state.slowGate = Promise.withResolvers<void>();
    const started = Date.now();
    const r = await off.invokeAction({ name: "slow_report" });
    const waited = Date.now() - started;
    expect(r.status).toBe(BatonActionStatus.RUNNING);
    expect(waited).toBeGreaterThanOrEqual(950);
    expect(waited).toBeLessThan(3000);
    state.slowGate.resolve();
  });

  it("pending remote work is polled through the action's status until it settles", async () => {
    const r = await off.invokeAction({ name: "remote_job" });
    expect(r).toMatchObject({ status: BatonActionStatus.RUNNING, response: { queued: true } });
    const handle = [...state.jobs.keys()].at(-1)!;
    expect((await off.getActionStatus({ id: r.id })).status).toBe(BatonActionStatus.RUNNING);
    state.jobs.set(handle, "done");
    expect(await off.getActionStatus({ id: r.id })).toMatchObject({ status: BatonActionStatus.COMPLETE, response: { job: handle } });
    // Settled stays settled: the connector is not asked again.
    state.jobs.set(handle, "broken");
    expect((await off.getActionStatus({ id: r.id })).status).toBe(BatonActionStatus.COMPLETE);

    const broken = await off.invokeAction({ name: "remote_job" });
    state.jobs.set([...state.jobs.keys()].at(-1)!, "broken");
    const failed = await off.getActionStatus({ id: broken.id });
    expect(failed.status).toBe(BatonActionStatus.FAILED);
    expect(failed.response).toMatchObject({ error: expect.stringContaining("broke") });
  });
});
