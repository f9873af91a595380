/**
 * Security insights (--sync-security-insights) against the simulator, over gRPC: an org seeded with each risk
 * yields exactly those insights, each targeting the user or key it is about with its severity; the same org
 * cleaned yields none. The thresholds and the flag work from the CLI, and every request the insights made is a
 * documented Datadog operation with documented parameters (the contract check).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findAnnotation } from "../../src/connector/annotations.ts";
import { SecurityInsightTraitSchema, type SecurityInsightTrait } from "../../src/gen/c1/connector/v2/annotation_security_insight_pb.js";
import type { Resource } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { SyncStore } from "../../src/store/store.ts";
import { ADMIN_PERMISSIONS, SECURITY_INSIGHT } from "../../connectors/datadog/resources/security-insights.ts";
import { startSimulator, type Org, type SimUser, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { runDatadogCliInProcess } from "../helpers/cli-in-process.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { serveDatadog, type ServedDatadog } from "./served-connector.ts";

const COUNTS = { users: 40, teams: 2, roles: 4, schedules: 0, apiKeys: 6, appKeys: 6, serviceAccounts: 3 };
const DAY = 24 * 60 * 60 * 1000;
/** Accounts the simulator creates before this carry no mfa_enabled (MFA unknown). */
const MFA_KNOWN_FROM = Date.UTC(2022, 6, 1);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
const mutable = <T>(value: T) => value as Mutable<T>;

function adminRoleIds(org: Org): Set<string> {
  return new Set(org.roles.values().filter((r) => r.permissions.some((p) => (ADMIN_PERMISSIONS as readonly string[]).includes(p.name))).map((r) => r.id));
}

/** Removes every risk the insights look for (the generator's dates are years old, so its keys are all "unused"). */
function clean(org: Org): void {
  const admin = adminRoleIds(org);
  const now = Date.now();
  for (const user of org.users.values()) {
    if (user.serviceAccount) for (const role of [...user.roles]) if (admin.has(role.id)) org.removeUserFromRole(role.id, user.id);
    if (!user.serviceAccount && !user.disabled) user.mfaEnabled = true;
    if (user.status === "Pending") mutable(user).createdAt = now - DAY;
  }
  for (const key of org.apiKeys.values()) org.apiKeys.set(key.id, { ...key, dateLastUsed: now - DAY, legacyLastUsed: true });
  for (const key of org.appKeys.values()) key.lastUsedAt = now - DAY;
}

