/**
 * Provisioning against the simulator: every operation, then a fresh sync shows the change; every operation
 * twice ends in the same state with the right annotation; unknown principals and entitlements are NOT_FOUND
 * naming them; read-only schedules refuse grants.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { exportJWK, generateKeyPair } from "jose";
import { hasAnnotation } from "../../src/connector/annotations.ts";
import { entitlementId as entId, resourceId } from "../../src/connector/builders.ts";
import { Code } from "../../src/connector/errors.ts";
import { GrantAlreadyExistsSchema, GrantAlreadyRevokedSchema } from "../../src/gen/c1/connector/v2/annotation_grant_pb.js";
import { EntitlementSchema, type Entitlement } from "../../src/gen/c1/connector/v2/entitlement_pb.js";
import { GrantSchema } from "../../src/gen/c1/connector/v2/grant_pb.js";
import { ResourceSchema, Status_ResourceStatus, type Resource } from "../../src/gen/c1/connector/v2/resource_pb.js";
import type { SimUser } from "../../connectors/datadog/simulator/index.ts";
import { holders, jwkEncryptionConfig, readSync, startHarness, type Harness } from "./harness.ts";

let h: Harness;
let baseline: string;

beforeAll(async () => {
  h = await startHarness({ provisioning: true });
  baseline = (await h.sync("baseline.c1z")).file;
});
afterAll(() => h.close());

const already = {
  exists: (r: { annotations: Parameters<typeof hasAnnotation>[0] }) => hasAnnotation(r.annotations, GrantAlreadyExistsSchema),
  revoked: (r: { annotations: Parameters<typeof hasAnnotation>[0] }) => hasAnnotation(r.annotations, GrantAlreadyRevokedSchema),
};

async function entitlement(id: string): Promise<Entitlement> {
  const e = await readSync(baseline, (store, syncId) => store.getEntitlement(syncId, id));
  if (!e) throw new Error(`no entitlement ${id} in the baseline sync`);
  return e;
}

async function user(id: string): Promise<Resource> {
  const r = await readSync(baseline, (store, syncId) => store.getResource(syncId, "user", id));
  if (!r) throw new Error(`no user ${id} in the baseline sync`);
  return r;
}

/** An entitlement the way a caller could send it for a resource that may not exist. */
function syntheticEntitlement(type: string, id: string, slug: string): Entitlement {
  const resource = create(ResourceSchema, { id: resourceId(type, id), displayName: id });
  return create(EntitlementSchema, { id: entId(resource, slug), slug, resource });
}

const ghost = create(ResourceSchema, { id: resourceId("user", "00000000-0000-4000-8000-000000004711"), displayName: "ghost" });

function grantMessage(ent: Entitlement, principal: Resource) {
  return create(GrantSchema, { id: `${ent.id}:user:${principal.id!.resource}`, entitlement: ent, principal });
}

function activeHumans(): SimUser[] {
  return h.sim.org.users.values().filter((u) => !u.serviceAccount && u.status === "Active");
}

describe("role membership", () => {
  it("grant adds the user (twice: GrantAlreadyExists), revoke removes (twice: GrantAlreadyRevoked)", async () => {
    const role = h.sim.org.roles.values()[4];
    const target = activeHumans().find((u) => !role.users.has(u.id))!;
    const ent = await entitlement(`role:${role.id}:member`);
    const principal = await user(target.id);

    const first = await h.rpc.grant({ entitlement: ent, principal });
    expect(already.exists(first)).toBe(false);
    expect(first.grants.map((g) => g.id)).toEqual([`role:${role.id}:member:user:${target.id}`]);
    const second = await h.rpc.grant({ entitlement: ent, principal });
    expect(already.exists(second)).toBe(true);
    const afterGrant = await h.sync();
    expect(await holders(afterGrant.file, ent.id)).toContain(target.id);

    const stored = await readSync(afterGrant.file, (s, id) => s.getGrant(id, `role:${role.id}:member:user:${target.id}`)!.grant);
    expect(already.revoked(await h.rpc.revoke({ grant: stored }))).toBe(false);
    expect(already.revoked(await h.rpc.revoke({ grant: stored }))).toBe(true);
    const afterRevoke = await h.sync();
    expect(await holders(afterRevoke.file, ent.id)).not.toContain(target.id);
    expect(await holders(afterRevoke.file, ent.id)).toEqual(role.users.values().map((u) => u.id).sort());
  });

  it("names a principal or role that does not exist (NOT_FOUND)", async () => {
    const role = h.sim.org.roles.values()[4];
    const ent = await entitlement(`role:${role.id}:member`);
    await expect(h.rpc.grant({ entitlement: ent, principal: ghost })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: expect.stringContaining('user "00000000-0000-4000-8000-000000004711" does not exist'),
    });
    const principal = await user(activeHumans()[0].id);
    const missingRole = syntheticEntitlement("role", "00000000-0000-4000-8000-00000000b01e", "member");
    await expect(h.rpc.grant({ entitlement: missingRole, principal })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: expect.stringContaining('role "00000000-0000-4000-8000-00000000b01e" does not exist'),
    });
    await expect(h.rpc.revoke({ grant: grantMessage(missingRole, principal) })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: expect.stringContaining("entitlement role:00000000-0000-4000-8000-00000000b01e:member"),
    });
    await expect(h.rpc.grant({ entitlement: syntheticEntitlement("role", role.id, "owner"), principal })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: expect.stringContaining(`"role:${role.id}:owner" does not exist`),
    });
    await expect(h.rpc.grant({ entitlement: ent, principal: create(ResourceSchema, { id: resourceId("team", "x") }) })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringContaining("is not a user"),
    });
  });
});

