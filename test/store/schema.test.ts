/**
 * The schema must be exactly PROTOCOL.md §2: Baton's Go code opens our files with `create … if not exists`,
 * so a different name or column set would silently diverge. Expectations are written out here from the
 * protocol text, independently of src/store/schema.ts.
 */
import { DatabaseSync } from "node:sqlite";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { applySchema } from "../../src/store/schema.ts";
import { KEEP_FINISHED_SYNCS, SyncStore } from "../../src/store/store.ts";
import { decompressC1zToFile } from "../../src/store/format.ts";
import { sampleObjects, tempDir } from "./fixtures.ts";

// [name, declared type, not null, default, primary key]
type Col = [string, string, boolean, string | null, boolean];
const idCol: Col = ["id", "INTEGER", false, null, true];
const text = (n: string): Col => [n, "TEXT", true, null, false];
const blob = (n: string): Col => [n, "BLOB", true, null, false];
const dt = (n: string): Col => [n, "DATETIME", true, null, false];

const EXPECTED_TABLES: Record<string, Col[]> = {
  v1_resource_types: [idCol, text("external_id"), blob("data"), text("sync_id"), dt("discovered_at")],
  v1_resources: [
    idCol,
    text("resource_type_id"),
    text("external_id"),
    ["parent_resource_type_id", "TEXT", false, null, false],
    ["parent_resource_id", "TEXT", false, null, false],
    blob("data"),
    text("sync_id"),
    dt("discovered_at"),
  ],
  v1_entitlements: [idCol, text("resource_type_id"), text("resource_id"), text("external_id"), blob("data"), text("sync_id"), dt("discovered_at")],
  v1_grants: [
    idCol,
    text("resource_type_id"),
    text("resource_id"),
    text("entitlement_id"),
    text("principal_resource_type_id"),
    text("principal_resource_id"),
    text("external_id"),
    ["expansion", "BLOB", false, null, false],
    ["needs_expansion", "INTEGER", true, "0", false],
    blob("data"),
    text("sync_id"),
    dt("discovered_at"),
  ],
  v1_assets: [idCol, text("external_id"), text("content_type"), blob("data"), text("sync_id"), dt("discovered_at")],
  v1_connector_sessions: [idCol, text("sync_id"), text("key"), blob("value")],
  v1_sync_runs: [
    idCol,
    text("sync_id"),
    dt("started_at"),
    ["ended_at", "DATETIME", false, null, false],
    text("sync_token"),
    ["sync_type", "TEXT", true, "'full'", false],
    ["parent_sync_id", "TEXT", true, "''", false],
    ["linked_sync_id", "TEXT", true, "''", false],
    ["supports_diff", "INTEGER", true, "0", false],
    ["grants_backfilled", "INTEGER", true, "0", false],
    ["stats", "TEXT", false, null, false],
    ["ingest_invariant_generation", "TEXT", true, "''", false],
    ["ingest_invariant_coverage", "TEXT", true, "''", false],
    ["ingest_invariant_mode", "TEXT", true, "''", false],
  ],
};

