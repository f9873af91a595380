/**
 * Targeted and narrowed syncs of the Datadog connector against the simulator (PROTOCOL-2 §1): the just-in-time
 * case (grant, then a targeted sync of the one resource shows the grant in a `partial` run whose parent is the
 * last full run), what each narrowed run contains, and the Datadog requests a targeted sync costs.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSync, type SyncOptions } from "../../src/sync/engine.ts";
import { SyncStore } from "../../src/store/store.ts";
import { hasCommand } from "../store/fixtures.ts";
import { startHarness, type Harness } from "./harness.ts";

let h: Harness;
let n = 0;

beforeAll(async () => {
  h = await startHarness({ provisioning: true });
});
afterAll(async () => {
  await h?.close();
});

const sync = (file: string, extra: Partial<SyncOptions> = {}) => runSync({ connector: h.rpc, file, logger: h.logs.logger, ...extra });
const newFile = () => join(h.dir, `targeted-${++n}.c1z`);

async function withStore<T>(file: string, fn: (store: SyncStore) => T): Promise<T> {
  const store = await SyncStore.openReadOnly(file);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

const principalsOf = (store: SyncStore, syncId: string, entitlementId: string) =>
  [...store.iterateGrants(syncId, { entitlementId })].map((g) => g.grant.principal!.id!.resource).sort();

/** Requests the simulator saw, by "METHOD /template". */
const ops = () => ({ ...h.sim.stats.byOperation });

