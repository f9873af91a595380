/**
 * The Datadog connector's user actions (disable_user, enable_user, resend_invitation) over real gRPC against the
 * simulator, called through the generated-proto client: the schemas listed, each action invoked and its effect
 * read back from the simulated org, idempotence (the state a user already has is COMPLETE with changed=false and
 * no write), refusals with the reason in the FAILED response, the provisioning switch, and a slow invocation
 * answered RUNNING then COMPLETE through GetActionStatus.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "../../src/connector/errors.ts";
import type { ConnectorRpc } from "../../src/connector/rpc.ts";
import { ActionType, BatonActionStatus } from "../../src/gen/c1/connector/v2/action_pb.js";
import type { SimUser } from "../../connectors/datadog/simulator/index.ts";
import { servedOverGrpc } from "./served-connector.ts";
import { startHarness, type Harness } from "./harness.ts";

let h: Harness;
let on: ConnectorRpc;
let off: ConnectorRpc;
const servers: { close(): Promise<void> }[] = [];

async function served(provisioning: boolean): Promise<ConnectorRpc> {
  const server = await servedOverGrpc(h.connector, h.logs.logger, provisioning);
  servers.push(server);
  return server.rpc;
}

const userArg = (id: string, type = "user") => ({ user: { resource_type_id: type, resource_id: id } });
const invoke = (rpc: ConnectorRpc, name: string, userId: string, type?: string) =>
  rpc.invokeAction({ name, resourceTypeId: "user", args: userArg(userId, type), inlineWait: { seconds: 10n, nanos: 0 } });

function person(pick: (u: SimUser) => boolean): SimUser {
  const user = h.sim.org.users.values().find((u) => !u.serviceAccount && pick(u));
  if (!user) throw new Error("the seeded org has no such user");
  return user;
}

beforeAll(async () => {
  h = await startHarness({ provisioning: true });
  on = await served(true);
  off = await served(false);
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await h?.close();
});

describe("schemas", () => {
  it("lists the three user actions, resource-scoped on user, with their action types and a user argument", async () => {
    const { schemas } = await off.listActionSchemas({ resourceTypeId: "user" });
    const byName = new Map(schemas.map((s) => [s.name, s]));
    expect([...byName.keys()].sort()).toEqual(["disable_user", "enable_user", "resend_invitation"]);
    expect(byName.get("disable_user")!.actionType).toEqual([ActionType.ACCOUNT_DISABLE]);
    expect(byName.get("enable_user")!.actionType).toEqual([ActionType.ACCOUNT_ENABLE]);
    expect(byName.get("resend_invitation")!.actionType).toEqual([ActionType.ACCOUNT]);
    for (const schema of schemas) {
      expect(schema.resourceTypeId).toBe("user");
      expect(schema.arguments[0]).toMatchObject({ name: "user", isRequired: true, field: { case: "resourceIdField" } });
      expect(schema.returnTypes.map((f) => f.name)).toContain("success");
    }
    // Every schema, listed without a type, includes them; other types have none.
    expect((await off.listActionSchemas({})).schemas.filter((s) => s.resourceTypeId === "user")).toHaveLength(3);
    expect((await off.listActionSchemas({ resourceTypeId: "team" })).schemas).toEqual([]);
    // Resource-scoped actions are not global: GetActionSchema does not find them.
    await expect(off.getActionSchema({ name: "disable_user" })).rejects.toMatchObject({ code: Code.NOT_FOUND });
  });
});

describe("disable and enable", () => {
  it("disables an active user, then says changed=false when asked again, without a second write", async () => {
    const user = person((u) => u.status === "Active");
    const first = await invoke(on, "disable_user", user.id);
    expect(first.status).toBe(BatonActionStatus.COMPLETE);
    expect(first.response).toEqual({ success: true, changed: true, status: "Disabled" });
    expect(h.sim.org.user(user.id)).toMatchObject({ disabled: true, status: "Disabled" });

    h.sim.resetStats();
    const again = await invoke(on, "disable_user", user.id);
    expect(again.status).toBe(BatonActionStatus.COMPLETE);
    expect(again.response).toEqual({ success: true, changed: false, status: "Disabled" });
    expect(h.sim.stats.byOperation["DELETE /api/v2/users/{user_id}"]).toBeUndefined();

    const enabled = await invoke(on, "enable_user", user.id);
    expect(enabled.status).toBe(BatonActionStatus.COMPLETE);
    expect(enabled.response).toEqual({ success: true, changed: true, status: "Active" });
    expect(h.sim.org.user(user.id)).toMatchObject({ disabled: false, status: "Active" });
    expect(h.sim.stats.byOperation["PATCH /api/v2/users/{user_id}"]).toBe(1);

    const enabledAgain = await invoke(on, "enable_user", user.id);
    expect(enabledAgain.response).toEqual({ success: true, changed: false, status: "Active" });
    expect(h.sim.stats.byOperation["PATCH /api/v2/users/{user_id}"]).toBe(1);
    // The status table still has the first invocation.
    expect(await on.getActionStatus({ id: first.id })).toMatchObject({ id: first.id, name: "disable_user", status: BatonActionStatus.COMPLETE });
  });

  it("re-enabling a user who never accepted the invitation leaves them Pending", async () => {
    const user = person((u) => u.status === "Pending");
    expect((await invoke(on, "disable_user", user.id)).response).toMatchObject({ changed: true, status: "Disabled" });
    expect((await invoke(on, "enable_user", user.id)).response).toEqual({ success: true, changed: true, status: "Pending" });
  });

  it("an unknown user, a malformed id and a resource of another type fail with the reason, and nothing is written", async () => {
    h.sim.resetStats();
    const unknown = await invoke(on, "disable_user", "00000000-0000-4000-8000-000000000000");
    expect(unknown.status).toBe(BatonActionStatus.FAILED);
    expect(unknown.response?.error).toMatch(/Datadog user "00000000-0000-4000-8000-000000000000" does not exist/);
    const malformed = await invoke(on, "enable_user", "../admin");
    expect(malformed.status).toBe(BatonActionStatus.FAILED);
    expect(malformed.response?.error).toMatch(/is not a Datadog user id \(a UUID\)/);
    const team = h.sim.org.teams.values()[0];
    // A resource of another type is refused by the SDK before the action runs (the argument's allowed type).
    await expect(invoke(on, "disable_user", team.id, "team")).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('"team"') });
    expect(Object.keys(h.sim.stats.byOperation).filter((op) => !op.startsWith("GET "))).toEqual([]);
  });
});

describe("resend invitation", () => {
  it("sends a pending user a new invitation", async () => {
    const user = person((u) => u.status === "Pending" && !u.disabled);
    const before = h.sim.org.invitations.length;
    const r = await invoke(on, "resend_invitation", user.id);
    expect(r.status).toBe(BatonActionStatus.COMPLETE);
    expect(h.sim.org.invitations).toHaveLength(before + 1);
    const invitation = h.sim.org.invitations.at(-1)!;
    expect(invitation.user.id).toBe(user.id);
    expect(r.response).toEqual({ success: true, invitation_id: invitation.id, expires_at: new Date(invitation.expiresAt).toISOString() });
  });

  it("refuses an active user, a disabled one and a service account, saying why; no invitation is sent", async () => {
    const before = h.sim.org.invitations.length;
    const active = await invoke(on, "resend_invitation", person((u) => u.status === "Active").id);
    expect(active.status).toBe(BatonActionStatus.FAILED);
    expect(active.response?.error).toMatch(/is Active, not Pending; only a user who has not accepted an invitation yet/);
    const disabled = await invoke(on, "resend_invitation", person((u) => u.disabled).id);
    expect(disabled.response?.error).toMatch(/is Disabled, not Pending.*enable the user first with enable_user/);
    const account = h.sim.org.users.values().find((u) => u.serviceAccount)!;
    expect((await invoke(on, "resend_invitation", account.id)).response?.error).toMatch(/is a service account; service accounts are never invited/);
    expect(h.sim.org.invitations).toHaveLength(before);
  });
});

describe("the provisioning switch and slow invocations", () => {
  it("without --provisioning every user action is refused with FAILED_PRECONDITION and Datadog is untouched", async () => {
    const user = person((u) => u.status === "Active" && !u.disabled);
    for (const name of ["disable_user", "enable_user", "resend_invitation"]) {
      await expect(invoke(off, name, user.id)).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION, message: expect.stringContaining("provisioning") });
    }
    expect(h.sim.org.user(user.id).disabled).toBe(false);
  });

  it("a slow Datadog answers RUNNING inline, then GetActionStatus reports COMPLETE", async () => {
    const user = person((u) => u.status === "Active" && !u.disabled);
    h.sim.setLatency(400);
    try {
      const started = await on.invokeAction({ name: "disable_user", resourceTypeId: "user", args: userArg(user.id), inlineWait: { seconds: 0n, nanos: 50_000_000 } });
      expect([BatonActionStatus.RUNNING, BatonActionStatus.PENDING]).toContain(started.status);
      let status = started.status;
      const deadline = Date.now() + 10_000;
      while (status !== BatonActionStatus.COMPLETE && status !== BatonActionStatus.FAILED && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await on.getActionStatus({ id: started.id })).status;
      }
      const settled = await on.getActionStatus({ id: started.id });
      expect(settled).toMatchObject({ status: BatonActionStatus.COMPLETE, response: { success: true, changed: true, status: "Disabled" } });
      expect(h.sim.org.user(user.id).disabled).toBe(true);
    } finally {
      h.sim.setLatency(0);
    }
  });
});
