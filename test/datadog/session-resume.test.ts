/**
 * ctx.session survives a resume: a sync killed after the roles' first page (which fetched the permission
 * names once and kept them in the c1z's v1_connector_sessions) resumes and lists the remaining role pages
 * with the kept names, without asking Datadog for the permissions again. Checked on the simulator's request
 * counts and on the session row of the finished c1z.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSync } from "../../src/sync/engine.ts";
import { SyncStore } from "../../src/store/store.ts";
import { readSync, startHarness, type Harness } from "./harness.ts";

const PERMISSIONS = "GET /api/v2/permissions";
const ROLES = "GET /api/v2/roles";

let h: Harness;
beforeAll(async () => {
  // Two roles per page: the roles listing spans three pages, so a kill after the first leaves two to resume.
  h = await startHarness({ counts: { users: 6, teams: 2, roles: 6, schedules: 0, apiKeys: 0, appKeys: 0, serviceAccounts: 0 }, pageSize: 2, syncSchedules: false, syncSecrets: false });
});
afterAll(() => h.close());

describe("ctx.session across an interrupted sync", () => {
  it("a resumed sync reuses the permission names kept before the interruption", async () => {
    const file = join(h.dir, "resumed.c1z");
    const count = (op: string) => h.sim.stats.byOperation[op] ?? 0;
    let rolesAtKill = 0;
    // One listing at a time, and killed at the first stored page after the permission names came back: the
    // roles page that needed them. The other role pages are then still to do.
    await expect(
      runSync({
        connector: h.rpc,
        file,
        logger: h.logs.logger,
        concurrency: 1,
        afterPage: () => {
          if (count(PERMISSIONS) > 0) {
            rolesAtKill = count(ROLES);
            throw new Error("killed mid-sync");
          }
        },
      }),
    ).rejects.toThrow("killed mid-sync");
    expect(count(PERMISSIONS)).toBe(1);

    const resumed = await runSync({ connector: h.rpc, file, logger: h.logs.logger, concurrency: 1 });
    expect(resumed.resumed).toBe(true);
    // The resumed sync did list roles (the remaining pages) and did not fetch the permission names again.
    expect(count(ROLES)).toBeGreaterThan(rolesAtKill);
    expect(count(PERMISSIONS)).toBe(1);

    // Every role of the org is there, each with its permission names (not bare ids) in the profile.
    const roles = await readSync(file, (store, syncId) => [...store.iterateResources(syncId, { resourceTypeId: "role" })].map((r) => r.resource));
    expect(roles).toHaveLength(h.sim.org.roles.size);
    const names = new Set(h.sim.org.permissions.map((p) => p.name));
    let named = 0;
    for (const role of roles) {
      const permissions = (role.profile as { permissions?: unknown } | undefined)?.permissions;
      expect(Array.isArray(permissions)).toBe(true);
      for (const name of permissions as string[]) {
        expect(names.has(name), `${role.displayName}: ${name}`).toBe(true);
        named++;
      }
    }
    expect(named).toBeGreaterThan(0);

    // The kept value is in the c1z, under the sync that wrote it (the resumed one: the same sync id).
    const store = await SyncStore.openReadOnly(file);
    try {
      const raw = store.getSessionValue(resumed.syncId, "role:permission-names");
      expect(raw).toBeDefined();
      const pairs = JSON.parse(new TextDecoder().decode(raw)) as [string, string][];
      expect(pairs.length).toBe(h.sim.org.permissions.length);
    } finally {
      store.close();
    }
  });
});