describe("targeted sync (Datadog)", () => {
  it("grant, then a targeted sync of the team: the new member in a partial run whose parent is the last full run, only that team, ≤ 4 requests", async () => {
    const file = newFile();
    const full = await sync(file);
    expect(full.syncType).toBe("full");
    const team = h.sim.org.teams.values()[0]!;
    const user = h.sim.org.users.values().find((u) => !team.members.has(u.id) && !u.serviceAccount && !u.disabled)!;
    const [entitlement, principal] = await withStore(file, (s) => [s.getEntitlement(full.syncId, `team:${team.id}:member`), s.getResource(full.syncId, "user", user.id)]);
    await h.rpc.grant({ entitlement: entitlement as never, principal: principal as never });
    expect(team.members.has(user.id)).toBe(true);

    h.sim.resetStats();
    const targeted = await sync(file, { targetedResources: [{ resourceType: "team", resource: team.id }] });
    const requests = h.sim.stats.requests;
    const byOp = ops();

    expect(targeted.syncType).toBe("partial");
    expect(targeted.parentSyncId).toBe(full.syncId);
    expect(targeted.resumed).toBe(false);
    // The warm connector checks its credentials with one read, then GetTeam and one page of memberships.
    expect(requests).toBeLessThanOrEqual(4);
    expect(byOp["GET /api/v2/team/{team_id}"]).toBe(1);
    expect(byOp["GET /api/v2/team/{team_id}/memberships"]).toBe(1);
    expect(byOp["GET /api/v2/team"]).toBeUndefined();
    expect(byOp["GET /api/v2/roles"]).toBeUndefined();

    await withStore(file, (store) => {
      const run = store.getSyncRun(targeted.syncId)!;
      expect(run.syncType).toBe("partial");
      expect(run.parentSyncId).toBe(full.syncId);
      expect(run.endedAt).not.toBeNull();
      const resources = [...store.iterateResources(targeted.syncId)].map((r) => `${r.resource.id!.resourceType}:${r.resource.id!.resource}`);
      expect(resources).toEqual([`team:${team.id}`]);
      const members = principalsOf(store, targeted.syncId, `team:${team.id}:member`);
      expect(members).toContain(user.id);
      expect(members).toEqual([...team.members.values()].map((m) => m.user.id).sort());
      expect(principalsOf(store, full.syncId, `team:${team.id}:member`)).not.toContain(user.id);
      // The full run is untouched: the partial run's rows carry only its own sync id.
      expect(store.counts(full.syncId).resources).toBeGreaterThan(50);
      expect(store.counts(targeted.syncId)).toMatchObject({ resources: 1, entitlements: 2 });
    });
  });

  it("the same for a role: a new member after a grant, in a partial run of that role alone", async () => {
    const file = newFile();
    const full = await sync(file);
    const role = h.sim.org.roles.values()[0]!;
    const user = h.sim.org.users.values().find((u) => !role.users.has(u.id) && !u.disabled)!;
    const [entitlement, principal] = await withStore(file, (s) => [s.getEntitlement(full.syncId, `role:${role.id}:member`), s.getResource(full.syncId, "user", user.id)]);
    await h.rpc.grant({ entitlement: entitlement as never, principal: principal as never });

    h.sim.resetStats();
    const targeted = await sync(file, { targetedResources: [{ resourceType: "role", resource: role.id }] });
    // One read to check the credentials, GetRole with the permission names beside it, one page of the role's users.
    expect(h.sim.stats.requests).toBeLessThanOrEqual(4);
    expect(ops()["GET /api/v2/roles/{role_id}"]).toBe(1);
    expect(targeted.syncType).toBe("partial");
    expect(targeted.parentSyncId).toBe(full.syncId);
    await withStore(file, (store) => {
      expect([...store.iterateResources(targeted.syncId)].map((r) => r.resource.id!.resource)).toEqual([role.id]);
      const members = principalsOf(store, targeted.syncId, `role:${role.id}:member`);
      expect(members).toContain(user.id);
      expect(members).toEqual([...role.users.values()].map((u) => u.id).sort());
      const stored = store.getResource(targeted.syncId, "role", role.id)!;
      expect((stored.profile as { permissions?: unknown[] }).permissions?.length).toBeGreaterThan(0);
    });
  });

  it("the same for a schedule: the schedule and its members, from one GetOnCallSchedule", async () => {
    const file = newFile();
    const full = await sync(file);
    const schedule = h.sim.org.schedules.values()[0]!;
    h.sim.resetStats();
    const targeted = await sync(file, { targetedResources: [{ resourceType: "schedule", resource: schedule.id }] });
    expect(ops()["GET /api/v2/on-call/schedules/{schedule_id}"]).toBe(1);
    expect(h.sim.stats.requests).toBeLessThanOrEqual(3);
    await withStore(file, (store) => {
      expect([...store.iterateResources(targeted.syncId)].map((r) => r.resource.id!.resource)).toEqual([schedule.id]);
      const members = principalsOf(store, targeted.syncId, `schedule:${schedule.id}:member`);
      expect(members.length).toBeGreaterThan(0);
      expect(members).toEqual(principalsOf(store, full.syncId, `schedule:${schedule.id}:member`));
    });
  });

  it("a user and a key by id; several targets at once, repeats fetched once", async () => {
    const file = newFile();
    const full = await sync(file);
    const user = h.sim.org.users.values()[1]!;
    const apiKey = h.sim.org.apiKeys.values()[0]!;
    const appKey = h.sim.org.appKeys.values()[0]!;
    h.sim.resetStats();
    const targeted = await sync(file, {
      targetedResources: [
        { resourceType: "user", resource: user.id },
        { resourceType: "api-key", resource: apiKey.id },
        { resourceType: "application-key", resource: appKey.id },
        { resourceType: "user", resource: user.id },
      ],
    });
    expect(ops()["GET /api/v2/users/{user_id}"]).toBe(1);
    await withStore(file, (store) => {
      const ids = [...store.iterateResources(targeted.syncId)].map((r) => `${r.resource.id!.resourceType}:${r.resource.id!.resource}`).sort();
      expect(ids).toEqual([`api-key:${apiKey.id}`, `application-key:${appKey.id}`, `user:${user.id}`].sort());
      // A key read by id is stored exactly as the listing stores it: metadata, never the key's value.
      expect(store.getResource(targeted.syncId, "api-key", apiKey.id)).toEqual(store.getResource(full.syncId, "api-key", apiKey.id));
      expect(store.getResource(targeted.syncId, "application-key", appKey.id)).toEqual(store.getResource(full.syncId, "application-key", appKey.id));
      expect(store.counts(targeted.syncId)).toMatchObject({ entitlements: 0, grants: 0 });
    });
    expect(h.logs.text()).not.toContain(apiKey.key);
  });

  it("a targeted sync of a team that no longer exists warns and finishes", async () => {
    const file = newFile();
    const full = await sync(file);
    const team = h.sim.org.teams.values().at(-1)!;
    h.sim.org.teams.delete(team.id);
    const targeted = await sync(file, { targetedResources: [{ resourceType: "team", resource: team.id }] });
    expect(targeted.syncType).toBe("partial");
    expect(targeted.parentSyncId).toBe(full.syncId);
    expect(targeted.warnings.some((w) => w.includes(`bid:r:team/${team.id}`) && w.includes("not found"))).toBe(true);
    await withStore(file, (store) => {
      expect(store.getSyncRun(targeted.syncId)!.endedAt).not.toBeNull();
      expect(store.counts(targeted.syncId).resources).toBe(0);
    });
  });

  it("skip-grants: a partial run with the team's entitlements and no grants", async () => {
    const file = newFile();
    await sync(file);
    const team = h.sim.org.teams.values()[0]!;
    const targeted = await sync(file, { targetedResources: [{ resourceType: "team", resource: team.id }], skipGrants: true });
    expect(targeted.syncType).toBe("partial");
    await withStore(file, (store) => expect(store.counts(targeted.syncId)).toMatchObject({ resources: 1, entitlements: 2, grants: 0 }));
  });

  it("a first targeted sync of a new file has no parent", async () => {
    const team = h.sim.org.teams.values()[0]!;
    const targeted = await sync(newFile(), { targetedResources: [{ resourceType: "team", resource: team.id }] });
    expect(targeted.syncType).toBe("partial");
    expect(targeted.parentSyncId).toBe("");
  });
});

