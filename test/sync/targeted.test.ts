/**
 * The engine's targeted and narrowed syncs on a small connector whose every RPC is recorded (PROTOCOL-2 §1):
 * which RPCs a targeted sync makes, what its partial run holds, which run a sync starts, resumes or hangs off,
 * --skip-full-sync, and the bid form of --sync-resources.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { annotate, pack } from "../../src/connector/annotations.ts";
import { TypeScopedGrantsSchema } from "../../src/gen/c1/connector/v2/annotation_type_scoped_grants_pb.js";
import { appResource, entitlement, grant, groupResource, resourceId, resourceType, userResource } from "../../src/connector/builders.ts";
import { Code, ConnectorError } from "../../src/connector/errors.ts";
import type { ConnectorRpc } from "../../src/connector/rpc.ts";
import { createConnectorService } from "../../src/connector/service.ts";
import type { Connector, ResourceSyncer } from "../../src/connector/types.ts";
import { ResourceType_Trait, type Resource } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { SyncStore } from "../../src/store/store.ts";
import { runSync, type SyncOptions } from "../../src/sync/engine.ts";
import { oneShotSyncScope, serviceSyncScope } from "../../src/sync/scope.ts";
import { formatResourceBid, parseResourceBid } from "../../src/sync/targets.ts";
import { silentLogger } from "../helpers/logger.ts";
import { c1zRows } from "../helpers/c1z-rows.ts";
import * as grpc from "@grpc/grpc-js";
import { serveConnector } from "../../src/grpc/connector-server.ts";
import { connectorClient } from "../../src/grpc/connector-client.ts";

const logger = silentLogger();
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "targeted-engine-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const newFile = () => join(dir, `t-${++n}.c1z`);

const userType = resourceType({ id: "user", displayName: "User", traits: [ResourceType_Trait.USER], annotations: [annotate.skipEntitlementsAndGrants()] });
const teamType = resourceType({ id: "team", displayName: "Team", traits: [ResourceType_Trait.GROUP] });
const projectType = resourceType({ id: "project", displayName: "Project", traits: [], annotations: [annotate.skipEntitlementsAndGrants()] });
const appType = resourceType({ id: "app", displayName: "App", traits: [ResourceType_Trait.APP] });
const scopedType = resourceType({ id: "scoped", displayName: "Type-scoped grants", traits: [], annotations: [pack(TypeScopedGrantsSchema, {})] });
const legacyType = resourceType({ id: "legacy", displayName: "Legacy (no get)", traits: [] });

/** team t1: members u1 and u2, child projects, and a grant of app a1's access to the team (a1 is fetched by id). */
function world() {
  const users = ["u1", "u2", "u3"].map((id) => userResource({ type: "user", id, displayName: id, user: { emails: [{ address: `${id}@x.test`, isPrimary: true }] } }));
  const teams = ["t1", "t2"].map((id) => groupResource({ type: "team", id, displayName: id, annotations: [annotate.childResourceType("project")] }));
  const apps = [appResource({ type: "app", id: "a1", displayName: "App 1" })];
  const members: Record<string, string[]> = { t1: ["u1", "u2"], t2: ["u3"] };
  return { users, teams, apps, members };
}

