/**
 * The narrowing flags through the real CLI (in-process runner) against the Datadog simulator: --sync-resources
 * (and BATON_SYNC_RESOURCES), --sync-resource-types, --skip-entitlements-and-grants, --skip-grants; the errors a
 * user sees for a bad resource id or --skip-grants alone, and what --help shows.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SyncStore } from "../../src/store/store.ts";
import { startSimulator, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { runDatadogCliInProcess } from "../helpers/cli-in-process.ts";
import { tempDirs } from "../helpers/temp-dir.ts";

const tempDir = tempDirs("all");
let sim: Simulator;
let dir: string;
let env: Record<string, string>;
beforeAll(async () => {
  sim = await startSimulator({ seed: 5, counts: { users: 40, teams: 5, roles: 4, schedules: 0, apiKeys: 2, appKeys: 2, serviceAccounts: 1 } });
  dir = tempDir("cli-targeted-");
  env = { BATON_BASE_URL: sim.baseUrl, BATON_API_KEY: sim.apiKey, BATON_APP_KEY: sim.appKey, BATON_LOG_LEVEL: "warn" };
});
afterAll(async () => {
  await sim?.close();
});

function cli(argv: string[], extraEnv: Record<string, string> = {}) {
  return runDatadogCliInProcess(argv, { env: { ...env, ...extraEnv }, cwd: dir });
}

async function runs(file: string) {
  const store = await SyncStore.openReadOnly(file);
  try {
    return store.syncRuns().map((r) => ({ ...r, counts: store.counts(r.syncId) }));
  } finally {
    store.close();
  }
}

describe("narrowing flags on the command line", () => {
  it("--sync-resources bid:r:team/<id> after a full sync writes a partial run whose parent is that full run", async () => {
    const file = join(dir, "jit.c1z");
    expect((await cli(["-f", file])).code).toBe(0);
    const team = sim.org.teams.values()[0]!;
    const run = await cli(["-f", file, "--sync-resources", `bid:r:team/${team.id}`]);
    expect(run.code, run.stderr).toBe(0);
    const [full, partial] = await runs(file);
    expect(partial!.syncType).toBe("partial");
    expect(partial!.parentSyncId).toBe(full!.syncId);
    expect(partial!.counts.resourcesByType).toEqual({ team: 1 });
    expect(partial!.counts.grants).toBeGreaterThan(0);
    expect(run.stdout).toContain(`Run:     partial (parent: full run ${full!.syncId})`);
  });

  it("BATON_SYNC_RESOURCES takes several ids, comma-separated", async () => {
    const file = join(dir, "env.c1z");
    const [a, b] = sim.org.teams.values();
    const run = await cli(["-f", file], { BATON_SYNC_RESOURCES: `bid:r:team/${a!.id},bid:r:team/${b!.id}` });
    expect(run.code, run.stderr).toBe(0);
    const [partial] = await runs(file);
    expect(partial!.syncType).toBe("partial");
    expect(partial!.parentSyncId).toBe("");
    expect(partial!.counts.resourcesByType).toEqual({ team: 2 });
  });

  it("--sync-resource-types with --skip-entitlements-and-grants: a resources_only run of those types", async () => {
    const file = join(dir, "types.c1z");
    const run = await cli(["-f", file, "--sync-resource-types", "team,role", "--skip-entitlements-and-grants"]);
    expect(run.code, run.stderr).toBe(0);
    const [only] = await runs(file);
    expect(only!.syncType).toBe("resources_only");
    expect(Object.keys(only!.counts.resourcesByType).sort()).toEqual(["role", "team"]);
    expect(only!.counts).toMatchObject({ entitlements: 0, grants: 0 });
    expect(run.stdout).toContain("Run:     resources_only");
  });

  it("--skip-grants with --sync-resources: entitlements and no grants", async () => {
    const file = join(dir, "skip-grants.c1z");
    const team = sim.org.teams.values()[0]!;
    const run = await cli(["-f", file, "--sync-resources", `bid:r:team/${team.id}`, "--skip-grants"]);
    expect(run.code, run.stderr).toBe(0);
    const [partial] = await runs(file);
    expect(partial!.counts).toMatchObject({ resources: 1, entitlements: 2, grants: 0 });
  });

  it("a resource id not in Baton's form is exit 2 with the form to use; nothing is contacted or written", async () => {
    const before = sim.stats.requests;
    const run = await cli(["-f", join(dir, "bad.c1z"), "--sync-resources", "team:abc"]);
    expect(run.code).toBe(2);
    expect(run.error).toMatch(/--sync-resources \/ BATON_SYNC_RESOURCES: "team:abc" is not a Baton resource id: it must start with "bid:r:"; use bid:r:<type>\/<id>/);
    expect(sim.stats.requests).toBe(before);
  });

  it("--skip-grants without --sync-resources is exit 2 with Baton's reason", async () => {
    const run = await cli(["-f", join(dir, "sg.c1z"), "--skip-grants"]);
    expect(run.code).toBe(2);
    expect(run.error).toMatch(/--skip-grants \/ BATON_SKIP_GRANTS: skip-grants can only be set within a targeted sync \(add --sync-resources/);
  });

  it("a type the connector does not have fails the sync naming it (exit 1)", async () => {
    const run = await cli(["-f", join(dir, "badtype.c1z"), "--sync-resource-types", "teams"]);
    expect(run.code).toBe(1);
    expect(run.error).toMatch(/invalid resource type 'teams' in filter/);
  });

  it("--help lists the flags, --skip-grants stays hidden as in Baton", async () => {
    const { stdout } = await cli(["--help"]);
    for (const flag of ["--sync-resources", "--sync-resource-types", "--skip-full-sync", "--skip-entitlements-and-grants"]) expect(stdout).toContain(flag);
    expect(stdout).not.toContain("--skip-grants");
  });
});
