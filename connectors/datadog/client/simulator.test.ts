/** DatadogClient against the Datadog simulator: reads, pacing, faults, writes and the diagnosis. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Code } from "../../../src/index.ts";
import { HttpError, HttpErrorCode, toConnectorError } from "../../../src/index.ts";
import { closedPort, hasOpenssl, makeTestPki, startHttpServer, startHttpsServer } from "../../../test/http/servers.ts";
import { expectedCounts, startSimulator, type Simulator } from "../simulator/index.ts";
import { StaticKeyProvider } from "./credentials.ts";
import { DatadogClient } from "./datadog-client.ts";
import type { DatadogConnectionOptions } from "./connection.ts";
import { diagnose, diagnosisError, formatDiagnosis } from "./diagnose.ts";
import { rejection } from "../../../test/helpers/rejection.ts";

const noProxy = { httpProxy: "", httpsProxy: "", noProxy: "" };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function clientFor(sim: Simulator, options: Partial<DatadogConnectionOptions> & { pageSize?: number; apiKey?: string; appKey?: string } = {}): DatadogClient {
  const { apiKey, appKey, http, ...rest } = options;
  const c = new DatadogClient({
    baseUrl: sim.baseUrl,
    credentials: new StaticKeyProvider(apiKey ?? sim.apiKey, appKey ?? sim.appKey),
    ...rest,
    http: { backoff: { baseMs: 5, maxMs: 50 }, proxy: noProxy, ...http },
  });
  cleanups.push(() => c.close());
  return c;
}

async function all<T>(gen: AsyncGenerator<T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const page of gen) out.push(...page);
  return out;
}

const failure = (p: Promise<unknown>) => rejection(p, HttpError);

describe("reading the simulated org", () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 11, counts: { users: 250, teams: 12, roles: 6, schedules: 5, apiKeys: 130, appKeys: 9, serviceAccounts: 4 } });
  });
  afterAll(() => sim.close());

  it("reads every resource with counts matching the seed, without extra page requests", async () => {
    const expected = expectedCounts(sim.org);
    const client = clientFor(sim);
    sim.resetStats();

    const users = await all(client.allUsers());
    expect(users).toHaveLength(expected.users);
    expect(users.filter((u) => u.attributes.service_account).length).toBe(expected.serviceAccounts);
    expect(sim.stats.byOperation["GET /api/v2/users"]).toBe(Math.ceil(expected.users / 100));

    const roles = await all(client.allRoles());
    expect(roles).toHaveLength(expected.roles);
    let roleMembers = 0;
    for (const role of roles) roleMembers += (await all(DatadogClient.paginate((p) => client.listRoleUsersPage(role.id, p)))).length;
    expect(roleMembers).toBe(expected.roleMemberships);
    const permissions = await client.listPermissions();
    expect(permissions.length).toBe(expected.permissions);

    const teams = await all(client.allTeams());
    expect(teams).toHaveLength(expected.teams);
    let members = 0;
    let admins = 0;
    for (const team of teams) {
      for (let page: number | undefined = 0; page !== undefined; ) {
        const res = await client.listTeamMembershipsPage(team.id, page);
        for (const m of res.items) {
          members++;
          if (m.attributes?.role === "admin") admins++;
          expect(res.users.get(m.relationships.user.data.id)?.attributes.email).toMatch(/@/);
        }
        page = res.nextPage;
      }
    }
    expect(members).toBe(expected.teamMembers);
    expect(admins).toBe(expected.teamAdmins);
    expect(sim.stats.byOperation["GET /api/v2/users/{user_id}"]).toBeUndefined(); // users came with the memberships

    // Schedules: teams → routing rules → escalation policies → schedules.
    const scheduleIds = new Set<string>();
    const policyIds = new Set<string>();
    for (const team of teams) for (const id of (await client.getTeamOnCallRoutingRules(team.id)).policyIds) policyIds.add(id);
    for (const id of policyIds) for (const s of (await client.getOnCallEscalationPolicy(id)).scheduleIds) scheduleIds.add(s);
    expect(scheduleIds.size).toBe(expected.schedules);
    let scheduleMembers = 0;
    for (const id of scheduleIds) scheduleMembers += (await client.getOnCallSchedule(id)).users.length;
    expect(scheduleMembers).toBe(expected.scheduleMembers);

    const apiKeys = await all(DatadogClient.paginate((p) => client.listAPIKeysPage(p)));
    expect(apiKeys).toHaveLength(expected.apiKeys);
    expect(sim.stats.byOperation["GET /api/v2/api_keys"]).toBe(2);
    const appKeys = await all(DatadogClient.paginate((p) => client.listApplicationKeysPage(p)));
    expect(appKeys).toHaveLength(expected.appKeys);
    expect(appKeys.every((k) => !("key" in (k.attributes ?? {})))).toBe(true);

    expect(sim.stats.http429).toBe(0);
    expect(client.metrics.failures).toBe(0);
  });
});

describe("rate limits", () => {
  it("never gets a 429 from the simulator during a burst of concurrent requests across limits", async () => {
    const sim = await startSimulator({ seed: 3, counts: { users: 300, teams: 10, roles: 5 }, rateLimit: { limit: 12, periodSeconds: 1 }, latencyMs: 5 });
    cleanups.push(() => sim.close());
    const client = clientFor(sim, { http: { connections: 32 } });
    const jobs: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) jobs.push(client.listUsersPage(i % 3));
    for (let i = 0; i < 15; i++) jobs.push(client.listRolesPage(0));
    for (let i = 0; i < 15; i++) jobs.push(client.listTeamsPage(0));
    await Promise.all(jobs);
    expect(sim.stats.http429).toBe(0);
    expect(client.metrics.http429).toBe(0);
    expect(client.metrics.requests).toBe(60);
    expect(client.http.rateLimiter!.limitNameOf("ListUsers")).toBe("users");
    expect(client.http.rateLimiter!.limitNameOf("ListTeams")).toBe("team");
  });
});

describe("faults", () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 5, counts: { users: 40 } });
  });
  afterAll(() => sim.close());
  afterEach(() => sim.clearFaults());

  it("retries 5xx answers and reset connections, then succeeds", async () => {
    const client = clientFor(sim);
    sim.injectFaults([
      { kind: "status", status: 503, count: 1, match: { pathPrefix: "/api/v2/users" } },
      { kind: "status", status: 500, count: 1, match: { pathPrefix: "/api/v2/users" } },
      { kind: "reset", count: 1, match: { pathPrefix: "/api/v2/users" } },
      { kind: "malformed", count: 1, match: { pathPrefix: "/api/v2/users" } },
      { kind: "429-no-headers", count: 1, match: { pathPrefix: "/api/v2/users" } },
    ]);
    const page = await client.listUsersPage(0);
    expect(page.items).toHaveLength(40);
    expect(client.metrics.retries).toBe(5);
    expect(sim.pendingFaults()).toHaveLength(0);
  });

  it("fails with the operation and field when the answer has the wrong shape", async () => {
    const client = clientFor(sim);
    sim.injectFaults([{ kind: "wrong-shape", variant: "wrong-type", count: 1, match: { pathPrefix: "/api/v2/users" } }]);
    const err = await failure(client.listUsersPage(0));
    expect(err.code).toBe(HttpErrorCode.INVALID_RESPONSE);
    expect(err.message).toMatch(/^ListUsers: response field data\[0\]\.id: expected string, received number/);
    sim.injectFaults([{ kind: "wrong-shape", variant: "unknown-fields", count: 1 }]);
    expect((await client.listUsersPage(0)).items).toHaveLength(40);
  });

  it("stops reading an oversized answer at the cap, and times out on one that never ends", async () => {
    const client = clientFor(sim, { http: { maxBodyBytes: 1024 * 1024, timeoutMs: 300, maxRetries: 1 } });
    sim.injectFaults([{ kind: "oversized", bytes: 4 * 1024 * 1024, count: 1 }]);
    expect((await failure(client.listUsersPage(0))).code).toBe(HttpErrorCode.BODY_TOO_LARGE);
    sim.injectFaults([{ kind: "slow", count: 2 }]);
    const err = await failure(client.listRolesPage(0));
    expect(err.code).toBe(HttpErrorCode.TIMEOUT);
    expect(toConnectorError(err).code).toBe(Code.UNAVAILABLE);
  });
});

describe("writes", () => {
  it("changes the org through the provisioning operations", async () => {
    const sim = await startSimulator({ seed: 9, counts: { users: 30, teams: 3, roles: 3, serviceAccounts: 2 } });
    cleanups.push(() => sim.close());
    const client = clientFor(sim);
    const users = await all(client.allUsers());
    const human = users.find((u) => !u.attributes.service_account && !u.attributes.disabled)!;
    const role = (await client.listRolesPage(0)).items[0];
    const team = (await client.listTeamsPage(0)).items[0];

    const roleUsers = async () => (await all(DatadogClient.paginate((p) => client.listRoleUsersPage(role.id, p)))).map((u) => u.id);
    if ((await roleUsers()).includes(human.id)) await client.removeUserFromRole(role.id, human.id);
    await client.addUserToRole(role.id, human.id);
    expect(await roleUsers()).toContain(human.id);
    await client.removeUserFromRole(role.id, human.id);
    expect(await roleUsers()).not.toContain(human.id);

    const membership = async () => {
      const page = await client.listTeamMembershipsPage(team.id, 0);
      return page.items.find((m) => m.relationships.user.data.id === human.id);
    };
    if (await membership()) await client.deleteTeamMembership(team.id, human.id);
    await client.createTeamMembership(team.id, human.id, null);
    expect((await membership())?.attributes?.role ?? null).toBeNull();
    const dup = await failure(client.createTeamMembership(team.id, human.id, null));
    expect(toConnectorError(dup).code).toBe(Code.ALREADY_EXISTS);
    await client.updateTeamMembership(team.id, human.id, "admin");
    expect((await membership())?.attributes?.role).toBe("admin");
    await client.deleteTeamMembership(team.id, human.id);
    expect(await membership()).toBeUndefined();

    const created = await client.createUser({ email: "new.person@example.com", name: "New Person", roleIds: [role.id] });
    const invitations = await client.sendInvitations([created.id]);
    expect(invitations[0].relationships?.user?.data?.id).toBe(created.id);
    await client.disableUser(created.id);
    expect((await client.getUser(created.id)).attributes.disabled).toBe(true);

    const sa = users.find((u) => u.attributes.service_account)!;
    const key = await client.createServiceAccountApplicationKey(sa.id, { name: "rotated", scopes: ["user_access_read"] });
    expect(key.ownerId).toBe(sa.id);
    const byNewKey = clientFor(sim, { appKey: key.key });
    expect((await byNewKey.listUsersPage(0)).items.length).toBeGreaterThan(0);
    expect((await client.getApplicationKey(key.id)).attributes?.scopes).toEqual(["user_access_read"]);
    await client.deleteServiceAccountApplicationKey(sa.id, key.id);
    expect(toConnectorError(await failure(client.getApplicationKey(key.id))).code).toBe(Code.NOT_FOUND);

    const apiKey = (await client.listAPIKeysPage(0)).items[0];
    await client.deleteAPIKey(apiKey.id);
    expect((await all(DatadogClient.paginate((p) => client.listAPIKeysPage(p)))).some((k) => k.id === apiKey.id)).toBe(false);
  });
});

describe("diagnose", () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 2, counts: { users: 20, teams: 3, schedules: 2 } });
  });
  afterAll(() => sim.close());
  afterEach(() => sim.setAppKeyScopes(null));

  it("passes with good keys", async () => {
    const d = await diagnose(clientFor(sim), { syncSchedules: true, syncSecrets: true });
    expect(formatDiagnosis(d)).not.toContain("FAIL");
    expect(d.ok).toBe(true);
    expect(d.checks.map((c) => c.name)).toEqual([
      "api",
      "api-key",
      "application-key",
      "read:user",
      "read:role",
      "read:team",
      "read:api-key",
      "read:application-key",
      "read:schedule",
    ]);
    expect(diagnosisError(d)).toBeUndefined();
  });

  it("tells an invalid API key from an invalid application key", async () => {
    const badApi = await diagnose(clientFor(sim, { apiKey: "wrong-api-key-0000" }));
    expect(badApi.ok).toBe(false);
    expect(badApi.checks.at(-1)).toMatchObject({ name: "api-key", problem: "INVALID_API_KEY" });
    expect(badApi.checks.at(-1)!.message).toContain("API key was rejected");
    expect(diagnosisError(badApi)!.code).toBe(Code.UNAUTHENTICATED);

    const badApp = await diagnose(clientFor(sim, { appKey: "wrong-app-key-0000" }));
    expect(badApp.checks.find((c) => c.name === "api-key")?.ok).toBe(true);
    expect(badApp.checks.at(-1)).toMatchObject({ name: "application-key", problem: "INVALID_APPLICATION_KEY" });
    expect(badApp.checks.at(-1)!.message).toContain("--app-key");
    const text = formatDiagnosis(badApi) + formatDiagnosis(badApp);
    expect(text).not.toContain(sim.apiKey);
    expect(text).not.toContain(sim.appKey);
  });

  it("names the missing permission and the resource type it blocks", async () => {
    sim.setAppKeyScopes(["user_access_read", "api_keys_read"]);
    const d = await diagnose(clientFor(sim), { syncSchedules: true, syncSecrets: true });
    expect(d.ok).toBe(false);
    const failed = d.checks.filter((c) => !c.ok && !c.skipped);
    expect(failed.map((c) => [c.resourceType, c.permission])).toEqual([
      ["team", "teams_read"],
      ["application-key", "org_app_keys_read"],
    ]);
    expect(failed[0].message).toMatch(/^Missing permission teams_read: needed to sync team resources/);
    expect(d.checks.find((c) => c.name === "read:schedule")?.skipped).toBe(true); // no readable team to start from
    expect(d.checks.find((c) => c.name === "application-key")?.ok).toBe(true);
    expect(diagnosisError(d)!.code).toBe(Code.PERMISSION_DENIED);

    sim.setAppKeyScopes(["user_access_read", "teams_read"]);
    const onCall = await diagnose(clientFor(sim), { syncSchedules: true });
    expect(onCall.checks.find((c) => c.name === "read:schedule")).toMatchObject({ ok: false, permission: "on_call_read", resourceType: "schedule" });
  });

  it("reports DNS, timeout, connection and proxy failures in words", async () => {
    const dnsClient = new DatadogClient({
      baseUrl: "https://api.no-such-datadog-site.invalid",
      credentials: new StaticKeyProvider("a-key", "b-key"),
      http: { proxy: noProxy, maxRetries: 0 },
    });
    cleanups.push(() => dnsClient.close());
    const dns = await diagnose(dnsClient);
    expect(dns.checks[0]).toMatchObject({ name: "api", ok: false, problem: "DNS" });
    expect(dns.checks[0].message).toContain("Cannot resolve api.no-such-datadog-site.invalid");

    const silent = await startHttpServer(() => {});
    cleanups.push(silent.close);
    const slow = clientFor({ ...sim, baseUrl: silent.url } as Simulator, { http: { timeoutMs: 200, maxRetries: 0, proxy: noProxy } });
    const timeout = await diagnose(slow);
    expect(timeout.checks[0]).toMatchObject({ problem: "TIMEOUT" });
    expect(timeout.checks[0].message).toContain("No answer from 127.0.0.1");
    expect(diagnosisError(timeout)!.code).toBe(Code.UNAVAILABLE);

    const port = await closedPort();
    const refused = await diagnose(clientFor({ ...sim, baseUrl: `http://127.0.0.1:${port}` } as Simulator, { http: { maxRetries: 0, proxy: noProxy } }));
    expect(refused.checks[0]).toMatchObject({ problem: "CONNECTION" });

    const proxied = await diagnose(
      clientFor(sim, { http: { maxRetries: 0, proxy: { httpProxy: `http://127.0.0.1:${port}`, httpsProxy: "", noProxy: "" } } }),
    );
    expect(proxied.checks[0]).toMatchObject({ problem: "PROXY" });
    expect(proxied.checks[0].message).toContain(`proxy http://127.0.0.1:${port}`);
  });

  it.skipIf(!hasOpenssl())("reports an untrusted certificate with the NODE_EXTRA_CA_CERTS hint", async () => {
    const pki = makeTestPki();
    cleanups.push(() => pki.cleanup());
    const tls = await startHttpsServer(pki, (_q, r) => void r.end("{}"));
    cleanups.push(tls.close);
    const d = await diagnose(clientFor({ ...sim, baseUrl: tls.url } as Simulator, { http: { maxRetries: 0, proxy: noProxy } }));
    expect(d.checks[0]).toMatchObject({ problem: "TLS" });
    expect(d.checks[0].message).toContain("not trusted");
    expect(d.checks[0].message).toContain("NODE_EXTRA_CA_CERTS");
    expect(diagnosisError(d)!.code).toBe(Code.FAILED_PRECONDITION);
  });
});