function testConnector(w = world()): Connector {
  const byId = (list: Resource[], id: string, what: string) => {
    const r = list.find((x) => x.id!.resource === id);
    if (!r) throw new ConnectorError(Code.NOT_FOUND, `${what} ${id} does not exist`);
    return r;
  };
  const none = async () => ({ items: [] });
  const syncers: ResourceSyncer[] = [
    { resourceType: userType, list: async () => ({ items: w.users }), entitlements: none, grants: none, get: async (_c, id) => byId(w.users, id.resource, "user") },
    {
      resourceType: teamType,
      list: async () => ({ items: w.teams }),
      entitlements: async (_c, r) => ({ items: [entitlement(r, "member")] }),
      async grants(_c, r, token) {
        const ent = entitlement(r, "member");
        const all = (w.members[r.id!.resource] ?? []).map((u) => grant(ent, resourceId("user", u)));
        if (r.id!.resource === "t1") all.push(grant(entitlement(w.apps[0]!, "access"), r));
        // Two pages, to show every page is fetched.
        return token === "" ? { items: all.slice(0, 1), nextPageToken: "p2" } : { items: all.slice(1) };
      },
      get: async (_c, id) => byId(w.teams, id.resource, "team"),
    },
    {
      resourceType: projectType,
      list: async (_c, parent) => ({
        items: parent ? [1, 2].map((k) => appResource({ type: "project", id: `${parent.resource}-p${k}`, displayName: `p${k}`, parent })) : [],
      }),
      entitlements: none,
      grants: none,
    },
    {
      resourceType: appType,
      list: async () => ({ items: w.apps }),
      entitlements: async (_c, r) => ({ items: [entitlement(r, "access")] }),
      grants: none,
      staticEntitlements: async () => ({ items: [] }),
      get: async (_c, id) => byId(w.apps, id.resource, "app"),
    },
    { resourceType: legacyType, list: none, entitlements: none, grants: none },
    {
      resourceType: scopedType,
      list: none,
      entitlements: async (_c, r) => ({ items: [entitlement(r, "use")] }),
      grants: none,
      get: async (_c, id) => appResource({ type: "scoped", id: id.resource, displayName: id.resource }),
    },
  ];
  return { info: { displayName: "targeted test" }, syncers, validate: async () => undefined };
}

/** An RPC whose calls are recorded as "Method(detail)". */
function recorded(rpc: ConnectorRpc): { rpc: ConnectorRpc; calls: string[] } {
  const calls: string[] = [];
  const detail = (req: any): string => {
    const r = req?.resourceId ?? req?.resource?.id;
    if (r) return `${r.resourceType}:${r.resource}`;
    if (req?.resourceTypeId) return req.parentResourceId ? `${req.resourceTypeId}<${req.parentResourceId.resource}` : req.resourceTypeId;
    return "";
  };
  const wrapped = new Proxy(rpc, {
    get(target, prop: string) {
      const fn = (target as any)[prop];
      if (typeof fn !== "function") return fn;
      return (req: unknown, opts: unknown) => {
        calls.push(`${prop}(${detail(req)})`);
        return fn.call(target, req, opts);
      };
    },
  });
  return { rpc: wrapped, calls };
}

const service = (w = world()) => createConnectorService(testConnector(w), { logger, provisioning: false });
const sync = (file: string, extra: Partial<SyncOptions> = {}, rpc: ConnectorRpc = service()) => runSync({ connector: rpc, file, logger, ...extra });

async function readStore<T>(file: string, fn: (s: SyncStore) => T): Promise<T> {
  const s = await SyncStore.openReadOnly(file);
  try {
    return fn(s);
  } finally {
    s.close();
  }
}