// name -> [table, columns, unique, partial where]
const EXPECTED_INDEXES: Record<string, [string, string[], boolean, string | null]> = {
  idx_resource_types_external_sync_v1: ["v1_resource_types", ["external_id", "sync_id"], true, null],
  idx_resources_resource_type_id_v1: ["v1_resources", ["resource_type_id"], false, null],
  // the names Go swaps: kept swapped
  idx_resources_external_sync_v1: ["v1_resources", ["parent_resource_type_id", "parent_resource_id"], false, null],
  idx_resources_parent_resource_id_v1: ["v1_resources", ["external_id", "sync_id"], true, null],
  idx_entitlements_resource_id_v1: ["v1_entitlements", ["resource_type_id", "resource_id"], false, null],
  idx_entitlements_external_sync_v1: ["v1_entitlements", ["external_id", "sync_id"], true, null],
  idx_grants_resource_type_id_resource_id_v1: ["v1_grants", ["resource_type_id", "resource_id"], false, null],
  idx_grants_principal_id_v1: ["v1_grants", ["principal_resource_type_id", "principal_resource_id"], false, null],
  idx_grants_entitlement_id_principal_id_v1: ["v1_grants", ["entitlement_id", "principal_resource_type_id", "principal_resource_id"], false, null],
  idx_grants_external_sync_v1: ["v1_grants", ["external_id", "sync_id"], true, null],
  idx_grants_entitlement_sync_grant_v1: ["v1_grants", ["entitlement_id", "sync_id", "id"], false, null],
  idx_grants_sync_expansion_v1: ["v1_grants", ["sync_id"], false, "expansion is not null"],
  idx_grants_sync_needs_expansion_v1: ["v1_grants", ["sync_id"], false, "needs_expansion = 1"],
  idx_assets_external_sync_v1: ["v1_assets", ["external_id", "sync_id"], true, null],
  idx_session_store_sync_key_v1: ["v1_connector_sessions", ["sync_id", "key"], true, null],
  idx_sync_runs_sync_id_v1: ["v1_sync_runs", ["sync_id"], true, null],
};

function describeSchema(db: DatabaseSync) {
  const tables: Record<string, Col[]> = {};
  const tableNames = db.prepare("select name from sqlite_master where type = 'table' order by name").all().map((r) => String(r.name));
  for (const t of tableNames) {
    tables[t] = db
      .prepare("select name, type, \"notnull\" as nn, dflt_value, pk from pragma_table_info(?) order by cid")
      .all(t)
      .map((c) => [String(c.name), String(c.type), c.nn === 1, c.dflt_value === null ? null : String(c.dflt_value), c.pk === 1]);
  }
  const indexes: Record<string, [string, string[], boolean, string | null]> = {};
  for (const ix of db.prepare("select name, tbl_name, sql from sqlite_master where type = 'index' order by name").all()) {
    const name = String(ix.name);
    const cols = db.prepare("select name from pragma_index_info(?) order by seqno").all(name).map((c) => String(c.name));
    const unique = /^\s*create\s+unique/i.test(String(ix.sql));
    const where = /\swhere\s+(.*)$/i.exec(String(ix.sql))?.[1]?.trim().toLowerCase() ?? null;
    indexes[name] = [String(ix.tbl_name), cols, unique, where];
  }
  return { tables, indexes };
}