describe("narrowed syncs (Datadog)", () => {
  it("resources only: a resources_only run with every resource and no entitlements or grants", async () => {
    const file = newFile();
    const result = await sync(file, { skipEntitlementsAndGrants: true });
    expect(result.syncType).toBe("resources_only");
    await withStore(file, (store) => {
      const run = store.getSyncRun(result.syncId)!;
      expect(run.syncType).toBe("resources_only");
      expect(run.parentSyncId).toBe("");
      const c = store.counts(result.syncId);
      expect(c.resourcesByType.team).toBe(h.sim.org.teams.size);
      expect(c.resourcesByType.user).toBe(h.sim.org.users.size);
      expect(c).toMatchObject({ entitlements: 0, grants: 0 });
    });
  });

  it("by type: a full run of teams only; grants to users (a type not synced) are dropped with one warning", async () => {
    const file = newFile();
    h.sim.resetStats();
    const result = await sync(file, { resourceTypeIds: ["team"] });
    expect(result.syncType).toBe("full");
    expect(ops()["GET /api/v2/users"]).toBeLessThanOrEqual(2); // Validate's reads only: users are not listed
    expect(ops()["GET /api/v2/roles/{role_id}/users"]).toBeUndefined();
    expect(result.warnings.filter((w) => w.includes("outside the sync's type filter"))).toHaveLength(1);
    await withStore(file, (store) => {
      expect(store.resourceTypes(result.syncId).map((t) => t.id)).toEqual(["team"]);
      const c = store.counts(result.syncId);
      expect(Object.keys(c.resourcesByType)).toEqual(["team"]);
      expect(c.entitlements).toBe(2 * h.sim.org.teams.size);
      expect(c.grants).toBe(0);
    });
  });

  it("by type: a type the connector does not have fails the sync naming it", async () => {
    await expect(sync(newFile(), { resourceTypeIds: ["team", "teams"] })).rejects.toThrow(/invalid resource type 'teams' in filter/);
  });

  it("a targeted sync whose targets the type filter drops is still partial, and takes the untargeted path", async () => {
    const file = newFile();
    const team = h.sim.org.teams.values()[0]!;
    const result = await sync(file, { targetedResources: [{ resourceType: "team", resource: team.id }], resourceTypeIds: ["role"] });
    expect(result.syncType).toBe("partial");
    await withStore(file, (store) => expect(Object.keys(store.counts(result.syncId).resourcesByType)).toEqual(["role"]));
  });

  it.skipIf(!hasCommand("zstd") || !hasCommand("sqlite3"))("a file with full and partial runs passes the standard tools' checks", async () => {
    const file = newFile();
    const full = await sync(file);
    const team = h.sim.org.teams.values()[0]!;
    const targeted = await sync(file, { targetedResources: [{ resourceType: "team", resource: team.id }] });
    const db = join(h.dir, "interop.db");
    execFileSync("bash", ["-c", 'tail -c +6 "$0" | zstd -q -d > "$1"', file, db]);
    const sql = (q: string) => execFileSync("sqlite3", [db, q], { encoding: "utf8" }).trim();
    expect(sql("pragma integrity_check")).toBe("ok");
    expect(sql("select sync_type || '|' || parent_sync_id || '|' || (ended_at is not null) from v1_sync_runs order by id").split("\n")).toEqual([
      `full||1`,
      `partial|${full.syncId}|1`,
    ]);
    expect(sql(`select count(*) from v1_resources where sync_id = '${targeted.syncId}'`)).toBe("1");
    expect(sql(`select external_id from v1_resources where sync_id = '${targeted.syncId}'`)).toBe(`team:${team.id}`);
  });
});
