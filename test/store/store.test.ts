/** SyncStore: writes, reads, sync runs, resume after a kill, pruning, saving safely. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { create, equals, toBinary } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GrantExpandableSchema } from "../../src/gen/c1/connector/v2/annotation_grant_pb.js";
import { EntitlementSchema } from "../../src/gen/c1/connector/v2/entitlement_pb.js";
import { GrantSchema } from "../../src/gen/c1/connector/v2/grant_pb.js";
import { ResourceSchema, ResourceTypeSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { C1zFormatError, C1zWriteError, writeC1zFromFile } from "../../src/store/format.ts";
import { isKsuid } from "../../src/store/ksuid.ts";
import { SyncStore, workingDatabasePath } from "../../src/store/store.ts";
import { formatSqlTime } from "../../src/store/time.ts";
import { CAN_LIMIT_FILE_SIZE, grant, membership, sampleObjects, tempDir, user } from "./fixtures.ts";

let dir = "";
let cleanup = () => {};
const open: SyncStore[] = [];
beforeEach(() => ({ dir, cleanup } = tempDir("c1z-store-")));
afterEach(() => {
  for (const s of open.splice(0)) s.close();
  cleanup();
});
const track = (s: SyncStore): SyncStore => (open.push(s), s);
const forSync = async (file: string, opts?: Parameters<typeof SyncStore.openForSync>[1]) => track(await SyncStore.openForSync(file, opts));
const readOnly = async (file: string, opts?: Parameters<typeof SyncStore.openReadOnly>[1]) => track(await SyncStore.openReadOnly(file, opts));

/** Writes the sample objects as one finished sync and returns its id. */
function writeSample(store: SyncStore, stats: Record<string, unknown> = { grants: 4 }): string {
  const s = store.startSync();
  const o = sampleObjects();
  store.putResourceTypes(s, o.resourceTypes);
  store.putResources(s, o.resources);
  store.putEntitlements(s, o.entitlements);
  store.putGrants(s, o.grants);
  store.endSync(s, stats);
  return s;
}

describe("round trip", () => {
  it("writes every kind of object, saves, and reads them back equal", async () => {
    const file = join(dir, "sync.c1z");
    const store = await forSync(file);
    const syncId = writeSample(store);
    await store.saveTo(file);
    expect(store.isOpen).toBe(false);
    expect(readdirSync(dir)).toEqual(["sync.c1z"]); // working db, -wal, -shm, snapshot and .tmp all gone

    const o = sampleObjects();
    const r = await readOnly(file);
    expect(r.latestFinishedSync()?.syncId).toBe(syncId);
    expect(r.resourceTypes(syncId).map((t) => t.id)).toEqual(["user", "team"]);
    expect(equals(ResourceTypeSchema, r.getResourceType(syncId, "team")!, o.resourceTypes[1])).toBe(true);

    const resources = [...r.iterateResources(syncId)];
    expect(resources.map((x) => x.resource.id?.resource)).toEqual(["alice", "bob", "carol", "eng", "web"]);
    resources.forEach((x, i) => expect(equals(ResourceSchema, x.resource, o.resources[i])).toBe(true));
    expect(equals(ResourceSchema, r.getResource(syncId, "team", "web")!, o.web)).toBe(true);
    expect(r.getResource(syncId, "team", "nope")).toBeUndefined();

    const ents = [...r.iterateEntitlements(syncId)];
    ents.forEach((x, i) => expect(equals(EntitlementSchema, x.entitlement, o.entitlements[i])).toBe(true));
    expect(r.getEntitlement(syncId, "team:web:member")?.slug).toBe("member");

    const grants = [...r.iterateGrants(syncId)];
    expect(grants.map((g) => g.grant.id)).toEqual(o.grants.map((g) => g.id));
    expect(equals(GrantSchema, grants[0].grant, o.grants[0])).toBe(true);
    expect(grants[0].expansion).toBeUndefined();
    expect(grants[0].needsExpansion).toBe(false);

    expect(r.counts(syncId)).toEqual({
      resourceTypes: 2,
      resources: 5,
      entitlements: 2,
      grants: 4,
      resourcesByType: { team: 2, user: 3 },
      entitlementsByType: { team: 2 },
      grantsByType: { team: 4 },
    });
    const run = r.syncRuns()[0];
    expect(run).toMatchObject({ syncId, syncType: "full", syncToken: "", parentSyncId: "", stats: { grants: 4 } });
    expect(run.endedAt! >= run.startedAt).toBe(true);
    expect(run.startedAt).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}$/);
  });

  it("a read-only store deletes its private copy on close and never writes the c1z", async () => {
    const file = join(dir, "sync.c1z");
    const w = await forSync(file);
    writeSample(w);
    await w.saveTo(file);
    const before = readFileSync(file);
    const r = await readOnly(file);
    const copy = r.databasePath;
    expect(existsSync(copy)).toBe(true);
    expect(() => r.putResources(r.latestFinishedSync()!.syncId, [user("mallory")])).toThrow(/readonly|read-only|query_only/i);
    r.close();
    expect(existsSync(copy)).toBe(false);
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(() => r.counts("x")).toThrow(/closed/);
  });

  it("refuses use while saving; a read-only store can be saved elsewhere as a compact copy", async () => {
    const file = join(dir, "sync.c1z");
    const w = await forSync(file);
    const syncId = writeSample(w);
    const saving = w.saveTo(file);
    expect(() => w.putResources(syncId, [user("late")])).toThrow(/being saved/);
    await saving;
    const r = await readOnly(file);
    const copy = join(dir, "copy.c1z");
    await r.saveTo(copy);
    expect(r.isOpen).toBe(false);
    const c = await readOnly(copy);
    expect(c.counts(syncId)).toEqual((await readOnly(file)).counts(syncId));
  });

  it("keeps earlier syncs when a new sync opens an existing file", async () => {
    const file = join(dir, "sync.c1z");
    const a = await forSync(file);
    const first = writeSample(a);
    await a.saveTo(file);
    const b = await forSync(file);
    const second = writeSample(b);
    await b.saveTo(file);
    const r = await readOnly(file);
    expect(r.syncRuns().map((x) => x.syncId)).toEqual([first, second]);
    expect(r.latestFinishedSync()?.syncId).toBe(second);
    expect(r.counts(first).grants).toBe(4);
  });
});