describe("c1z v1 schema", () => {
  let cleanup = () => {};
  afterEach(() => cleanup());

  it("creates exactly the tables, columns and indexes of PROTOCOL.md §2", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const store = await SyncStore.openForSync(join(t.dir, "sync.c1z"));
    const db = new DatabaseSync(store.databasePath, { readOnly: true });
    try {
      const { tables, indexes } = describeSchema(db);
      expect(tables).toEqual(EXPECTED_TABLES);
      expect(indexes).toEqual(EXPECTED_INDEXES);
    } finally {
      db.close();
      store.close();
    }
  });

  it("keeps that schema in a saved c1z (read back through openReadOnly)", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const file = join(t.dir, "sync.c1z");
    const store = await SyncStore.openForSync(file);
    const s = store.startSync();
    const o = sampleObjects();
    store.putResourceTypes(s, o.resourceTypes);
    store.putGrants(s, o.grants);
    store.endSync(s, {});
    await store.saveTo(file);
    const reader = await SyncStore.openReadOnly(file);
    const db = new DatabaseSync(reader.databasePath, { readOnly: true });
    try {
      const { tables, indexes } = describeSchema(db);
      expect(tables).toEqual(EXPECTED_TABLES);
      expect(indexes).toEqual(EXPECTED_INDEXES);
    } finally {
      db.close();
      reader.close();
    }
  });

  it("writes every index into the file itself when a sync deferred them (not added later by a reader)", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const file = join(t.dir, "sync.c1z");
    const store = await SyncStore.openForSync(file);
    const s = store.startSync();
    store.deferSecondaryIndexes();
    const o = sampleObjects();
    store.putResourceTypes(s, o.resourceTypes);
    store.putResources(s, o.resources);
    store.putEntitlements(s, o.entitlements);
    store.putGrants(s, o.grants);
    store.endSync(s, {});
    await store.saveTo(file);
    // Decompressed as is: openReadOnly would add missing indexes to its private copy and hide the gap.
    const raw = join(t.dir, "raw.sqlite");
    await decompressC1zToFile(file, raw);
    const db = new DatabaseSync(raw, { readOnly: true });
    try {
      const { tables, indexes } = describeSchema(db);
      expect(tables).toEqual(EXPECTED_TABLES);
      expect(indexes).toEqual(EXPECTED_INDEXES);
      expect(db.prepare("pragma integrity_check").get()).toEqual({ integrity_check: "ok" });
      expect(Number(db.prepare("select count(*) as n from v1_grants indexed by idx_grants_principal_id_v1").get()?.n)).toBe(o.grants.length);
    } finally {
      db.close();
    }
    // Saved in place from the working database, yet in rollback-journal mode: header bytes 18-19 are 1, not WAL's 2.
    expect([...readFileSync(raw).subarray(18, 20)]).toEqual([1, 1]);
  });

  it("saves through a compacted copy when pruned runs left free pages: no dead pages, no stale data", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const file = join(t.dir, "sync.c1z");
    const marker = new TextEncoder().encode("STALE-RUN-MARKER-".repeat(64));
    const stale = await SyncStore.openForSync(file);
    const old = stale.startSync();
    for (let i = 0; i < 64; i++) stale.putAsset(old, `blob-${i}`, "application/octet-stream", marker);
    stale.endSync(old, {});
    await stale.saveTo(file);
    // KEEP_FINISHED_SYNCS newer runs prune the old one, freeing the pages its blobs used.
    for (let run = 0; run < KEEP_FINISHED_SYNCS; run++) {
      const store = await SyncStore.openForSync(file);
      const s = store.startSync();
      store.putResourceTypes(s, sampleObjects().resourceTypes);
      store.endSync(s, {});
      await store.saveTo(file);
    }
    const raw = join(t.dir, "raw.sqlite");
    await decompressC1zToFile(file, raw);
    const bytes = readFileSync(raw);
    expect(Buffer.from(bytes).includes(Buffer.from(marker.subarray(0, 34)))).toBe(false);
    const db = new DatabaseSync(raw, { readOnly: true });
    try {
      expect(db.prepare("pragma freelist_count").get()).toEqual({ freelist_count: 0 });
      expect(db.prepare("select count(*) as n from v1_sync_runs").get()).toEqual({ n: KEEP_FINISHED_SYNCS });
    } finally {
      db.close();
    }
  });

  it("adds columns that files from older writers lack, and is idempotent", () => {
    const db = new DatabaseSync(":memory:");
    db.exec("create table v1_sync_runs (id integer primary key, sync_id text not null, started_at datetime not null, ended_at datetime, sync_token text not null)");
    db.exec("insert into v1_sync_runs (sync_id, started_at, sync_token) values ('old', '2024-01-01 00:00:00', '')");
    applySchema(db);
    applySchema(db);
    const { tables } = describeSchema(db);
    expect(tables.v1_sync_runs.map((c) => c[0])).toEqual(EXPECTED_TABLES.v1_sync_runs.map((c) => c[0]));
    expect(db.prepare("select sync_type, parent_sync_id from v1_sync_runs").get()).toEqual({ sync_type: "full", parent_sync_id: "" });
    db.close();
  });

  it("refuses a file whose table lacks a required column that cannot be added", () => {
    const db = new DatabaseSync(":memory:");
    db.exec("create table v1_grants (id integer primary key, external_id text not null)");
    expect(() => applySchema(db)).toThrow(/table v1_grants has no column resource_type_id/);
    db.close();
  });
});
