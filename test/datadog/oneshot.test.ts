/**
 * The CLI's one-shot operations (runOneShot) on the Datadog connector: entitlements, principals and grants are
 * read from a c1z written by a real sync of the simulator, then the connector changes Datadog.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Code } from "../../src/connector/errors.ts";
import { runOneShot } from "../../src/provision/oneshot.ts";
import { holders, readSync, startHarness, type Harness } from "./harness.ts";

let h: Harness;
let file: string;

beforeAll(async () => {
  h = await startHarness({ provisioning: true });
  file = (await h.sync("sync.c1z")).file;
});
afterAll(() => h.close());

const oneShot = (op: Parameters<typeof runOneShot>[0], c1z = file) => runOneShot(op, { rpc: h.rpc, file: c1z, logger: h.logs.logger });

describe("one-shot operations against a synced c1z", () => {
  it("grant, then revoke the grant found in a fresh sync; both repeated say there is nothing to do", async () => {
    const role = h.sim.org.roles.values()[3];
    const target = h.sim.org.users.values().find((u) => !u.serviceAccount && u.status === "Active" && !role.users.has(u.id))!;
    const entitlementId = `role:${role.id}:member`;
    const grant = { kind: "grant" as const, entitlementId, principalId: target.id, principalType: "user" };

    expect((await oneShot(grant)).summary).toBe(`granted ${entitlementId} to user:${target.id}`);
    expect((await oneShot(grant)).summary).toBe(`user:${target.id} already has ${entitlementId}; nothing to do`);

    const { file: fresh } = await h.sync("after-grant.c1z");
    expect(await holders(fresh, entitlementId)).toContain(target.id);
    const grantId = `${entitlementId}:user:${target.id}`;
    expect((await oneShot({ kind: "revoke", grantId }, fresh)).summary).toBe(`revoked grant ${grantId}`);
    expect((await oneShot({ kind: "revoke", grantId }, fresh)).summary).toBe(`grant ${grantId} was already revoked; nothing to do`);
    expect(role.users.has(target.id)).toBe(false);
  });

  it("a principal missing from the c1z is NOT_FOUND before Datadog is called", async () => {
    const role = h.sim.org.roles.values()[3];
    await expect(oneShot({ kind: "grant", entitlementId: `role:${role.id}:member`, principalId: "nobody", principalType: "user" })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: expect.stringContaining('principal user "nobody"'),
    });
  });

  it("create-account, then again (already exists)", async () => {
    const op = { kind: "create-account" as const, email: "oneshot.user@example.com", profile: { name: "One Shot", roles: ["Datadog Read Only Role"] } };
    const first = await oneShot(op);
    expect(first.summary).toMatch(/^created account user:[0-9a-f-]+ for oneshot\.user@example\.com; invitation expires \d{4}-/);
    const created = h.sim.org.userByEmail(op.email)!;
    expect(created.roles.map((r) => r.name)).toEqual(["Datadog Read Only Role"]);
    expect((await oneShot(op)).summary).toBe(`an account for ${op.email} already exists: user:${created.id}`);
  });

  it("delete-resource disables a user and revokes an API key", async () => {
    const target = h.sim.org.users.values().find((u) => !u.serviceAccount && u.status === "Active" && u.id !== h.sim.org.users.values()[0].id)!;
    expect((await oneShot({ kind: "delete-resource", resourceId: target.id, resourceType: "user" })).summary).toBe(`deleted user:${target.id}`);
    expect(target.disabled).toBe(true);
    const key = h.sim.org.apiKeys.values()[1];
    await oneShot({ kind: "delete-resource", resourceId: key.id, resourceType: "api-key" });
    expect(h.sim.org.apiKeys.get(key.id)).toBeUndefined();
    const { file: fresh } = await h.sync("after-delete.c1z");
    await readSync(fresh, (s, id) => {
      expect(s.getResource(id, "user", target.id)!.profile?.status).toBe("Disabled");
      expect(s.getResource(id, "api-key", key.id)).toBeUndefined();
    });
  });

  it("rotate-credentials with an ephemeral key pair prints the new key, which Datadog accepts", async () => {
    const owner = h.sim.org.users.values().find((u) => u.serviceAccount)!;
    const old = h.sim.createApplicationKey({ ownerId: owner.id, scopes: null });
    const res = await oneShot({ kind: "rotate-credentials", resourceId: old.id, resourceType: "application-key", printPlaintext: true });
    expect(res.summary).toContain("the new secret is shown below");
    const key = res.plaintext!;
    const call = (appKey: string) =>
      fetch(`${h.sim.baseUrl}/api/v2/roles?page[size]=1`, { headers: { "DD-API-KEY": h.sim.apiKey, "DD-APPLICATION-KEY": appKey } }).then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      });
    expect(await call(key)).toBe(200);
    expect(await call(old.key)).toBe(403);
    expect(JSON.stringify(res.result)).not.toContain(key);
    expect(h.logs.text()).not.toContain(key);
  });

  it("grant without a finished sync in the file is a clear error", async () => {
    await expect(oneShot({ kind: "revoke", grantId: "x" }, join(h.dir, "missing.c1z"))).rejects.toMatchObject({
      code: Code.FAILED_PRECONDITION,
      message: expect.stringContaining("run a sync first"),
    });
  });
});