describe("targeted sync (engine)", () => {
  it("calls Validate, ListResourceTypes, GetResource, the children's listing, entitlements, every grants page, GetResource for an entitlement's resource, Cleanup; nothing type-wide", async () => {
    const file = newFile();
    const full = await sync(file);
    const { rpc, calls } = recorded(service());
    const result = await sync(file, { targetedResources: [{ resourceType: "team", resource: "t1" }] }, rpc);
    expect(result.syncType).toBe("partial");
    expect(result.parentSyncId).toBe(full.syncId);
    expect(calls[0]).toBe("validate()");
    expect(calls[1]).toBe("listResourceTypes()");
    expect(calls[2]).toBe("getResource(team:t1)");
    expect(calls.at(-1)).toBe("cleanup()");
    expect([...calls].sort()).toEqual(
      [
        "validate()",
        "listResourceTypes()",
        "getResource(team:t1)",
        "listResources(project<t1)",
        "listEntitlements(team:t1)",
        "listGrants(team:t1)",
        "listGrants(team:t1)",
        "getResource(app:a1)",
        "cleanup()",
      ].sort(),
    );
    await readStore(file, (s) => {
      const ids = [...s.iterateResources(result.syncId)].map((r) => `${r.resource.id!.resourceType}:${r.resource.id!.resource}`).sort();
      expect(ids).toEqual(["app:a1", "project:t1-p1", "project:t1-p2", "team:t1"]);
      expect([...s.iterateGrants(result.syncId)].map((g) => g.grant.id).sort()).toEqual(["app:a1:access:team:t1", "team:t1:member:user:u1", "team:t1:member:user:u2"]);
      // The entitlement resource's own entitlements are not listed: only what the target's grants name.
      expect([...s.iterateEntitlements(result.syncId)].map((e) => e.entitlement.id)).toEqual(["team:t1:member"]);
      expect(s.resourceTypes(result.syncId).map((t) => t.id).sort()).toEqual(["app", "legacy", "project", "scoped", "team", "user"]);
    });
  });

  it("gives identical rows in-process and over gRPC (GetResource and the follow-ups cross the wire)", async () => {
    const served = await serveConnector(service(), { address: "127.0.0.1:0", credentials: grpc.ServerCredentials.createInsecure(), logger });
    const client = connectorClient(`127.0.0.1:${served.port}`, grpc.credentials.createInsecure());
    try {
      const targets = { targetedResources: [{ resourceType: "team", resource: "t1" }, { resourceType: "team", resource: "gone" }] };
      const a = newFile();
      const b = newFile();
      await sync(a, targets);
      const overGrpc = await sync(b, targets, client);
      expect(overGrpc.warnings.some((w) => w.includes("bid:r:team/gone"))).toBe(true);
      const rowsA = await c1zRows(a);
      expect(rowsA.rows.length).toBeGreaterThan(5);
      expect((await c1zRows(b)).rows).toEqual(rowsA.rows);
    } finally {
      client.close();
      await served.close();
    }
  });

  it("an entitlement's resource of a type outside the type filter is not fetched", async () => {
    const { rpc, calls } = recorded(service());
    await sync(newFile(), { targetedResources: [{ resourceType: "team", resource: "t1" }], resourceTypeIds: ["team", "user", "project"] }, rpc);
    expect(calls).toContain("listGrants(team:t1)");
    expect(calls.filter((c) => c.startsWith("getResource"))).toEqual(["getResource(team:t1)"]);
  });

  it("a type with TypeScopedGrants gets no ListGrants call for its targeted resource", async () => {
    const { rpc, calls } = recorded(service());
    await sync(newFile(), { targetedResources: [{ resourceType: "scoped", resource: "s1" }] }, rpc);
    expect(calls.filter((c) => c.includes("scoped"))).toEqual(["getResource(scoped:s1)", "listEntitlements(scoped:s1)"]);
  });

  it("a target that is NOT_FOUND or whose type cannot Get is a warning; the sync finishes", async () => {
    const file = newFile();
    const result = await sync(file, {
      targetedResources: [
        { resourceType: "team", resource: "gone" },
        { resourceType: "legacy", resource: "x" },
        { resourceType: "team", resource: "t2" },
      ],
    });
    expect(result.warnings.some((w) => w.includes("bid:r:team/gone") && w.includes("not found"))).toBe(true);
    expect(result.warnings.some((w) => w.includes("bid:r:legacy/x") && w.includes("cannot fetch"))).toBe(true);
    await readStore(file, (s) => expect(s.counts(result.syncId).resourcesByType).toEqual({ team: 1, project: 2 }));
  });

  it("skip-entitlements-and-grants with targets: still partial, the resource and its children only", async () => {
    const file = newFile();
    const result = await sync(file, { targetedResources: [{ resourceType: "team", resource: "t1" }], skipEntitlementsAndGrants: true });
    expect(result.syncType).toBe("partial");
    await readStore(file, (s) => expect(s.counts(result.syncId)).toMatchObject({ resources: 3, entitlements: 0, grants: 0 }));
  });
});

