import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedCounts, startSimulator, type Simulator } from "./index.ts";
import { allPages, call } from "./test-support.ts";

describe("simulator read API", () => {
  let sim: Simulator;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 21, counts: { users: 437, teams: 23, roles: 12, schedules: 9, apiKeys: 130, appKeys: 17, serviceAccounts: 9 } });
  });
  afterAll(async () => {
    await sim.close();
  });

  it("pages through every user, service accounts, pending and disabled included, with Datadog's totals", async () => {
    const counts = expectedCounts(sim.org);
    const first = await call(sim, "/api/v2/users?page[size]=100");
    expect(first.body.meta.page).toEqual({ total_count: 437, total_filtered_count: 437 });
    const { data, pages } = await allPages(sim, "/api/v2/users");
    expect(pages).toBe(5);
    expect(new Set(data.map((u) => u.id)).size).toBe(437);
    expect(data.filter((u) => u.attributes.service_account)).toHaveLength(counts.serviceAccounts);
    expect(data.filter((u) => u.attributes.status === "Pending")).toHaveLength(counts.pendingUsers);
    expect(data.filter((u) => u.attributes.disabled && u.attributes.status === "Disabled")).toHaveLength(counts.disabledUsers);
    // An odd page size gives the same users in the same order.
    const small = await allPages(sim, "/api/v2/users", 7);
    expect(small.data.map((u) => u.id)).toEqual(data.map((u) => u.id));
    // Role relationships on users add up to the role memberships.
    expect(data.reduce((n, u) => n + u.relationships.roles.data.length, 0)).toBe(counts.roleMemberships);
  });

  it("defaults to 10 per page and refuses page sizes above 100 or malformed numbers", async () => {
    expect((await call(sim, "/api/v2/users")).body.data).toHaveLength(10);
    const tooBig = await call(sim, "/api/v2/users?page[size]=101");
    expect(tooBig.status).toBe(400);
    expect(tooBig.body.errors[0]).toMatch(/page\[size\].*100/);
    expect((await call(sim, "/api/v2/team?page[number]=x")).status).toBe(400);
    // Encoded brackets are the same parameter.
    expect((await call(sim, "/api/v2/users?page%5Bsize%5D=3")).body.data).toHaveLength(3);
  });

  it("filters users by status and text", async () => {
    const pending = await call(sim, "/api/v2/users?page[size]=100&filter[status]=Pending");
    expect(pending.body.data.every((u: any) => u.attributes.status === "Pending")).toBe(true);
    expect(pending.body.meta.page.total_filtered_count).toBe(expectedCounts(sim.org).pendingUsers);
    const someone = sim.org.users.values()[5];
    const found = await call(sim, `/api/v2/users?filter=${encodeURIComponent(someone.email)}`);
    expect(found.body.data.map((u: any) => u.id)).toContain(someone.id);
  });

  it("lists roles with user counts and pages each role's users", async () => {
    const roles = await allPages(sim, "/api/v2/roles");
    expect(roles.data).toHaveLength(12);
    let total = 0;
    for (const role of roles.data) {
      const users = await allPages(sim, `/api/v2/roles/${role.id}/users`);
      expect(users.data).toHaveLength(role.attributes.user_count);
      expect(role.relationships.permissions.data.length).toBeGreaterThan(0);
      total += users.data.length;
    }
    expect(total).toBe(expectedCounts(sim.org).roleMemberships);
    const perms = await call(sim, "/api/v2/permissions");
    expect(perms.body.data.map((p: any) => p.attributes.name)).toContain("user_access_read");
  });

  it("lists teams with links and pages memberships with their users included", async () => {
    const first = await call(sim, "/api/v2/team?page[size]=10");
    // Real Datadog pages teams by number, and keeps links.next on the last page.
    expect(first.body.meta.pagination).toEqual({ number: 0, next_number: 1, last_number: 2, prev_number: 0, size: 10, type: "number_size", total: 23, offset: 0 });
    expect(first.body.links.next).toContain("page%5Bnumber%5D=1");
    const last = await call(sim, "/api/v2/team?page[size]=10&page[number]=2");
    expect(last.body.data).toHaveLength(3);
    expect(last.body.meta.pagination).toMatchObject({ number: 2, next_number: 2, last_number: 2, prev_number: 1, total: 23 });
    expect(last.body.links.next).toContain("page%5Bnumber%5D=3");

    const teams = await allPages(sim, "/api/v2/team");
    let members = 0;
    let admins = 0;
    for (const team of teams.data) {
      const page = await allPages(sim, `/api/v2/team/${team.id}/memberships`, 100);
      expect(page.data).toHaveLength(team.attributes.user_count);
      const includedIds = new Set(page.included.filter((i) => i.type === "users").map((i) => i.id));
      for (const m of page.data) {
        expect(m.type).toBe("team_memberships");
        expect(includedIds.has(m.relationships.user.data.id)).toBe(true);
        expect([null, "admin"]).toContain(m.attributes.role);
      }
      members += page.data.length;
      admins += page.data.filter((m) => m.attributes.role === "admin").length;
    }
    const counts = expectedCounts(sim.org);
    expect(members).toBe(counts.teamMembers);
    expect(admins).toBe(counts.teamAdmins);
  });

  it("finds every schedule through teams → routing rules → escalation policies", async () => {
    const teams = await allPages(sim, "/api/v2/team");
    const policyIds = new Set<string>();
    for (const team of teams.data) {
      const rules = await call(sim, `/api/v2/on-call/teams/${team.id}/routing-rules?include=rules`);
      expect(rules.status).toBe(200);
      for (const rule of rules.body.included ?? []) {
        const policy = rule.relationships?.policy?.data;
        if (policy) policyIds.add(policy.id);
      }
    }
    const scheduleIds = new Set<string>();
    for (const id of policyIds) {
      const policy = await call(sim, `/api/v2/on-call/escalation-policies/${id}?include=steps.targets`);
      for (const item of policy.body.included ?? []) {
        if (item.type === "schedules") scheduleIds.add(item.id);
        if (item.type === "schedule_target") scheduleIds.add(item.relationships.schedule.data.id);
      }
    }
    const counts = expectedCounts(sim.org);
    expect(scheduleIds.size).toBe(counts.schedules);
    let members = 0;
    for (const id of scheduleIds) {
      const schedule = await call(sim, `/api/v2/on-call/schedules/${id}?include=layers,layers.members,layers.members.user,teams`);
      const included = schedule.body.included as any[];
      const users = new Set(included.filter((i) => i.type === "members").map((m) => m.relationships.user.data.id));
      expect(included.filter((i) => i.type === "users").map((u) => u.id).sort()).toEqual([...users].sort());
      expect(included.filter((i) => i.type === "teams").length).toBe(schedule.body.data.relationships.teams.data.length);
      members += users.size;
    }
    expect(members).toBe(counts.scheduleMembers);
  });

  it("lists API and application keys without their values; GET of one API key shows it", async () => {
    const apiKeys = await allPages(sim, "/api/v2/api_keys");
    expect(apiKeys.data).toHaveLength(130);
    expect(apiKeys.data.every((k) => k.attributes.key === undefined && k.attributes.last4.length === 4)).toBe(true);
    expect(apiKeys.data[0].relationships.created_by.data.type).toBe("users");
    const one = await call(sim, `/api/v2/api_keys/${apiKeys.data[0].id}`);
    expect(one.body.data.attributes.key).toHaveLength(32);
    const appKeys = await allPages(sim, "/api/v2/application_keys?include=owned_by");
    expect(appKeys.data).toHaveLength(17);
    expect(appKeys.included.every((u) => u.type === "users")).toBe(true);
    expect(appKeys.data.every((k) => k.attributes.key === undefined && k.relationships.owned_by.data.type === "users")).toBe(true);
    const account = sim.org.users.values().find((u) => u.serviceAccount)!;
    const own = await call(sim, `/api/v2/service_accounts/${account.id}/application_keys`);
    expect(own.body.data.length).toBeGreaterThan(0);
    expect(own.body.data.every((k: any) => k.relationships.owned_by.data.id === account.id)).toBe(true);
  });

  it("answers unknown paths and unknown ids with Datadog's JSON errors", async () => {
    const unknown = await call(sim, "/api/v2/nothing-here");
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ errors: ["Not found"] });
    const noUser = await call(sim, "/api/v2/users/00000000-0000-4000-8000-000000000000");
    expect(noUser.status).toBe(404);
    expect(noUser.body.errors[0]).toMatch(/not found/);
    expect((await call(sim, "/api/v2/team/nope/memberships")).status).toBe(404);
    expect((await call(sim, "/api/v2/on-call/escalation-policies/nope")).status).toBe(404);
  });

  it("counts requests by operation", async () => {
    sim.resetStats();
    await call(sim, "/api/v2/users");
    await call(sim, "/api/v2/users");
    await call(sim, `/api/v2/team/${sim.org.teams.values()[0].id}`);
    await call(sim, "/nope");
    expect(sim.stats.requests).toBe(4);
    expect(sim.stats.byOperation).toEqual({ "GET /api/v2/users": 2, "GET /api/v2/team/{team_id}": 1, UNMATCHED: 1 });
    expect(sim.stats.byStatus[200]).toBe(3);
    expect(sim.stats.maxInFlight).toBeGreaterThanOrEqual(1);
    expect(sim.stats.inFlight).toBe(0);
  });
});

