/**
 * The action manager's rules that need many invocations or odd connectors, in-process: the bounded status table
 * (oldest settled evicted past 1000; refused when all are still running), registration errors, the remaining
 * constraint kinds, and a caller that cancels while waiting.
 */
import { describe, expect, it } from "vitest";
import { createConnectorService } from "../../src/connector/service.ts";
import { Code } from "../../src/connector/errors.ts";
import { MAX_TRACKED_ACTIONS } from "../../src/connector/action-manager.ts";
import type { ActionDefinition, Connector } from "../../src/index.ts";
import { ActionType, BatonActionStatus, ConstraintKind } from "../../src/messages.ts";
import { silentLogger } from "../helpers/logger.ts";
import { testConnector, testState } from "./test-connector.ts";

const base = () => testConnector(testState());
const service = (connector: Connector) => createConnectorService(connector, { logger: silentLogger(), provisioning: true });
const action = (over: Partial<ActionDefinition>): ActionDefinition => ({
  name: "a",
  displayName: "a",
  actionTypes: [ActionType.DYNAMIC],
  arguments: [],
  invoke: async () => ({ status: "complete" }),
  ...over,
});
const quick = { nanos: 1_000_000 };

describe("the status table is bounded", () => {
  it(`keeps ${MAX_TRACKED_ACTIONS}: the oldest settled one is evicted first`, async () => {
    const rpc = service(base());
    const first = await rpc.invokeAction({ name: "echo", args: { n: 0 } });
    const ids = [first.id];
    for (let i = 1; i < MAX_TRACKED_ACTIONS; i++) ids.push((await rpc.invokeAction({ name: "echo", args: { n: i }, inlineWait: quick })).id);
    expect((await rpc.getActionStatus({ id: first.id })).status).toBe(BatonActionStatus.COMPLETE);
    await rpc.invokeAction({ name: "echo", inlineWait: quick });
    await expect(rpc.getActionStatus({ id: first.id })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    expect((await rpc.getActionStatus({ id: ids[1]! })).status).toBe(BatonActionStatus.COMPLETE);
  });

  it("refuses a new invocation with RESOURCE_EXHAUSTED while every tracked one is still running", async () => {
    const gate = Promise.withResolvers<void>();
    const rpc = service({ ...base(), actions: [action({ name: "hang", invoke: async () => (await gate.promise, { status: "complete" }) })] });
    await Promise.all(Array.from({ length: MAX_TRACKED_ACTIONS }, () => rpc.invokeAction({ name: "hang", inlineWait: quick })));
    await expect(rpc.invokeAction({ name: "hang", inlineWait: quick })).rejects.toMatchObject({ code: Code.RESOURCE_EXHAUSTED });
    gate.resolve();
    await new Promise((r) => setTimeout(r, 10));
    expect((await rpc.invokeAction({ name: "hang" })).status).toBe(BatonActionStatus.COMPLETE);
  });
});

describe("registration", () => {
  it("refuses duplicate names, two actions of one kind on a type, and nameless actions, naming them", () => {
    const c = base();
    expect(() => service({ ...c, actions: [action({}), action({})] })).toThrow(/duplicate action name "a"/);
    expect(() => service({ ...c, actions: [action({ name: "" })] })).toThrow(/1–1024 bytes/);
    const users = c.syncers[0]!;
    const twoDisables = [action({ name: "x", actionTypes: [ActionType.ACCOUNT_DISABLE] }), action({ name: "y", actionTypes: [ActionType.ACCOUNT_DISABLE] })];
    expect(() => service({ ...c, syncers: [{ ...users, actions: twoDisables }, ...c.syncers.slice(1)] })).toThrow(/"x" and "y" both declare action type ACCOUNT_DISABLE/);
    // DYNAMIC may repeat, and a global action may share a resource action's name.
    const dynamic = [action({ name: "x" }), action({ name: "y" })];
    expect(() => service({ ...c, actions: [action({ name: "disable_user" })], syncers: [{ ...users, actions: dynamic }, ...c.syncers.slice(1)] })).not.toThrow();
  });
});

describe("constraints", () => {
  it("AT_LEAST_ONE and DEPENDENT_ON", async () => {
    const rpc = service({
      ...base(),
      actions: [
        action({
          name: "c",
          constraints: [
            { kind: ConstraintKind.AT_LEAST_ONE, fieldNames: ["x", "y"] },
            { kind: ConstraintKind.DEPENDENT_ON, fieldNames: ["y"], secondaryFieldNames: ["z"] },
          ],
        }),
      ],
    });
    await expect(rpc.invokeAction({ name: "c", args: {} })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining("at least one of") });
    await expect(rpc.invokeAction({ name: "c", args: { y: 1 } })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining("needs z") });
    expect((await rpc.invokeAction({ name: "c", args: { y: 1, z: 2 } })).status).toBe(BatonActionStatus.COMPLETE);
    expect((await rpc.invokeAction({ name: "c", args: { x: "only" } })).status).toBe(BatonActionStatus.COMPLETE);
  });
});

describe("cancellation while waiting", () => {
  it("the call fails with the caller's reason; the handler still runs to its end", async () => {
    const gate = Promise.withResolvers<void>();
    const seen: string[] = [];
    const rpc = service({
      ...base(),
      actions: [action({ name: "slow", invoke: async () => (await gate.promise, seen.push("done"), { status: "complete", response: { ok: true } }) })],
    });
    const controller = new AbortController();
    const call = rpc.invokeAction({ name: "slow", inlineWait: { seconds: 60n } }, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("caller went away")), 20);
    await expect(call).rejects.toThrow("caller went away");
    gate.resolve();
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual(["done"]);
  });
});