describe("which run a sync starts, resumes or hangs off", () => {
  const killAfterFirstPage = () => {
    let pages = 0;
    return () => {
      if (++pages === 1) throw new Error("killed");
    };
  };

  it("a targeted sync never resumes, and an unfinished full run waits for the next full sync, which resumes it", async () => {
    const file = newFile();
    const first = await sync(file);
    await expect(sync(file, { afterPage: killAfterFirstPage(), checkpointIntervalMs: 0 })).rejects.toThrow("killed");
    const unfinished = await (async () => {
      const s = await SyncStore.openForSync(file);
      try {
        return s.syncRuns().find((r) => r.endedAt === null)!;
      } finally {
        s.close();
      }
    })();
    expect(unfinished.syncType).toBe("full");

    const targeted = await sync(file, { targetedResources: [{ resourceType: "team", resource: "t1" }] });
    expect(targeted.resumed).toBe(false);
    expect(targeted.syncId).not.toBe(unfinished.syncId);
    expect(targeted.parentSyncId).toBe(first.syncId); // the newest FINISHED full run

    const resumed = await sync(file);
    expect(resumed.resumed).toBe(true);
    expect(resumed.syncId).toBe(unfinished.syncId);
    const again = await sync(file, { targetedResources: [{ resourceType: "team", resource: "t2" }] });
    expect(again.parentSyncId).toBe(resumed.syncId);
  });

  it("a resources-only sync resumes only a resources_only run; a full sync does not resume it", async () => {
    const file = newFile();
    await expect(sync(file, { skipEntitlementsAndGrants: true, afterPage: killAfterFirstPage(), checkpointIntervalMs: 0 })).rejects.toThrow("killed");
    const full = await sync(file);
    expect(full.resumed).toBe(false);
    expect(full.syncType).toBe("full");
    const only = await sync(file, { skipEntitlementsAndGrants: true });
    expect(only.resumed).toBe(true);
    expect(only.syncType).toBe("resources_only");
    await readStore(file, (s) => expect(s.getSyncRun(only.syncId)!.parentSyncId).toBe(""));
  });

  it("an unfinished partial run (a killed targeted sync) is dropped with its rows when the next sync starts", async () => {
    const file = newFile();
    await sync(file);
    await expect(sync(file, { targetedResources: [{ resourceType: "team", resource: "t1" }], afterPage: killAfterFirstPage(), checkpointIntervalMs: 0 })).rejects.toThrow("killed");
    const next = await sync(file, { targetedResources: [{ resourceType: "team", resource: "t2" }] });
    await readStore(file, (s) => {
      const runs = s.syncRuns();
      expect(runs.filter((r) => r.endedAt === null)).toEqual([]);
      expect(runs.map((r) => r.syncType)).toEqual(["full", "partial"]);
      expect(runs[1]!.syncId).toBe(next.syncId);
    });
  });

  it("--skip-full-sync: Validate, then an empty full run; nothing else is asked of the connector", async () => {
    const file = newFile();
    const { rpc, calls } = recorded(service());
    const result = await sync(file, { skipSync: true, targetedResources: [{ resourceType: "team", resource: "t1" }] }, rpc);
    expect(calls).toEqual(["validate()"]);
    expect(result.syncType).toBe("full");
    await readStore(file, (s) => {
      const run = s.getSyncRun(result.syncId)!;
      expect(run.syncType).toBe("full");
      expect(run.endedAt).not.toBeNull();
      expect(s.counts(result.syncId)).toMatchObject({ resourceTypes: 0, resources: 0, entitlements: 0, grants: 0 });
    });
  });

  it("skip-grants alone keeps a full run with entitlements and no grants", async () => {
    const file = newFile();
    const result = await sync(file, { skipGrants: true });
    expect(result.syncType).toBe("full");
    await readStore(file, (s) => {
      const c = s.counts(result.syncId);
      expect(c.entitlements).toBeGreaterThan(0);
      expect(c.grants).toBe(0);
    });
  });
});