describe("simulator keys and tokens", () => {
  let sim: Simulator;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 2, counts: { users: 20 } });
  });
  afterAll(async () => {
    await sim.close();
  });

  it("generates distinct random keys per start and accepts given ones", async () => {
    const other = await startSimulator({ counts: { users: 5 } });
    const fixed = await startSimulator({ counts: { users: 5 }, apiKey: "a".repeat(32), appKey: "b".repeat(40) });
    try {
      expect(other.apiKey).not.toBe(sim.apiKey);
      expect(sim.apiKey).toMatch(/^[0-9a-f]{32}$/);
      expect(sim.appKey).toMatch(/^[0-9a-f]{40}$/);
      expect((await call(fixed, "/api/v2/users")).status).toBe(200);
      expect((await call(fixed, "/api/v2/users", { headers: { "DD-API-KEY": sim.apiKey, "DD-APPLICATION-KEY": sim.appKey } })).status).toBe(403);
    } finally {
      await other.close();
      await fixed.close();
    }
  });

  it("refuses a missing or wrong key with 403 Forbidden; /api/v1/validate tells which key is wrong", async () => {
    for (const headers of [
      { "DD-API-KEY": undefined },
      { "DD-API-KEY": "wrong" },
      { "DD-APPLICATION-KEY": "wrong" },
      { "DD-APPLICATION-KEY": undefined },
    ]) {
      const answer = await call(sim, "/api/v2/users", { headers });
      expect(answer.status).toBe(403);
      expect(answer.body).toEqual({ errors: ["Forbidden"] });
    }
    const goodApiKey = await call(sim, "/api/v1/validate", { headers: { "DD-APPLICATION-KEY": "wrong" } });
    expect(goodApiKey.status).toBe(200);
    expect(goodApiKey.body).toEqual({ valid: true });
    const badApiKey = await call(sim, "/api/v1/validate", { headers: { "DD-API-KEY": "wrong" } });
    expect(badApiKey.status).toBe(403);
    expect(badApiKey.body).toEqual({ errors: ["Forbidden"] });
  });

  it("accepts registered bearer tokens until they expire; unknown ones get 401", async () => {
    const userId = sim.org.users.values()[0].id;
    sim.registerBearerToken("live-token", { expiresAt: Date.now() + 60_000, userId });
    sim.registerBearerToken("old-token", { expiresAt: new Date(Date.now() - 1), userId });
    const noKeys = { "DD-API-KEY": undefined, "DD-APPLICATION-KEY": undefined };
    expect((await call(sim, "/api/v2/users", { headers: { ...noKeys, Authorization: "Bearer live-token" } })).status).toBe(200);
    const expired = await call(sim, "/api/v2/users", { headers: { ...noKeys, Authorization: "Bearer old-token" } });
    expect(expired.status).toBe(401);
    expect(expired.body.errors).toContain("Unauthorized");
    expect((await call(sim, "/api/v2/users", { headers: { ...noKeys, Authorization: "Bearer forged" } })).status).toBe(401);
    sim.revokeBearerToken("live-token");
    expect((await call(sim, "/api/v2/users", { headers: { ...noKeys, Authorization: "Bearer live-token" } })).status).toBe(401);
  });

  it("refuses calls outside a scoped key's permissions, naming the missing permission", async () => {
    sim.setAppKeyScopes(["user_access_read"]);
    try {
      expect((await call(sim, "/api/v2/users")).status).toBe(200);
      const teams = await call(sim, "/api/v2/team");
      expect(teams.status).toBe(403);
      expect(teams.body.errors[0]).toBe("Forbidden");
      expect(teams.body.errors[1]).toMatch(/missing permission teams_read/);
      const keys = await call(sim, "/api/v2/api_keys");
      expect(keys.body.errors[1]).toMatch(/api_keys_read/);
    } finally {
      sim.setAppKeyScopes(null);
    }
    expect((await call(sim, "/api/v2/team")).status).toBe(200);
  });

  it("checks latency settings", async () => {
    expect(() => sim.setLatency(-1)).toThrow(/latencyMs/);
    await expect(startSimulator({ latencyMs: Number.NaN })).rejects.toThrow(/latencyMs/);
    sim.setLatency(5);
    expect((await call(sim, "/api/v2/users")).status).toBe(200);
    sim.setLatency(0);
  });

  it("serves plug-in routes, which win over built-in ones and may skip auth", async () => {
    sim.addRoute("POST", "/api/v2/delegated-token", (ctx) => ({ status: 200, body: { saw: ctx.headers.authorization ?? null } }), { auth: "none" });
    const answer = await call(sim, "/api/v2/delegated-token", {
      method: "POST",
      headers: { "DD-API-KEY": undefined, "DD-APPLICATION-KEY": undefined, Authorization: "Delegated proof" },
    });
    expect(answer.body).toEqual({ saw: "Delegated proof" });
    expect(sim.routes()[0]).toMatchObject({ method: "POST", template: "/api/v2/delegated-token", auth: "none" });
  });
});