describe("team membership", () => {
  it("member → promote to admin → demote → remove, each twice, visible in fresh syncs", async () => {
    const team = h.sim.org.teams.values()[1];
    const target = activeHumans().find((u) => !team.members.has(u.id))!;
    const member = await entitlement(`team:${team.id}:member`);
    const admin = await entitlement(`team:${team.id}:admin`);
    const principal = await user(target.id);

    expect(already.exists(await h.rpc.grant({ entitlement: member, principal }))).toBe(false);
    expect(already.exists(await h.rpc.grant({ entitlement: member, principal }))).toBe(true);
    let synced = await h.sync();
    expect(await holders(synced.file, member.id)).toContain(target.id);
    expect(await holders(synced.file, admin.id)).not.toContain(target.id);

    expect(already.exists(await h.rpc.grant({ entitlement: admin, principal }))).toBe(false);
    expect(already.exists(await h.rpc.grant({ entitlement: admin, principal }))).toBe(true);
    synced = await h.sync();
    expect(await holders(synced.file, admin.id)).toContain(target.id);
    expect(await holders(synced.file, member.id)).toContain(target.id);

    const adminGrant = await readSync(synced.file, (s, id) => s.getGrant(id, `${admin.id}:user:${target.id}`)!.grant);
    expect(already.revoked(await h.rpc.revoke({ grant: adminGrant }))).toBe(false);
    expect(already.revoked(await h.rpc.revoke({ grant: adminGrant }))).toBe(true);
    synced = await h.sync();
    expect(await holders(synced.file, admin.id)).not.toContain(target.id);
    expect(await holders(synced.file, member.id)).toContain(target.id);

    const memberGrant = await readSync(synced.file, (s, id) => s.getGrant(id, `${member.id}:user:${target.id}`)!.grant);
    expect(already.revoked(await h.rpc.revoke({ grant: memberGrant }))).toBe(false);
    expect(already.revoked(await h.rpc.revoke({ grant: memberGrant }))).toBe(true);
    synced = await h.sync();
    expect(await holders(synced.file, member.id)).not.toContain(target.id);
  });

  it("granting admin to a non-member creates an admin membership; revoking member removes both", async () => {
    const team = h.sim.org.teams.values()[2];
    const target = activeHumans().find((u) => !team.members.has(u.id))!;
    const member = await entitlement(`team:${team.id}:member`);
    const admin = await entitlement(`team:${team.id}:admin`);
    const principal = await user(target.id);

    const res = await h.rpc.grant({ entitlement: admin, principal });
    expect(res.grants.map((g) => g.id).sort()).toEqual([`${admin.id}:user:${target.id}`, `${member.id}:user:${target.id}`].sort());
    let synced = await h.sync();
    expect(await holders(synced.file, member.id)).toContain(target.id);
    expect(await holders(synced.file, admin.id)).toContain(target.id);

    const memberGrant = await readSync(synced.file, (s, id) => s.getGrant(id, `${member.id}:user:${target.id}`)!.grant);
    const adminGrant = await readSync(synced.file, (s, id) => s.getGrant(id, `${admin.id}:user:${target.id}`)!.grant);
    expect(already.revoked(await h.rpc.revoke({ grant: memberGrant }))).toBe(false);
    synced = await h.sync();
    expect(await holders(synced.file, member.id)).not.toContain(target.id);
    expect(await holders(synced.file, admin.id)).not.toContain(target.id);
    // The admin grant went with the membership.
    expect(already.revoked(await h.rpc.revoke({ grant: adminGrant }))).toBe(true);
    expect(already.revoked(await h.rpc.revoke({ grant: memberGrant }))).toBe(true);
  });

  it("names a team or user that does not exist (NOT_FOUND)", async () => {
    const team = h.sim.org.teams.values()[0];
    const member = await entitlement(`team:${team.id}:member`);
    const principal = await user(activeHumans()[0].id);
    await expect(h.rpc.grant({ entitlement: member, principal: ghost })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: expect.stringContaining("00000000-0000-4000-8000-000000004711"),
    });
    const missingTeam = syntheticEntitlement("team", "00000000-0000-4000-8000-0000000074a3", "member");
    await expect(h.rpc.grant({ entitlement: missingTeam, principal })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: expect.stringContaining('team "00000000-0000-4000-8000-0000000074a3" does not exist'),
    });
    await expect(h.rpc.revoke({ grant: grantMessage(missingTeam, principal) })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    await expect(h.rpc.revoke({ grant: grantMessage(syntheticEntitlement("team", "00000000-0000-4000-8000-0000000074a3", "admin"), principal) })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: expect.stringContaining("00000000-0000-4000-8000-0000000074a3"),
    });
    await expect(h.rpc.revoke({ grant: grantMessage(member, ghost) })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: expect.stringContaining("00000000-0000-4000-8000-000000004711"),
    });
  });
});

