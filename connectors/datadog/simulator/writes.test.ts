import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedCounts, INVITATION_TTL_MS, startSimulator, type Simulator } from "./index.ts";
import { allPages, call } from "./test-support.ts";

const userRel = (id: string) => ({ data: { id, type: "users" } });
const membershipBody = (userId: string, role: "admin" | null = null) => ({
  data: { type: "team_memberships", attributes: { role }, relationships: { user: userRel(userId) } },
});

describe("simulator write endpoints", () => {
  let sim: Simulator;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 9, counts: { users: 60, teams: 5, roles: 6, apiKeys: 6, appKeys: 8, serviceAccounts: 3 } });
  });
  afterAll(async () => {
    await sim.close();
  });

  it("adds and removes role members; unknown role or user is 404; bad body is 400", async () => {
    const role = sim.org.roles.values()[4];
    const user = sim.org.users.values().find((u) => !role.users.has(u.id))!;
    const before = expectedCounts(sim.org).roleMemberships;
    const added = await call(sim, `/api/v2/roles/${role.id}/users`, { method: "POST", body: userRel(user.id) });
    expect(added.status).toBe(200);
    expect(added.body.meta.page.total_count).toBe(role.users.size);
    const members = await allPages(sim, `/api/v2/roles/${role.id}/users`);
    expect(members.data.map((u) => u.id)).toContain(user.id);
    const fetched = await call(sim, `/api/v2/users/${user.id}`);
    expect(fetched.body.data.relationships.roles.data.map((r: any) => r.id)).toContain(role.id);
    // Adding again is accepted and changes nothing, as with Datadog.
    expect((await call(sim, `/api/v2/roles/${role.id}/users`, { method: "POST", body: userRel(user.id) })).status).toBe(200);
    expect(expectedCounts(sim.org).roleMemberships).toBe(before + 1);

    expect((await call(sim, `/api/v2/roles/${role.id}/users`, { method: "DELETE", body: userRel(user.id) })).status).toBe(200);
    expect(role.users.has(user.id)).toBe(false);
    expect(expectedCounts(sim.org).roleMemberships).toBe(before);

    expect((await call(sim, "/api/v2/roles/nope/users", { method: "POST", body: userRel(user.id) })).status).toBe(404);
    expect((await call(sim, `/api/v2/roles/${role.id}/users`, { method: "POST", body: userRel("nope") })).status).toBe(404);
    const bad = await call(sim, `/api/v2/roles/${role.id}/users`, { method: "POST", body: { data: { id: user.id, type: "roles" } } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]).toMatch(/data\.type/);
    expect((await call(sim, `/api/v2/roles/${role.id}/users`, { method: "POST", body: "{not json" })).body.errors[0]).toMatch(/not valid JSON/);
    expect((await call(sim, `/api/v2/roles/${role.id}/users`, { method: "POST" })).status).toBe(400);
  });

  it("creates, promotes, demotes and removes team memberships with 409 and 404 where Datadog gives them", async () => {
    const team = sim.org.teams.values()[2];
    const user = sim.org.users.values().find((u) => !team.members.has(u.id))!;
    const path = `/api/v2/team/${team.id}/memberships`;
    const created = await call(sim, path, { method: "POST", body: membershipBody(user.id) });
    expect(created.status).toBe(200);
    expect(created.body.data).toMatchObject({ type: "team_memberships", attributes: { role: null } });
    expect(created.body.included[0]).toMatchObject({ type: "users", id: user.id });

    const duplicate = await call(sim, path, { method: "POST", body: membershipBody(user.id, "admin") });
    expect(duplicate.status).toBe(409);
    // Team endpoints answer JSON:API error objects, as real Datadog does.
    expect(duplicate.body.errors[0]).toMatchObject({ status: "409", title: "Conflict", detail: expect.stringMatching(/already a member/) });

    const promoted = await call(sim, `${path}/${user.id}`, { method: "PATCH", body: { data: { type: "team_memberships", attributes: { role: "admin" } } } });
    expect(promoted.body.data.attributes.role).toBe("admin");
    const listed = await allPages(sim, path);
    expect(listed.data.find((m) => m.relationships.user.data.id === user.id).attributes.role).toBe("admin");
    // A PATCH without a role leaves it alone; an explicit null demotes.
    await call(sim, `${path}/${user.id}`, { method: "PATCH", body: { data: { type: "team_memberships" } } });
    expect(team.members.get(user.id)!.role).toBe("admin");
    await call(sim, `${path}/${user.id}`, { method: "PATCH", body: { data: { type: "team_memberships", attributes: { role: null } } } });
    expect(team.members.get(user.id)!.role).toBeNull();

    const badRole = await call(sim, `${path}/${user.id}`, { method: "PATCH", body: { data: { type: "team_memberships", attributes: { role: "owner" } } } });
    expect(badRole.status).toBe(400);
    expect(badRole.body.errors[0].detail).toMatch(/data\.attributes\.role/);

    expect((await call(sim, `${path}/${user.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await call(sim, `${path}/${user.id}`, { method: "DELETE" })).status).toBe(404);
    expect((await call(sim, `${path}/${user.id}`, { method: "PATCH", body: { data: { type: "team_memberships" } } })).status).toBe(404);
    expect((await call(sim, "/api/v2/team/nope/memberships", { method: "POST", body: membershipBody(user.id) })).status).toBe(404);
    expect((await call(sim, path, { method: "POST", body: membershipBody("nope") })).status).toBe(404);
    const noUser = await call(sim, path, { method: "POST", body: { data: { type: "team_memberships" } } });
    expect(noUser.status).toBe(400);
  });

  it("creates a pending user with roles, refuses a duplicate email, invites and disables", async () => {
    const role = sim.org.roles.values()[1];
    const created = await call(sim, "/api/v2/users", {
      method: "POST",
      body: {
        data: {
          type: "users",
          attributes: { email: "Grace.New@example.com", name: "Grace New", title: "SRE" },
          relationships: { roles: { data: [{ id: role.id, type: "roles" }] } },
        },
      },
    });
    expect(created.status).toBe(201);
    const user = created.body.data;
    expect(user.attributes).toMatchObject({ status: "Pending", verified: false, disabled: false, email: "Grace.New@example.com" });
    expect(user.relationships.roles.data).toEqual([{ id: role.id, type: "roles" }]);
    expect(role.users.has(user.id)).toBe(true);

    const again = await call(sim, "/api/v2/users", { method: "POST", body: { data: { type: "users", attributes: { email: "grace.new@example.com" } } } });
    expect(again.status).toBe(409);
    const unknownRole = await call(sim, "/api/v2/users", {
      method: "POST",
      body: { data: { type: "users", attributes: { email: "x@example.com" }, relationships: { roles: { data: [{ id: "nope" }] } } } },
    });
    expect(unknownRole.status).toBe(400);
    expect(sim.org.userByEmail("x@example.com")).toBeUndefined();
    const noEmail = await call(sim, "/api/v2/users", { method: "POST", body: { data: { type: "users", attributes: { name: "No Email" } } } });
    expect(noEmail.status).toBe(400);
    expect(noEmail.body.errors[0]).toMatch(/data\.attributes\.email/);

    const before = Date.now();
    const invited = await call(sim, "/api/v2/user_invitations", {
      method: "POST",
      body: { data: [{ type: "user_invitations", relationships: { user: userRel(user.id) } }] },
    });
    expect(invited.status).toBe(201);
    const invitation = invited.body.data[0];
    expect(invitation.type).toBe("user_invitations");
    expect(invitation.relationships.user.data.id).toBe(user.id);
    expect(Date.parse(invitation.attributes.expires_at)).toBeGreaterThanOrEqual(before + INVITATION_TTL_MS);
    const badInvite = await call(sim, "/api/v2/user_invitations", {
      method: "POST",
      body: { data: [{ type: "user_invitations", relationships: { user: userRel("nope") } }] },
    });
    expect(badInvite.status).toBe(404);

    expect((await call(sim, `/api/v2/users/${user.id}`, { method: "DELETE" })).status).toBe(204);
    // Disabling a disabled user answers 404 with the id, as real Datadog does.
    const twice = await call(sim, `/api/v2/users/${user.id}`, { method: "DELETE" });
    expect({ status: twice.status, body: twice.body }).toEqual({ status: 404, body: { errors: [`${user.id} not found`] } });
    const disabled = await call(sim, `/api/v2/users/${user.id}`);
    expect(disabled.body.data.attributes).toMatchObject({ disabled: true, status: "Disabled" });
    expect((await call(sim, "/api/v2/users/nope", { method: "DELETE" })).status).toBe(404);
  });

  it("deletes API and application keys, and a deleted application key stops authenticating", async () => {
    const apiKey = sim.org.apiKeys.values()[0];
    expect((await call(sim, `/api/v2/api_keys/${apiKey.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await call(sim, `/api/v2/api_keys/${apiKey.id}`)).status).toBe(404);
    expect((await call(sim, `/api/v2/api_keys/${apiKey.id}`, { method: "DELETE" })).status).toBe(404);

    const extra = sim.createApplicationKey({ scopes: null });
    const withExtra = { "DD-APPLICATION-KEY": extra.key };
    expect((await call(sim, "/api/v2/users", { headers: withExtra })).status).toBe(200);
    expect((await call(sim, `/api/v2/application_keys/${extra.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await call(sim, "/api/v2/users", { headers: withExtra })).status).toBe(403);
    expect((await call(sim, `/api/v2/application_keys/${extra.id}`, { method: "DELETE" })).status).toBe(404);
  });

  it("creates a service account key (value shown once, usable at once, same scopes) and deletes it", async () => {
    const account = sim.org.users.values().find((u) => u.serviceAccount)!;
    const path = `/api/v2/service_accounts/${account.id}/application_keys`;
    const created = await call(sim, path, {
      method: "POST",
      body: { data: { type: "application_keys", attributes: { name: "rotation-1", scopes: ["user_access_read", "teams_read"] } } },
    });
    expect(created.status).toBe(201);
    const key = created.body.data;
    expect(key.attributes.key).toMatch(/^[0-9a-f]{40}$/);
    expect(key.attributes.last4).toBe(key.attributes.key.slice(-4));
    expect(key.attributes.scopes).toEqual(["user_access_read", "teams_read"]);
    expect(key.relationships.owned_by.data).toEqual({ id: account.id, type: "users" });

    const fetched = await call(sim, `/api/v2/application_keys/${key.id}`);
    expect(fetched.body.data.attributes.key).toBeUndefined();
    const listed = await allPages(sim, path);
    expect(listed.data.map((k) => k.id)).toContain(key.id);

    // The new key works, within its scopes.
    const asNewKey = { "DD-APPLICATION-KEY": key.attributes.key };
    expect((await call(sim, "/api/v2/team", { headers: asNewKey })).status).toBe(200);
    const outside = await call(sim, "/api/v2/api_keys", { headers: asNewKey });
    expect(outside.status).toBe(403);
    expect(outside.body.errors[1]).toMatch(/api_keys_read/);

    const human = sim.org.users.values().find((u) => !u.serviceAccount)!;
    expect((await call(sim, `/api/v2/service_accounts/${human.id}/application_keys/${key.id}`, { method: "DELETE" })).status).toBe(404);
    expect((await call(sim, `${path}/${key.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await call(sim, "/api/v2/team", { headers: asNewKey })).status).toBe(403);
    expect((await call(sim, `${path}/${key.id}`, { method: "DELETE" })).status).toBe(404);

    const noName = await call(sim, path, { method: "POST", body: { data: { type: "application_keys", attributes: {} } } });
    expect(noName.status).toBe(400);
    expect(noName.body.errors[0]).toMatch(/data\.attributes\.name/);
    expect((await call(sim, `/api/v2/service_accounts/${human.id}/application_keys`, {
      method: "POST",
      body: { data: { type: "application_keys", attributes: { name: "x" } } },
    })).status).toBe(404);
  });

  it("refuses writes the key has no permission for, and changes nothing", async () => {
    const role = sim.org.roles.values()[3];
    const user = sim.org.users.values().find((u) => !role.users.has(u.id))!;
    sim.setAppKeyScopes(["user_access_read", "teams_read"]);
    try {
      const refused = await call(sim, `/api/v2/roles/${role.id}/users`, { method: "POST", body: userRel(user.id) });
      expect(refused.status).toBe(403);
      expect(refused.body.errors).toEqual(["Forbidden", "Failed permission authorization checks: missing permission user_access_manage"]);
      expect(role.users.has(user.id)).toBe(false);
      const disable = await call(sim, `/api/v2/users/${user.id}`, { method: "DELETE" });
      expect(disable.body.errors[1]).toMatch(/user_access_manage or service_account_write/);
      expect(user.disabled).toBe(false);
    } finally {
      sim.setAppKeyScopes(null);
    }
  });
});
