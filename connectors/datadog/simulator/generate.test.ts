import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { expectedCounts, generateOrg, reachableSchedules, resolveCounts } from "./generate.ts";
import type { Org } from "./model.ts";

/** A digest of everything the API can show about an org, to compare two generations. */
function fingerprint(org: Org): string {
  const hash = createHash("sha256");
  hash.update(org.uuid);
  for (const u of org.users) hash.update(JSON.stringify([u.id, u.name, u.email, u.status, u.createdAt, u.lastLoginTime, u.roles.map((r) => r.id)]));
  for (const r of org.roles) hash.update(JSON.stringify([r.id, r.name, r.permissions.map((p) => p.id)]));
  for (const t of org.teams) {
    hash.update(JSON.stringify([t.id, t.name, t.members.values().map((m) => [m.user.id, m.role])]));
    hash.update(JSON.stringify(t.routingRules.map((rule) => [rule.id, rule.policy?.id ?? null])));
  }
  for (const s of org.schedules) hash.update(JSON.stringify([s.id, s.layers.map((l) => l.members.map((m) => m.user.id))]));
  for (const k of org.apiKeys) hash.update(JSON.stringify([k.id, k.key, k.createdBy.id]));
  for (const k of org.appKeys) hash.update(JSON.stringify([k.id, k.owner.id, k.scopes]));
  return hash.digest("hex");
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("org generator", () => {
  it("gives the same org for the same seed and a different one for another seed", () => {
    const counts = { users: 300, teams: 12, roles: 8, schedules: 6, apiKeys: 20, appKeys: 10 };
    const a = fingerprint(generateOrg(7, counts));
    expect(fingerprint(generateOrg(7, counts))).toBe(a);
    expect(fingerprint(generateOrg(8, counts))).not.toBe(a);
  });

  it("makes exactly the requested numbers, with Datadog-shaped ids", () => {
    const org = generateOrg(3, { users: 250, teams: 15, roles: 9, schedules: 7, apiKeys: 30, appKeys: 12, serviceAccounts: 5 });
    const counts = expectedCounts(org);
    expect(counts).toMatchObject({ users: 250, teams: 15, roles: 9, schedules: 7, apiKeys: 30, appKeys: 12, serviceAccounts: 5 });
    expect(org.users.values().every((u) => UUID.test(u.id))).toBe(true);
    expect(org.roles.values().every((r) => UUID.test(r.id))).toBe(true);
    expect(org.teams.values().every((t) => UUID.test(t.id))).toBe(true);
    // Real schedule ids are UUIDs (the short public ids of older On-Call objects are not what real answers carry).
    expect(org.schedules.values().every((s) => UUID.test(s.id))).toBe(true);
    expect(new Set(org.users.values().map((u) => u.email)).size).toBe(250);
  });

  it("covers every user kind: active, pending, disabled and service accounts", () => {
    const org = generateOrg(1, { users: 40, serviceAccounts: 3 });
    const statuses = new Set(org.users.values().map((u) => u.status));
    expect(statuses).toEqual(new Set(["Active", "Pending", "Disabled"]));
    const pending = org.users.values().find((u) => u.status === "Pending")!;
    expect(pending.verified).toBe(false);
    expect(pending.lastLoginTime).toBeNull();
    const disabled = org.users.values().find((u) => u.status === "Disabled")!;
    expect(disabled.disabled).toBe(true);
    expect(org.users.values().filter((u) => u.serviceAccount)).toHaveLength(3);
  });

  it("places every schedule where the discovery path finds it, with team-owned policies", () => {
    const org = generateOrg(5, { teams: 9, schedules: 13 });
    expect(reachableSchedules(org).size).toBe(13);
    const rulesWithoutPolicy = org.teams.values().flatMap((t) => t.routingRules).filter((r) => r.policy === null);
    expect(rulesWithoutPolicy.length).toBeGreaterThan(0);
    // Both plain and configured ("schedule_target") schedule targets occur.
    const kinds = new Set([...org.policies.values()].flatMap((p) => p.steps.flatMap((s) => s.targets.map((t) => t.kind))));
    expect(kinds.has("schedule")).toBe(true);
    expect(kinds.has("configured-schedule")).toBe(true);
  });

  it("builds the benchmark org quickly with more than 100,000 grants", () => {
    const org = generateOrg(42, { users: 20_000, teams: 500, roles: 200, schedules: 100, apiKeys: 2_000, appKeys: 300, serviceAccounts: 200 });
    const counts = expectedCounts(org);
    expect(counts.users).toBe(20_000);
    expect(counts.schedules).toBe(100);
    expect(counts.grants).toBeGreaterThanOrEqual(100_000);
    expect(counts.grants).toBe(counts.roleMemberships + counts.teamMembers + counts.teamAdmins + counts.scheduleMembers);
    // The role → users index agrees with each user's own roles.
    let fromUsers = 0;
    for (const u of org.users) fromUsers += u.roles.length;
    expect(fromUsers).toBe(counts.roleMemberships);
  });

  it("rejects impossible counts with a message naming the count", () => {
    expect(() => resolveCounts({ users: -1 })).toThrow(/"users"/);
    expect(() => resolveCounts({ users: 5, serviceAccounts: 6 })).toThrow(/serviceAccounts/);
    expect(() => resolveCounts({ teams: 1.5 })).toThrow(/"teams"/);
  });

  it("handles an empty org", () => {
    const org = generateOrg(1, { users: 0, teams: 0, roles: 0, schedules: 0, apiKeys: 0, appKeys: 0 });
    expect(expectedCounts(org)).toMatchObject({ users: 0, teams: 0, schedules: 0, grants: 0 });
  });
});
