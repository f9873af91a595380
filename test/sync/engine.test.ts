import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { createConnectorService } from "../../src/connector/service.ts";
import { serveConnector, type ServedConnector } from "../../src/grpc/connector-server.ts";
import { connectorClient } from "../../src/grpc/connector-client.ts";
import { runSync } from "../../src/sync/engine.ts";
import { SyncStore, workingDatabasePath } from "../../src/store/store.ts";
import { fixtureConnector } from "../fixtures/fixture-connector.ts";
import { c1zRows } from "../helpers/c1z-rows.ts";
import { silentLogger } from "../helpers/logger.ts";

const logger = silentLogger();
let dir: string;
let served: ServedConnector;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "engine-test-"));
  const rpc = createConnectorService(fixtureConnector(), { logger, provisioning: false });
  served = await serveConnector(rpc, { address: "127.0.0.1:0", credentials: grpc.ServerCredentials.createInsecure(), logger });
});

afterAll(async () => {
  await served.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("sync engine on the fixture connector", () => {
  it("walks types, paginated resources, child types, entitlements, grants and expands a cycle", async () => {
    const file = join(dir, "inproc.c1z");
    const rpc = createConnectorService(fixtureConnector(), { logger, provisioning: false });
    const result = await runSync({ connector: rpc, file, logger, concurrency: 3 });

    expect(result.resumed).toBe(false);
    expect(result.stats.resourcesByType).toEqual({ user: 7, group: 3, role: 1, org: 2, project: 8 });
    expect(result.stats.entitlements).toBe(4);
    // 9 direct grants + 10 from expansion (g1 gets u2-u4, g2 gets u0-u1, r1 gets u0-u4).
    expect(result.stats.grants).toBe(19);
    expect(result.warnings.some((w) => w.includes("group:g3") && w.includes("not found"))).toBe(true);
    expect(existsSync(file)).toBe(true);
    expect(existsSync(workingDatabasePath(file))).toBe(false);
    expect(existsSync(`${file}.work`)).toBe(false); // the private working directory goes with it

    const store = await SyncStore.openReadOnly(file);
    try {
      const syncId = store.latestFinishedSync()!.syncId;
      expect(syncId).toBe(result.syncId);
      const roleHolders = [...store.iterateGrants(syncId, { entitlementId: "role:r1:assigned" })]
        .map((g) => g.grant.principal!.id!.resource)
        .sort();
      expect(roleHolders).toEqual(["g1", "u0", "u1", "u2", "u3", "u4", "u6"]);
      const expanded = store.getGrant(syncId, "role:r1:assigned:user:u3")!.grant;
      expect(Object.keys(expanded.sources!.sources)).toEqual(["group:g1:member"]);
      expect(expanded.annotations.some((a) => a.typeUrl.endsWith("GrantImmutable"))).toBe(true);
      // The group principal is filtered out of the role expansion by resource_type_ids = ["user"].
      expect(store.getGrant(syncId, "role:r1:assigned:group:g2")).toBeUndefined();
      const projects = [...store.iterateResources(syncId, { resourceTypeId: "project" })].map((r) => r.resource);
      expect(projects.every((p) => p.parentResourceId?.resourceType === "org")).toBe(true);
    } finally {
      store.close();
    }
  });

  it("gives identical rows in-process and over gRPC on a loopback port", async () => {
    const a = join(dir, "a.c1z");
    const b = join(dir, "b.c1z");
    await runSync({ connector: createConnectorService(fixtureConnector(), { logger, provisioning: false }), file: a, logger });
    const client = connectorClient(`127.0.0.1:${served.port}`, grpc.credentials.createInsecure());
    try {
      await runSync({ connector: client, file: b, logger });
    } finally {
      client.close();
    }
    const rowsA = await c1zRows(a);
    const rowsB = await c1zRows(b);
    expect(rowsA.rows.length).toBeGreaterThan(40);
    expect(rowsB.rows).toEqual(rowsA.rows);
  });

  it("fetches pages handed out with EnqueuePageTokens and ends with the same rows", async () => {
    const chained = join(dir, "chained.c1z");
    const fanned = join(dir, "fanned.c1z");
    await runSync({ connector: createConnectorService(fixtureConnector({ users: 31 }), { logger, provisioning: false }), file: chained, logger });
    const rpc = createConnectorService(fixtureConnector({ users: 31, fanOut: true }), { logger, provisioning: false });
    let calls = 0;
    const counting = { ...rpc, listResources: (req: Parameters<typeof rpc.listResources>[0], o?: Parameters<typeof rpc.listResources>[1]) => (calls++, rpc.listResources(req, o)) };
    const result = await runSync({ connector: counting, file: fanned, logger, concurrency: 4 });
    expect(result.stats.resourcesByType.user).toBe(31);
    // 11 user pages, 2 group pages, 1 role, 1 org, 1 top-level project listing, 2 × 2 project pages under orgs.
    expect(calls).toBe(11 + 2 + 1 + 1 + 1 + 4);
    expect((await c1zRows(fanned)).rows).toEqual((await c1zRows(chained)).rows);
  });

  it("stops with a clear error when a connector repeats its page token", async () => {
    const base = fixtureConnector();
    const looping = {
      ...base,
      syncers: base.syncers.map((s) =>
        s.resourceType.id === "user" ? { ...s, list: async () => ({ items: [], nextPageToken: "same" }) } : s,
      ),
    };
    // First page returns "same"; asking with "same" returns "same" again.
    const file = join(dir, "loop.c1z");
    await expect(
      runSync({ connector: createConnectorService(looping, { logger, provisioning: false }), file, logger }),
    ).rejects.toThrow(/same page token/);
    expect(existsSync(file)).toBe(false);
  });

  it("keeps the previous file and adds a new run on the next sync, pruning to the newest two", async () => {
    const file = join(dir, "runs.c1z");
    const rpc = createConnectorService(fixtureConnector(), { logger, provisioning: false });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await runSync({ connector: rpc, file, logger })).syncId);
    const store = await SyncStore.openReadOnly(file);
    try {
      expect(store.syncRuns().map((r) => r.syncId).sort()).toEqual(ids.slice(1).sort());
    } finally {
      store.close();
    }
  });
});

describe("grant expansion", () => {
  it("is idempotent: expanding a second time (a resumed expansion) writes the same rows", async () => {
    const { expandGrants } = await import("../../src/sync/expand.ts");
    const file = join(dir, "expand-twice.c1z");
    await runSync({ connector: createConnectorService(fixtureConnector(), { logger, provisioning: false }), file, logger });
    const before = await c1zRows(file);
    const store = await SyncStore.openForSync(file);
    const syncId = store.latestFinishedSync()!.syncId;
    expandGrants(store, syncId, logger);
    await store.saveTo(file);
    expect((await c1zRows(file)).rows).toEqual(before.rows);
  });
});
