/**
 * Service mode runs targeted and narrowed sync_full tasks (PROTOCOL-2 §1.2): the just-in-time flow against the
 * test platform and the Datadog simulator (a grant task, then a targeted sync_full of the team, whose upload is a
 * c1z with one `partial` run holding the new member), the task's narrowing fields, the host's --skip-full-sync
 * and --sync-resource-types, and a targeted task naming a resource without an id.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { resourceId, resourceRef } from "../../src/connector/builders.ts";
import { ResourceSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import type { BatonServiceFinishTaskRequest } from "../../src/gen/c1/connectorapi/baton/v1/baton_pb.js";
import { SyncStore } from "../../src/store/store.ts";
import { startHarness, type Harness } from "../datadog/harness.ts";
import { makeTempDir, tempDirs } from "../helpers/temp-dir.ts";
import { makeTestPki, startTestPlatform, type TestPki, type TestPlatform } from "../platform/index.ts";
import { startService, type RunningService } from "./helpers.ts";
import type { RunServiceOptions } from "../../src/service/runner.ts";

const tempDir = tempDirs("all");
let pkiDir: string;
let pki: TestPki;
let h: Harness;
let platform: TestPlatform | undefined;
let service: RunningService | undefined;

beforeAll(async () => {
  pkiDir = tempDir("targeted-service-pki-");
  pki = makeTestPki(pkiDir);
  h = await startHarness({ provisioning: true });
});
afterAll(async () => {
  await h?.close();
});
afterEach(async () => {
  await service?.stop().catch(() => {});
  service = undefined;
  await platform?.close();
  platform = undefined;
});

async function start(overrides: Partial<RunServiceOptions> = {}): Promise<TestPlatform> {
  platform = await startTestPlatform({ pki });
  service = startService(platform, h.rpc, overrides);
  return platform;
}

function succeeded(finish: BatonServiceFinishTaskRequest): void {
  expect(finish.finalState.case, JSON.stringify(finish.status)).toBe("success");
}

/** Every run of the uploaded c1z of a task, with each run's resources and grant ids. */
async function uploadedRuns(p: TestPlatform, taskId: string) {
  const upload = p.uploads.find((u) => u.taskId === taskId);
  if (!upload?.checksumOk) throw new Error(`no whole upload for task ${taskId}`);
  const { dir, cleanup } = makeTempDir("targeted-upload-");
  try {
    const file = join(dir, "up.c1z");
    writeFileSync(file, upload.bytes);
    const store = await SyncStore.openReadOnly(file);
    try {
      return store.syncRuns().map((run) => ({
        run,
        resources: [...store.iterateResources(run.syncId)].map((r) => `${r.resource.id!.resourceType}:${r.resource.id!.resource}`).sort(),
        grants: [...store.iterateGrants(run.syncId)].map((g) => g.grant.id).sort(),
        counts: store.counts(run.syncId),
      }));
    } finally {
      store.close();
    }
  } finally {
    cleanup();
  }
}

const teamResource = (teamId: string) => create(ResourceSchema, { id: resourceId("team", teamId), displayName: "" });