describe("writes", () => {
  it("moves GrantExpandable into `expansion`, stores deterministic bytes, leaves the caller's grant alone", async () => {
    const store = await forSync(join(dir, "s.c1z"));
    const s = store.startSync();
    const o = sampleObjects();
    const expandable = o.grants[3];
    store.putGrants(s, o.grants);
    expect(expandable.annotations).toHaveLength(1); // not mutated

    const row = store.getGrant(s, expandable.id)!;
    expect(row.grant.annotations).toHaveLength(0);
    expect(row.needsExpansion).toBe(true);
    expect(row.expansion?.entitlementIds).toEqual(["team:web:member"]);
    expect([...store.grantsNeedingExpansion(s)].map((g) => g.grant.id)).toEqual([expandable.id]);

    const db = new DatabaseSync(store.databasePath, { readOnly: true });
    const raw = db.prepare("select data, expansion, needs_expansion from v1_grants where external_id = ?").get(expandable.id)!;
    db.close();
    const stripped = create(GrantSchema, { ...expandable, annotations: [] });
    expect(Buffer.from(raw.data as Uint8Array).equals(Buffer.from(toBinary(GrantSchema, stripped)))).toBe(true);
    expect(Buffer.from(raw.expansion as Uint8Array)).toEqual(
      Buffer.from(toBinary(GrantExpandableSchema, create(GrantExpandableSchema, { entitlementIds: ["team:web:member"] }))),
    );
    expect(raw.needs_expansion).toBe(1);

    store.setGrantExpansionDone(s, [expandable.id]);
    expect([...store.grantsNeedingExpansion(s)]).toEqual([]);
    expect(store.getGrant(s, expandable.id)?.expansion?.entitlementIds).toEqual(["team:web:member"]);
  });

  it("an expandable annotation naming no entitlement is kept aside but needs no expansion", async () => {
    const store = await forSync(join(dir, "s.c1z"));
    const s = store.startSync();
    const o = sampleObjects();
    const g = grant(o.entitlements[0], o.users[0]);
    g.annotations.push(...grant(o.entitlements[0], o.users[0], ["x"]).annotations);
    g.annotations[0].value = toBinary(GrantExpandableSchema, create(GrantExpandableSchema, { shallow: true }));
    store.putGrants(s, [g]);
    const row = store.getGrant(s, g.id)!;
    expect(row.needsExpansion).toBe(false);
    expect(row.expansion?.shallow).toBe(true);
  });

  it("upserts on (external_id, sync_id): repeating a page after resume does not duplicate", async () => {
    const store = await forSync(join(dir, "s.c1z"));
    const s = store.startSync();
    const o = sampleObjects();
    for (let i = 0; i < 2; i++) {
      store.putResourceTypes(s, o.resourceTypes);
      store.putResources(s, o.resources);
      store.putEntitlements(s, o.entitlements);
      store.putGrants(s, o.grants);
    }
    const renamed = create(ResourceSchema, { ...o.users[0], displayName: "Alice Renamed" });
    store.putResources(s, [renamed]);
    expect(store.counts(s)).toMatchObject({ resourceTypes: 2, resources: 5, entitlements: 2, grants: 4 });
    expect(store.getResource(s, "user", "alice")?.displayName).toBe("Alice Renamed");
    // the same ids in another sync are separate rows
    const s2 = store.startSync();
    store.putResources(s2, o.resources);
    expect(store.counts(s2).resources).toBe(5);
    expect(store.counts(s).resources).toBe(5);
  });

  it("rejects objects without the ids their columns need, writing nothing of the batch", async () => {
    const store = await forSync(join(dir, "s.c1z"));
    const s = store.startSync();
    const noId = create(ResourceSchema, { displayName: "ghost" });
    expect(() => store.putResources(s, [user("a"), noId])).toThrow(/resource "ghost": id.resource_type/);
    expect(store.counts(s).resources).toBe(0);
    expect(() => store.putGrants(s, [create(GrantSchema, { id: "g" })])).toThrow(/grant g: entitlement.resource/);
    expect(() => store.putEntitlements(s, [create(EntitlementSchema, { id: "e" })])).toThrow(/entitlement e/);
  });

  it("transaction(): nested calls join, a throw rolls everything back, async callbacks are refused", async () => {
    const store = await forSync(join(dir, "s.c1z"));
    const s = store.startSync();
    expect(() =>
      store.transaction(() => {
        store.putResources(s, [user("a")]);
        store.setSyncToken(s, "after-a");
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(store.counts(s).resources).toBe(0);
    expect(store.getSyncRun(s)?.syncToken).toBe("");
    store.transaction(() => {
      store.putResources(s, [user("a"), user("b")]);
      store.setSyncToken(s, "after-b");
    });
    expect(store.counts(s).resources).toBe(2);
    expect(() => store.transaction(() => Promise.resolve(1))).toThrow(/must be synchronous/);
    expect(store.counts(s).resources).toBe(2);
  });

  it("session values and assets", async () => {
    const store = await forSync(join(dir, "s.c1z"));
    const s = store.startSync();
    store.putSessionValue(s, "cursor", new TextEncoder().encode("v1"));
    store.putSessionValue(s, "cursor", new TextEncoder().encode("v2"));
    expect(new TextDecoder().decode(store.getSessionValue(s, "cursor"))).toBe("v2");
    store.deleteSessionValue(s, "cursor");
    expect(store.getSessionValue(s, "cursor")).toBeUndefined();
    store.putAsset(s, "icon-1", "image/png", Uint8Array.of(1, 2, 3));
    expect(store.getAsset(s, "icon-1")).toEqual({ contentType: "image/png", data: Uint8Array.of(1, 2, 3) });
  });
});

describe("reads", () => {
  it("filters and pages by row id", async () => {
    const store = await forSync(join(dir, "s.c1z"));
    const s = writeSample(store);
    const ids = (it: Iterable<{ rowId: number }>) => [...it].map((x) => x.rowId);
    expect([...store.iterateResources(s, { resourceTypeId: "team" })].map((x) => x.resource.id?.resource)).toEqual(["eng", "web"]);
    expect([...store.iterateResources(s, { parentResourceTypeId: "team", parentResourceId: "eng" })].map((x) => x.resource.id?.resource)).toEqual(["web"]);
    const all = ids(store.iterateResources(s));
    expect(ids(store.iterateResources(s, { afterRowId: all[1], limit: 2 }))).toEqual(all.slice(2, 4));

    expect([...store.iterateEntitlements(s, { resourceTypeId: "team", resourceId: "web" })].map((x) => x.entitlement.id)).toEqual(["team:web:member"]);
    const g = (f: Parameters<SyncStore["iterateGrants"]>[1]) => [...store.iterateGrants(s, f)].map((x) => x.grant.id);
    expect(g({ entitlementId: "team:eng:member" })).toEqual(["team:eng:member:user:alice", "team:eng:member:user:bob", "team:eng:member:team:web"]);
    expect(g({ principalResourceTypeId: "user", principalResourceId: "carol" })).toEqual(["team:web:member:user:carol"]);
    expect(g({ resourceTypeId: "team", resourceId: "web" })).toEqual(["team:web:member:user:carol"]);
    expect(g({ principalResourceTypeId: "team" })).toEqual(["team:eng:member:team:web"]);
    expect(g({ entitlementId: "team:eng:member", afterRowId: [...store.iterateGrants(s)][0].rowId })).toHaveLength(2);
    expect(store.getGrant(s, "team:web:member:user:carol")?.grant.principal?.displayName).toBe("User carol");
    // reads are per sync
    expect([...store.iterateGrants("another-sync")]).toEqual([]);
  });

  it("streams: nested scans and writes during a scan work", async () => {
    const store = await forSync(join(dir, "s.c1z"));
    const s = store.startSync();
    const ent = membership(create(ResourceSchema, { id: { resourceType: "team", resource: "big" } }));
    store.putGrants(s, Array.from({ length: 500 }, (_, i) => grant(ent, user(`u${i}`))));
    let pairs = 0;
    for (const a of store.iterateGrants(s, { limit: 3 })) {
      for (const _b of store.iterateGrants(s, { afterRowId: a.rowId, limit: 2 })) pairs++;
      store.putSessionValue(s, `seen-${a.rowId}`, Uint8Array.of(1));
    }
    expect(pairs).toBe(6);
    let n = 0;
    for (const _ of store.iterateGrants(s)) n++;
    expect(n).toBe(500);
  });
});

describe("sync runs", () => {
  it("startSync makes a KSUID run; setSyncToken checkpoints; unknown ids and types are errors", async () => {
    const store = await forSync(join(dir, "s.c1z"));
    const s = store.startSync("partial", "parent-id");
    expect(isKsuid(s)).toBe(true);
    expect(store.unfinishedSync()).toEqual({ syncId: s, syncToken: "", syncType: "partial" });
    store.setSyncToken(s, '{"state":1}');
    expect(store.unfinishedSync()?.syncToken).toBe('{"state":1}');
    expect(store.getSyncRun(s)?.parentSyncId).toBe("parent-id");
    expect(() => store.startSync("weekly")).toThrow(/unknown sync type "weekly"/);
    expect(() => store.setSyncToken("nope", "x")).toThrow(/no sync run nope/);
    expect(() => store.endSync("nope", {})).toThrow(/no sync run nope/);
    store.endSync(s, { ok: true });
    expect(store.unfinishedSync()).toBeUndefined();
    expect(store.latestFinishedSync("partial")?.syncId).toBe(s);
    expect(store.latestFinishedSync("full")).toBeUndefined();
  });

  it("an unfinished run older than the age limit is not resumed", async () => {
    const store = await forSync(join(dir, "s.c1z"));
    const s = store.startSync();
    const db = new DatabaseSync(store.databasePath);
    db.prepare("update v1_sync_runs set started_at = ? where sync_id = ?").run(formatSqlTime(new Date(Date.now() - 8 * 86_400_000)), s);
    db.close();
    expect(store.unfinishedSync()).toBeUndefined();
    expect(store.unfinishedSync(10)?.syncId).toBe(s);
  });

  it("ending a run deletes runs older than the newest 2 finished ones, with their rows in every table", async () => {
    const store = await forSync(join(dir, "s.c1z"));
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const s = store.startSync();
      store.putResourceTypes(s, sampleObjects().resourceTypes);
      store.putResources(s, [user(`run${i}`)]);
      store.putEntitlements(s, sampleObjects().entitlements);
      store.putGrants(s, sampleObjects().grants);
      store.putAsset(s, "a", "text/plain", Uint8Array.of(i));
      store.putSessionValue(s, "k", Uint8Array.of(i));
      store.endSync(s, { i });
      ids.push(s);
    }
    expect(store.syncRuns().map((r) => r.syncId)).toEqual(ids.slice(2));
    const db = new DatabaseSync(store.databasePath, { readOnly: true });
    for (const table of ["v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants", "v1_assets", "v1_connector_sessions"]) {
      const syncIds = db.prepare(`select distinct sync_id from ${table} order by sync_id`).all().map((r) => r.sync_id);
      expect(syncIds, table).toEqual([...ids.slice(2)].sort());
    }
    db.close();
  });

  it("an unfinished run newer than the kept ones survives pruning", async () => {
    const store = await forSync(join(dir, "s.c1z"));
    const a = store.startSync();
    store.endSync(a, {});
    const b = store.startSync();
    store.endSync(b, {});
    const pending = store.startSync();
    const c = store.startSync();
    store.endSync(c, {});
    expect(store.syncRuns().map((r) => r.syncId)).toEqual([b, pending, c]);
  });
});

describe("resume", () => {
  it("close without save keeps the working database; reopening finds the run and its rows", async () => {
    const file = join(dir, "sync.c1z");
    const a = await forSync(file);
    const s = a.startSync();
    a.putResources(s, sampleObjects().resources);
    a.setSyncToken(s, "page-2");
    a.close();
    expect(existsSync(file)).toBe(false);
    expect(existsSync(workingDatabasePath(file))).toBe(true);

    const b = await forSync(file);
    expect(b.unfinishedSync()).toEqual({ syncId: s, syncToken: "page-2", syncType: "full" });
    expect(b.counts(s).resources).toBe(5);
    b.putResources(s, sampleObjects().resources); // the page repeated after resume
    expect(b.counts(s).resources).toBe(5);
  });

  it("after SIGKILL mid-sync, committed rows and the sync token survive", async () => {
    const file = join(dir, "sync.c1z");
    const child = join(import.meta.dirname, "children", "kill-mid-sync.ts");
    const r = spawnSync(process.execPath, [child, file], { encoding: "utf8" });
    expect(r.signal, r.stderr).toBe("SIGKILL");
    const syncId = r.stdout.trim();
    expect(isKsuid(syncId)).toBe(true);
    expect(existsSync(`${workingDatabasePath(file)}-wal`)).toBe(true); // not checkpointed: recovery is SQLite's

    const store = await forSync(file);
    expect(store.unfinishedSync()).toEqual({ syncId, syncToken: '{"step":"entitlements","page":""}', syncType: "full" });
    expect(store.counts(syncId)).toMatchObject({ resourceTypes: 2, resources: 5, entitlements: 0 });
    const o = sampleObjects();
    store.putEntitlements(syncId, o.entitlements);
    store.putGrants(syncId, o.grants);
    store.endSync(syncId, {});
    await store.saveTo(file);
    const reader = await readOnly(file);
    expect(reader.counts(syncId)).toMatchObject({ resources: 5, entitlements: 2, grants: 4 });
  });

  it("uses workDir when given, named after the file", async () => {
    const file = join(dir, "out", "sync.c1z");
    const work = join(dir, "work");
    const store = await forSync(file, { workDir: work });
    expect(store.databasePath).toBe(join(work, "sync.c1z.work", "sync.sqlite"));
    writeSample(store);
    mkdirSync(join(dir, "out"));
    await store.saveTo(file);
    expect(readdirSync(work)).toEqual([]);
    expect(existsSync(file)).toBe(true);
  });
});

describe("failures", () => {
  it("a failed save names the path, leaves the previous file and the store intact; a retry works", async () => {
    const file = join(dir, "sync.c1z");
    const a = await forSync(file);
    const first = writeSample(a);
    await a.saveTo(file);
    const previous = readFileSync(file);

    const b = await forSync(file);
    const second = writeSample(b);
    const bad = join(dir, "no-such-dir", "sync.c1z");
    const err = await b.saveTo(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(C1zWriteError);
    expect((err as Error).message).toContain(bad);
    expect((err as Error).message).toMatch(/ENOENT/);
    expect(b.isOpen).toBe(true);
    expect(readFileSync(file).equals(previous)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp") || f.endsWith(".save"))).toEqual([]);

    await b.saveTo(file);
    const r = await readOnly(file);
    expect(r.syncRuns().map((x) => x.syncId)).toEqual([first, second]);
  });

  it.skipIf(!CAN_LIMIT_FILE_SIZE)(
    "disk full during saveTo (file-size limit in a child): clear error, previous file untouched, nothing lost",
    async () => {
      const file = join(dir, "sync.c1z");
      const work = join(dir, "work");
      const a = await forSync(file, { workDir: work });
      const first = writeSample(a);
      await a.saveTo(file);
      const previous = readFileSync(file);

      // A second sync with ~1 MiB of incompressible data.
      const b = await forSync(file, { workDir: work });
      const s = b.startSync();
      for (let i = 0; i < 32; i++) b.putAsset(s, `blob-${i}`, "application/octet-stream", crypto.getRandomValues(new Uint8Array(32768)));
      b.endSync(s, {});
      b.close();
      // Half the database size: the child can open and read the working database but write neither a copy of it
      // nor the c1z (the blobs do not compress).
      const limitKiB = Math.floor(statSync(workingDatabasePath(file, work)).size / 2048);

      const child = join(import.meta.dirname, "children", "write-c1z.ts");
      const r = spawnSync("bash", ["-c", `ulimit -f ${limitKiB} && exec "$0" "$@"`, process.execPath, child, "store", file, work], {
        encoding: "utf8",
      });
      expect(r.status, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout.trim());
      expect(result).toMatchObject({ ok: false, name: "C1zWriteError", stillOpen: true });
      expect(result.message).toContain(`cannot write c1z file ${file}`);
      // Where it fails depends on the save's path (a compacted copy, or the c1z itself for an in-place save).
      expect(result.message).toMatch(/disk I\/O error \(is the disk full, or a file-size limit reached\?\)|disk is full|EFBIG: file too large/);
      expect(readFileSync(file).equals(previous)).toBe(true);
      expect(readdirSync(dir).sort()).toEqual(["sync.c1z", "work"]);
      expect(readdirSync(work)).toEqual(["sync.c1z.work"]);
      // no snapshot or temp c1z left: the working database, the lock and its holder's note only
      expect(readdirSync(join(work, "sync.c1z.work")).filter((f) => !/^(sync\.sqlite(-wal|-shm)?|lock|owner)$/.test(f))).toEqual([]);

      // Nothing lost: the working database still holds the second sync and a save without the limit works.
      const c = await forSync(file, { workDir: work });
      expect(c.latestFinishedSync()?.syncId).toBe(s);
      await c.saveTo(file);
      const reader = await readOnly(file);
      expect(reader.syncRuns().map((x) => x.syncId)).toEqual([first, s]);
      expect(reader.getAsset(s, "blob-31")?.data).toHaveLength(32768);
    },
  );

  it("openForSync on a hostile previous file: clear error, no working database left behind", async () => {
    const file = join(dir, "sync.c1z");
    writeFileSync(file, "not a c1z");
    const err = await SyncStore.openForSync(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(C1zFormatError);
    expect((err as Error).message).toMatch(/not a c1z file: bad header/);
    expect(readdirSync(dir)).toEqual(["sync.c1z"]);
  });

  it("openReadOnly past the decoded-size cap: clear error, temp copy removed", async () => {
    const db = new DatabaseSync(join(dir, "big.sqlite"));
    db.exec("create table t (b blob)");
    db.prepare("insert into t values (zeroblob(?))").run(1_000_000);
    db.close();
    const file = join(dir, "bomb.c1z");
    await writeC1zFromFile(join(dir, "big.sqlite"), file);
    const tmp = tempDir("c1z-tmpdir-");
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp.dir;
    try {
      const err = await SyncStore.openReadOnly(file, { maxDecodedBytes: 64 * 1024 }).catch((e: unknown) => e);
      expect((err as C1zFormatError).code).toBe("TOO_LARGE");
      expect(readdirSync(tmp.dir)).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      tmp.cleanup();
    }
  });

  it("openReadOnly on a missing file says so", async () => {
    await expect(SyncStore.openReadOnly(join(dir, "nope.c1z"))).rejects.toThrow(/c1z file not found: .*nope\.c1z/);
  });

  it("a working database that is not SQLite is reported with a way out", async () => {
    const file = join(dir, "sync.c1z");
    mkdirSync(join(dir, "sync.c1z.work"), { mode: 0o700 });
    writeFileSync(workingDatabasePath(file), "garbage ".repeat(1000));
    await expect(SyncStore.openForSync(file)).rejects.toThrow(/cannot open working database .*sync\.c1z\.work\/sync\.sqlite: file is not a database/);
  });
});