describe("schedules are read-only", () => {
  it("a grant on a schedule is FAILED_PRECONDITION saying the type is read-only", async () => {
    const scheduleEnt = await readSync(baseline, (s, id) => [...s.iterateEntitlements(id, { resourceTypeId: "schedule" })][0]!.entitlement);
    const principal = await user(activeHumans()[0].id);
    await expect(h.rpc.grant({ entitlement: scheduleEnt, principal })).rejects.toMatchObject({
      code: Code.FAILED_PRECONDITION,
      message: 'resource type "schedule" is read-only: it does not support grants',
    });
    await expect(h.rpc.revoke({ grant: grantMessage(scheduleEnt, principal) })).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
  });
});

describe("accounts", () => {
  it("creates and invites a user with initial roles; a second create answers already_exists", async () => {
    const standard = h.sim.org.roles.values()[1];
    const custom = h.sim.org.roles.values()[3];
    const email = "new.hire@example.com";
    const request = {
      accountInfo: {
        emails: [{ address: email, isPrimary: true }],
        login: email,
        profile: { name: "New Hire", title: "SRE", roles: [standard.name, custom.id] },
      },
    };
    const before = Date.now();
    const first = await h.rpc.createAccount(request);
    expect(first.result.case).toBe("success");
    const created = first.result.value!.resource!;
    expect(created.id!.resourceType).toBe("user");
    const expires = first.result.case === "success" ? first.result.value.invitationExpiresAt : undefined;
    expect(Number(expires!.seconds) * 1000).toBeGreaterThanOrEqual(before + 47 * 3600_000);
    expect(h.sim.org.invitations.filter((i) => i.user.id === created.id!.resource)).toHaveLength(1);

    const second = await h.rpc.createAccount(request);
    expect(second.result.case).toBe("alreadyExists");
    expect(second.result.value!.resource!.id!.resource).toBe(created.id!.resource);
    // Only one invitation: the repeat changed nothing.
    expect(h.sim.org.invitations.filter((i) => i.user.id === created.id!.resource)).toHaveLength(1);

    const synced = await h.sync();
    const stored = await readSync(synced.file, (s, id) => s.getResource(id, "user", created.id!.resource)!);
    expect(stored.profile).toMatchObject({ email, name: "New Hire", title: "SRE", status: "Pending", pending_invitation: true });
    expect(await holders(synced.file, `role:${standard.id}:member`)).toContain(created.id!.resource);
    expect(await holders(synced.file, `role:${custom.id}:member`)).toContain(created.id!.resource);
  });

  it("refuses an unknown role by name before creating anything, and a missing email", async () => {
    const email = "nobody.yet@example.com";
    await expect(
      h.rpc.createAccount({ accountInfo: { emails: [{ address: email, isPrimary: true }], profile: { roles: ["Chief Wizard"] } } }),
    ).rejects.toMatchObject({ code: Code.NOT_FOUND, message: expect.stringContaining('role "Chief Wizard" does not exist') });
    expect(h.sim.org.userByEmail(email)).toBeUndefined();
    await expect(h.rpc.createAccount({ accountInfo: { login: "no-email", profile: { name: "X" } } })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringContaining("an email is required"),
    });
  });

  it("deleting a user disables it, idempotently; an unknown user is NOT_FOUND", async () => {
    const target = activeHumans()[5];
    const id = resourceId("user", target.id);
    await h.rpc.deleteResourceV2({ resourceId: id });
    await h.rpc.deleteResourceV2({ resourceId: id });
    const synced = await h.sync();
    const stored = await readSync(synced.file, (s, sid) => s.getResource(sid, "user", target.id)!);
    expect(stored.status?.status).toBe(Status_ResourceStatus.DISABLED);
    expect(stored.profile?.status).toBe("Disabled");
    await expect(h.rpc.deleteResourceV2({ resourceId: resourceId("user", "00000000-0000-4000-8000-000000004711") })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: expect.stringContaining("00000000-0000-4000-8000-000000004711"),
    });
  });
});