describe("service mode: targeted sync_full tasks", () => {
  it("a grant task, then a targeted sync_full of the team: the upload is a c1z with one partial run holding the new member", async () => {
    const p = await start();
    const team = h.sim.org.teams.values()[1]!;
    const user = h.sim.org.users.values().find((u) => !team.members.has(u.id) && !u.disabled && !u.serviceAccount)!;
    const member = create(ResourceSchema, { id: resourceId("team", team.id), displayName: team.name });
    const grantTask = p.enqueue({
      taskType: {
        case: "grant",
        value: { entitlement: { id: `team:${team.id}:member`, slug: "member", resource: member }, principal: resourceRef(resourceId("user", user.id)) },
      },
    });
    succeeded(await p.waitForFinished(grantTask));

    // Only each resource's id is used: the engine fetches the team itself.
    const syncTask = p.enqueue({ taskType: { case: "syncFull", value: { targetedSyncResources: [teamResource(team.id)] } } });
    succeeded(await p.waitForFinished(syncTask));
    const runs = await uploadedRuns(p, syncTask);
    expect(runs).toHaveLength(1);
    const [only] = runs;
    expect(only!.run.syncType).toBe("partial");
    // A task's file is new: there is no full run in it to be the parent.
    expect(only!.run.parentSyncId).toBe("");
    expect(only!.run.endedAt).not.toBeNull();
    expect(only!.resources).toEqual([`team:${team.id}`]);
    expect(only!.grants).toContain(`team:${team.id}:member:user:${user.id}`);
    expect(only!.grants.filter((g) => g.startsWith(`team:${team.id}:member:`))).toHaveLength(team.members.size);
  });

  it("task fields: skip_grants (targeted), sync_resource_type_ids and skip_entitlements_and_grants", async () => {
    const p = await start();
    const team = h.sim.org.teams.values()[0]!;
    const noGrants = p.enqueue({ taskType: { case: "syncFull", value: { targetedSyncResources: [teamResource(team.id)], skipGrants: true } } });
    const rolesOnly = p.enqueue({ taskType: { case: "syncFull", value: { syncResourceTypeIds: ["role"], skipEntitlementsAndGrants: true } } });
    succeeded(await p.waitForFinished(noGrants));
    succeeded(await p.waitForFinished(rolesOnly));
    const [a] = await uploadedRuns(p, noGrants);
    expect(a!.run.syncType).toBe("partial");
    expect(a!.counts).toMatchObject({ resources: 1, entitlements: 2, grants: 0 });
    const [b] = await uploadedRuns(p, rolesOnly);
    expect(b!.run.syncType).toBe("resources_only");
    expect(Object.keys(b!.counts.resourcesByType)).toEqual(["role"]);
    expect(b!.counts).toMatchObject({ entitlements: 0, grants: 0 });
  });

  it("the host's --skip-full-sync answers every sync task, targeted ones too, with one empty full run", async () => {
    const p = await start({ syncScope: { skipFullSync: true } });
    h.sim.resetStats();
    const task = p.enqueue({ taskType: { case: "syncFull", value: { targetedSyncResources: [teamResource(h.sim.org.teams.values()[0]!.id)] } } });
    succeeded(await p.waitForFinished(task));
    const runs = await uploadedRuns(p, task);
    expect(runs.map((r) => r.run.syncType)).toEqual(["full"]);
    expect(runs[0]!.counts).toMatchObject({ resourceTypes: 0, resources: 0, grants: 0 });
    expect(h.sim.stats.byOperation["GET /api/v2/team/{team_id}"]).toBeUndefined();
  });

  it("the host's --sync-resource-types applies when the task names no types", async () => {
    const p = await start({ syncScope: { skipFullSync: false, resourceTypeIds: ["team"] } });
    const task = p.enqueue({ taskType: { case: "syncFull", value: {} } });
    succeeded(await p.waitForFinished(task));
    const [run] = await uploadedRuns(p, task);
    expect(run!.run.syncType).toBe("full");
    expect(Object.keys(run!.counts.resourcesByType)).toEqual(["team"]);
  });

  it("a targeted resource without an id is a malformed task, finished non-retryable", async () => {
    const p = await start();
    const task = p.enqueue({ taskType: { case: "syncFull", value: { targetedSyncResources: [create(ResourceSchema, { displayName: "no id" })] } } });
    const finish = await p.waitForFinished(task);
    expect(finish.finalState.case).toBe("error");
    expect(finish.status?.message).toMatch(/targeted_sync_resources\[0\] has no resource id/);
    expect(finish.finalState.case === "error" && finish.finalState.value.nonRetryable).toBe(true);
    expect(p.uploads.filter((u) => u.taskId === task)).toEqual([]);
  });
});