async function api(sim: Simulator, method: string, path: string, body?: unknown): Promise<number> {
  const res = await fetch(sim.baseUrl + path, {
    method,
    headers: { "DD-API-KEY": sim.apiKey, "DD-APPLICATION-KEY": sim.appKey, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

interface Insight {
  id: string;
  kind: string;
  trait: SecurityInsightTrait;
  resource: Resource;
}

async function insightsIn(file: string): Promise<Insight[]> {
  const store = await SyncStore.openReadOnly(file);
  try {
    const run = store.latestFinishedSync()!;
    return [...store.iterateResources(run.syncId)]
      .map((r) => r.resource)
      .filter((r) => r.id!.resourceType === SECURITY_INSIGHT)
      .map((resource) => ({ id: resource.id!.resource, kind: resource.id!.resource.split(":")[0], trait: findAnnotation(resource.annotations, SecurityInsightTraitSchema)!, resource }));
  } finally {
    store.close();
  }
}

const targetOf = (i: Insight) =>
  i.trait.target.case === "resourceId"
    ? `${i.trait.target.value.resourceType}:${i.trait.target.value.resource}`
    : i.trait.target.case === "externalResource"
      ? `external:${i.trait.target.value.externalId}`
      : `other:${i.trait.target.case}`;

describe("security insights on a seeded org with each risk (over gRPC)", () => {
  let sim: Simulator;
  let served: ServedDatadog;
  const expected = new Map<string, { target: string; severity: string }>();
  let staleKeyId: string;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 21, counts: COUNTS });
    const org = sim.org;
    clean(org);
    const adminRole = org.roles.values()[0]; // Datadog Admin Role: every permission
    const humans = org.users.values().filter((u) => !u.serviceAccount && u.status === "Active" && !adminRoleIds(org).has(u.roles[0]?.id ?? ""));
    const known = humans.filter((u) => u.createdAt >= MFA_KNOWN_FROM && u.allowedLoginMethods.includes("password"));
    const expect1 = (kind: string, targetType: string, id: string, severity: string) => expected.set(`${kind}:${id}`, { target: `${targetType}:${id}`, severity });

    // An admin (made one through the API) without MFA; a SAML-only admin and an admin of unknown MFA are not findings.
    const noMfa = known[0];
    expect(await api(sim, "POST", `/api/v2/roles/${adminRole.id}/users`, { data: { id: noMfa.id, type: "users" } })).toBe(200);
    noMfa.mfaEnabled = false;
    expect1("admin-without-mfa", "user", noMfa.id, "HIGH");
    const samlOnly = known[1];
    await api(sim, "POST", `/api/v2/roles/${adminRole.id}/users`, { data: { id: samlOnly.id, type: "users" } });
    samlOnly.mfaEnabled = false;
    mutable(samlOnly).allowedLoginMethods = ["saml"];
    const legacy = humans.find((u) => u.createdAt < MFA_KNOWN_FROM && u !== noMfa && u !== samlOnly);
    if (legacy) {
      await api(sim, "POST", `/api/v2/roles/${adminRole.id}/users`, { data: { id: legacy.id, type: "users" } });
      legacy.mfaEnabled = false;
    }

    // A service account given the admin role through the API.
    const bot = org.users.values().find((u) => u.serviceAccount)!;
    expect(await api(sim, "POST", `/api/v2/roles/${adminRole.id}/users`, { data: { id: bot.id, type: "users" } })).toBe(200);
    expect1("admin-service-account", "user", bot.id, "MEDIUM");

    // An API key last used 200 days ago; an application key never used (created years ago).
    const apiKey = org.apiKeys.values()[0];
    staleKeyId = apiKey.id;
    org.apiKeys.set(apiKey.id, { ...apiKey, dateLastUsed: Date.now() - 200 * DAY });
    expect1("unused-api-key", "api-key", apiKey.id, "MEDIUM");
    const appKey = org.appKeys.values()[0];
    appKey.lastUsedAt = null;
    expect1("unused-application-key", "application-key", appKey.id, "MEDIUM");

    // Owners disabled through the API: the creator of another API key, the owner of another application key.
    const creator = org.apiKeys.values()[1].createdBy;
    const owner = org.appKeys.values().find((k) => k.owner !== creator && !k.owner.serviceAccount && k.owner !== noMfa && k.owner !== samlOnly)!.owner;
    for (const user of [creator, owner]) expect(await api(sim, "DELETE", `/api/v2/users/${user.id}`)).toBe(204);
    for (const key of org.apiKeys.values()) if (key.createdBy === creator) expect1("api-key-of-disabled-user", "api-key", key.id, "MEDIUM");
    for (const key of org.appKeys.values()) if (key.owner === owner) expect1("application-key-of-disabled-user", "application-key", key.id, "MEDIUM");
    // Disabled users' own findings are gone (they can do nothing), so do not expect them.
    for (const user of [creator, owner] as SimUser[]) for (const k of [...expected.keys()]) if (k.endsWith(`:${user.id}`) && expected.get(k)!.target.startsWith("user:")) expected.delete(k);

    // An invitation pending for 45 days; one sent now is not a finding.
    const pending = org.users.values().find((u) => u.status === "Pending")!;
    mutable(pending).createdAt = Date.now() - 45 * DAY;
    expect1("stale-invitation", "user", pending.id, "LOW");
    expect(await api(sim, "POST", "/api/v2/users", { data: { type: "users", attributes: { email: "fresh.invite@example.com" } } })).toBe(201);

    // Every kind of risk is in the seeded org at least once.
    expect(new Set([...expected.keys()].map((k) => k.split(":")[0])).size).toBe(7);
    served = await serveDatadog(sim, { syncSecurityInsights: true, syncSecrets: true });
  }, 60_000);

  afterAll(async () => {
    await served?.close();
    await sim?.close();
  });

  it("finds exactly the seeded risks, each targeting its user or key, with its severity", async () => {
    const result = await served.sync("risky.c1z");
    const insights = await insightsIn(result.file);
    const found = new Map(insights.map((i) => [i.id, { target: targetOf(i), severity: i.trait.insightType.case === "issue" ? i.trait.insightType.value.severity : "" }]));
    expect(Object.fromEntries(found)).toEqual(Object.fromEntries(expected));
    for (const i of insights) {
      expect(i.trait.observedAt, i.id).toBeDefined();
      expect(i.trait.insightType.case).toBe("issue");
      expect(i.resource.displayName.length).toBeGreaterThan(0);
      expect((i.resource.profile as { kind?: string }).kind).toBe(i.kind);
    }
    const stale = insights.find((i) => i.id === `unused-api-key:${staleKeyId}`)!;
    expect(stale.resource.displayName).toMatch(/^API key unused for 200 days: /);
    expect(stale.trait.insightType.value).toMatchObject({ severity: "MEDIUM" });
  });

  it("with 4-item pages the same insights come from many pages, each asked for once per listing", async () => {
    const small = await serveDatadog(sim, { syncSecurityInsights: true, syncSecrets: true, pageSize: 4 });
    try {
      const result = await small.sync("paged.c1z");
      expect((await insightsIn(result.file)).map((i) => i.id).sort()).toEqual([...expected.keys()].sort());
      const usersPages = small.proxy.exchanges.filter((e) => e.url.startsWith("/api/v2/users?")).map((e) => new URL(e.url, "http://x").searchParams.get("page[number]"));
      // Once for the user type and once for the insights: every page of 4 of the 41 users, each asked for once per listing.
      expect(usersPages.filter((n) => n === "10")).toHaveLength(2);
      expect(new Set(usersPages).size).toBe(11);
      expect((await small.contract()).problems).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it("sends only documented requests: users, roles, permissions, and both key listings with their owners included", async () => {
    const report = await served.contract();
    expect(report.problems).toEqual([]);
    expect(report.operations).toMatchObject({ ListUsers: expect.any(Number), ListRoles: expect.any(Number), ListPermissions: expect.any(Number) });
    const urls = served.proxy.exchanges.map((e) => e.url);
    expect(urls).toEqual([]); // cleared by contract()
    const again = await served.sync("again.c1z");
    expect(again.syncType).toBe("full");
    const sent = served.proxy.exchanges.map((e) => e.url);
    expect(sent.some((u) => u.startsWith("/api/v2/api_keys?") && u.includes("include=created_by"))).toBe(true);
    expect(sent.some((u) => u.startsWith("/api/v2/application_keys?") && u.includes("include=owned_by"))).toBe(true);
    expect((await served.contract()).problems).toEqual([]);
  });
});

describe("security insights on a clean org", () => {
  it("finds nothing, and the type is absent without the flag", async () => {
    const sim = await startSimulator({ seed: 22, counts: COUNTS });
    clean(sim.org);
    const served = await serveDatadog(sim, { syncSecurityInsights: true, syncSecrets: true });
    const off = await serveDatadog(sim, { syncSecurityInsights: false });
    try {
      const result = await served.sync("clean.c1z");
      expect(await insightsIn(result.file)).toEqual([]);
      const types = (await off.rpc.listResourceTypes({})).list.map((t) => t.id);
      expect(types).not.toContain(SECURITY_INSIGHT);
      expect((await served.rpc.listResourceTypes({})).list.map((t) => t.id)).toContain(SECURITY_INSIGHT);
    } finally {
      await served.close();
      await off.close();
      await sim.close();
    }
  }, 60_000);
});

describe("security insights from the CLI", () => {
  const tempDir = tempDirs("all");
  let sim: Simulator;
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 23, counts: COUNTS });
    clean(sim.org);
    const key = sim.org.apiKeys.values()[0];
    sim.org.apiKeys.set(key.id, { ...key, dateLastUsed: Date.now() - 200 * DAY });
    dir = tempDir("insights-cli-");
    env = { BATON_BASE_URL: sim.baseUrl, BATON_API_KEY: sim.apiKey, BATON_APP_KEY: sim.appKey, BATON_LOG_LEVEL: "warn" };
  });
  afterAll(async () => {
    await sim?.close();
  });

  it("--sync-security-insights reports the key unused for 200 days; a 365-day threshold does not; keys not synced are named by id", async () => {
    const first = await runDatadogCliInProcess(["-f", join(dir, "a.c1z"), "--sync-security-insights"], { env, cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    const found = await insightsIn(join(dir, "a.c1z"));
    expect(found.map((i) => i.id)).toEqual([`unused-api-key:${sim.org.apiKeys.values()[0].id}`]);
    // Without --sync-secrets there is no key resource to point at: the Datadog id is the target.
    expect(targetOf(found[0])).toBe(`external:${sim.org.apiKeys.values()[0].id}`);
    expect(found[0].trait.target.value).toMatchObject({ appHint: "datadog:api_key" });

    const lenient = await runDatadogCliInProcess(["-f", join(dir, "b.c1z"), "--sync-security-insights", "--security-insights-unused-key-days", "365"], { env, cwd: dir });
    expect(lenient.code, lenient.stderr).toBe(0);
    expect(await insightsIn(join(dir, "b.c1z"))).toEqual([]);
  }, 60_000);

  it("a key that may not list keys (403) still gets the user insights; the key listings are skipped with a warning", async () => {
    const pending = sim.org.users.values().find((u) => u.status === "Pending")!;
    const invited = pending.createdAt;
    mutable(pending).createdAt = Date.now() - 40 * DAY;
    sim.setAppKeyScopes(["user_access_read", "teams_read"]);
    try {
      const run = await runDatadogCliInProcess(["-f", join(dir, "scoped.c1z"), "--sync-security-insights"], { env, cwd: dir });
      expect(run.code, run.stderr).toBe(0);
      expect((await insightsIn(join(dir, "scoped.c1z"))).map((i) => i.id)).toEqual([`stale-invitation:${pending.id}`]);
      expect(run.stderr).toContain("security insights about api-keys skipped: the credentials may not list them");
      expect(run.stderr).toContain("security insights about application-keys skipped");
    } finally {
      sim.setAppKeyScopes(null);
      mutable(pending).createdAt = invited;
    }
  }, 60_000);

  it("a threshold of 0 days is refused with the flag named, exit 2, no file written", async () => {
    const run = await runDatadogCliInProcess(["-f", join(dir, "c.c1z"), "--sync-security-insights", "--security-insights-unused-key-days", "0"], { env, cwd: dir });
    expect(run.code).toBe(2);
    expect(run.error).toMatch(/security-insights-unused-key-days/);
    expect(run.error).toMatch(/at least 1/);
  });
});