describe("supports_diff", () => {
  it("is set on full runs that synced entitlements (also with skip-grants or skip-expand-grants), not on partial or resources_only runs", async () => {
    const cases: Array<[Partial<SyncOptions>, boolean]> = [
      [{}, true],
      [{ skipGrants: true }, true],
      [{ skipExpandGrants: true }, true],
      [{ skipEntitlementsAndGrants: true }, false],
      [{ targetedResources: [{ resourceType: "team", resource: "t1" }] }, false],
      // Every target filtered out: the partial run takes the untargeted path, expansion step included.
      [{ targetedResources: [{ resourceType: "team", resource: "t1" }], resourceTypeIds: ["app"] }, true],
    ];
    for (const [options, expected] of cases) {
      const file = newFile();
      const result = await sync(file, options);
      await readStore(file, (s) => expect(s.getSyncRun(result.syncId)!.supportsDiff, JSON.stringify(options)).toBe(expected));
    }
  });
});

describe("--sync-resources and the mode rules", () => {
  it("parses bid:r:<type>/<id> and the parented form, with escapes; round-trips", () => {
    expect(parseResourceBid("bid:r:team/abc-123")).toEqual({ resourceType: "team", resource: "abc-123" });
    expect(parseResourceBid("bid:r:org/o1/project/p\\/1\\:x\\\\y")).toEqual({
      resourceType: "project",
      resource: "p/1:x\\y",
      parent: { resourceType: "org", resource: "o1" },
    });
    for (const t of [{ resourceType: "team", resource: "a/b:c" }, { resourceType: "p", resource: "q", parent: { resourceType: "o", resource: "x\\y" } }]) {
      expect(parseResourceBid(formatResourceBid(t))).toEqual(t);
    }
  });

  it.each([
    ["team:abc", /must start with "bid:r:"/],
    ["bid:r:team", /2 or 4/],
    ["bid:r:team/", /2 or 4/],
    ["bid:r:a/b/c", /2 or 4/],
    ["bid:r:team/a:b", /must be escaped/],
    ["bid:r:team/a\\x", /must be followed by/],
    ["bid:e:team/abc/member", /must start with "bid:r:"/],
  ])("refuses %s", (text, message) => {
    expect(() => parseResourceBid(text)).toThrow(message);
  });

  it("one-shot: a bad id and --skip-grants without targets are config errors; service mode refuses --skip-grants and ignores the targets", () => {
    const base = { syncResources: [] as string[], syncResourceTypes: [] as string[], skipFullSync: false, skipEntitlementsAndGrants: false, skipGrants: false };
    expect(() => oneShotSyncScope({ ...base, syncResources: ["team/abc"] })).toThrow(/--sync-resources \/ BATON_SYNC_RESOURCES: "team\/abc" is not a Baton resource id/);
    expect(() => oneShotSyncScope({ ...base, skipGrants: true })).toThrow(/skip-grants can only be set within a targeted sync/);
    expect(oneShotSyncScope({ ...base, syncResources: ["bid:r:team/t1"], skipGrants: true, skipFullSync: true })).toEqual({
      targetedResources: [{ resourceType: "team", resource: "t1" }],
      skipGrants: true,
    });
    expect(() => serviceSyncScope({ ...base, syncResources: ["bid:r:team/t1"], skipGrants: true })).toThrow(/skip-grants can only be set within a targeted sync/);
    expect(serviceSyncScope({ ...base, syncResources: ["bid:r:team/t1"], syncResourceTypes: ["team"], skipFullSync: true })).toEqual({
      skipFullSync: true,
      resourceTypeIds: ["team"],
    });
  });
});