describe("keys", () => {
  it("deleting an API key or an application key revokes it, idempotently", async () => {
    const apiKey = h.sim.org.apiKeys.values()[0];
    const appKey = h.sim.org.appKeys.values().find((k) => !k.owner.serviceAccount)!;
    for (let i = 0; i < 2; i++) {
      await h.rpc.deleteResourceV2({ resourceId: resourceId("api-key", apiKey.id) });
      await h.rpc.deleteResourceV2({ resourceId: resourceId("application-key", appKey.id) });
    }
    const synced = await h.sync();
    await readSync(synced.file, (s, id) => {
      expect(s.getResource(id, "api-key", apiKey.id)).toBeUndefined();
      expect(s.getResource(id, "application-key", appKey.id)).toBeUndefined();
      expect(s.counts(id).resourcesByType["api-key"]).toBe(h.sim.org.apiKeys.size);
    });
  });

  it("rotation replaces a service account's key with one of the same owner and scopes, then revokes the old one", async () => {
    const old = h.sim.org.appKeys.values().find((k) => k.owner.serviceAccount)!;
    const owner = old.owner;
    const scopes = old.scopes === null ? null : [...old.scopes];
    const keysBefore = h.sim.org.appKeysOwnedBy(owner.id).length;
    const pair = await generateKeyPair("ECDH-ES+A256KW", { crv: "P-256", extractable: true });
    const config = jwkEncryptionConfig(await exportJWK(pair.publicKey));

    const res = await h.rpc.rotateCredential({ resourceId: resourceId("application-key", old.id), encryptionConfigs: [config] });
    expect(res.encryptedData).toHaveLength(1);
    expect(res.encryptedData[0].name).toBe("application_key");

    const synced = await h.sync();
    await readSync(synced.file, (s, id) => {
      expect(s.getResource(id, "application-key", old.id)).toBeUndefined();
      const mine = [...s.iterateResources(id, { resourceTypeId: "application-key" })]
        .map((r) => r.resource)
        .filter((r) => r.profile?.owner_id === owner.id);
      expect(mine).toHaveLength(keysBefore);
      const replacement = mine.find((r) => String(r.displayName).startsWith(`${old.name} (rotated `))!;
      expect(replacement).toBeDefined();
      expect(replacement.profile?.scopes ?? null).toEqual(scopes);
    });

    // The old id is gone: rotating it again is NOT_FOUND naming it.
    await expect(h.rpc.rotateCredential({ resourceId: resourceId("application-key", old.id), encryptionConfigs: [config] })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: expect.stringContaining(old.id),
    });
  });

  it("refuses to rotate a person's key (FAILED_PRECONDITION) and leaves it alone", async () => {
    const personal = h.sim.org.appKeys.values().find((k) => !k.owner.serviceAccount)!;
    const pair = await generateKeyPair("ECDH-ES+A256KW", { crv: "P-256", extractable: true });
    await expect(
      h.rpc.rotateCredential({ resourceId: resourceId("application-key", personal.id), encryptionConfigs: [jwkEncryptionConfig(await exportJWK(pair.publicKey))] }),
    ).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION, message: expect.stringContaining("not a service account") });
    expect(h.sim.org.appKeys.get(personal.id)).toBeDefined();
  });
});
