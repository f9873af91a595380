// Differences between two runs of one c1z (PROTOCOL-2.md §2.2, §2.5): Go's local `--diff-syncs` run of
// additions, and the created / deleted / modified objects the `diff` command shows. Both work set-wise in SQL
// over the unique (external_id, sync_id) indexes, so memory stays flat whatever the file size.
import { equals } from "@bufbuild/protobuf";
import type { SQLOutputValue } from "node:sqlite";
import { GrantExpandableSchema } from "../gen/c1/connector/v2/annotation_grant_pb.js";
import { EntitlementSchema, type Entitlement } from "../gen/c1/connector/v2/entitlement_pb.js";
import { GrantSchema, type Grant } from "../gen/c1/connector/v2/grant_pb.js";
import { ResourceSchema, type Resource } from "../gen/c1/connector/v2/resource_pb.js";
import { decodeEntitlement, decodeExpansion, decodeGrant, decodeResource } from "./codec.ts";
import { newKsuid } from "./ksuid.ts";
import type { SyncStore } from "./store.ts";
import { formatSqlTime } from "./time.ts";
import { packAny } from "../wire/fast-binary.ts";

/** Tables of Go's GenerateSyncDiff and the key columns copied with each (besides external_id, data, discovered_at). */
const ADDITION_TABLES: ReadonlyArray<readonly [table: string, keys: readonly string[]]> = [
  ["v1_resource_types", []],
  ["v1_resources", ["resource_type_id", "parent_resource_type_id", "parent_resource_id"]],
  ["v1_entitlements", ["resource_type_id", "resource_id"]],
  ["v1_grants", ["resource_type_id", "resource_id", "entitlement_id", "principal_resource_type_id", "principal_resource_id"]],
  ["v1_assets", ["content_type"]],
];

export interface AdditionsRun {
  syncId: string;
  /** Rows copied, by table. */
  rows: Record<string, number>;
}

/**
 * Go's `--diff-syncs`: a new finished `partial` run whose parent is `baseSyncId`, holding the rows of
 * `appliedSyncId` whose external_id the base run lacks (additions only: modified and deleted rows are not
 * represented; grants lose expansion and needs_expansion). Both ids may name runs in any state.
 */
export function generateSyncDiff(store: SyncStore, baseSyncId: string, appliedSyncId: string): AdditionsRun {
  if (!store.getSyncRun(baseSyncId)) throw new Error(`generate-diff: base sync not found: no run ${baseSyncId} (see the syncs command)`);
  if (!store.getSyncRun(appliedSyncId)) throw new Error(`generate-diff: new sync not found: no run ${appliedSyncId} (see the syncs command)`);
  const db = store.database;
  const syncId = newKsuid();
  const rows: Record<string, number> = {};
  store.transaction(() => {
    db.prepare("insert into v1_sync_runs (sync_id, started_at, sync_token, sync_type, parent_sync_id) values (?, ?, '', 'partial', ?)").run(
      syncId,
      formatSqlTime(),
      baseSyncId,
    );
    for (const [table, keys] of ADDITION_TABLES) {
      const columns = ["external_id", "data", "discovered_at", ...keys];
      const { changes } = db
        .prepare(
          `insert into ${table} (${columns.join(", ")}, sync_id)
           select ${columns.map((c) => `a.${c}`).join(", ")}, ? from ${table} a
           where a.sync_id = ? and not exists (select 1 from ${table} b where b.sync_id = ? and b.external_id = a.external_id)
           order by a.id`,
        )
        .run(syncId, appliedSyncId, baseSyncId);
      rows[table] = Number(changes);
    }
    db.prepare("update v1_sync_runs set ended_at = ? where sync_id = ?").run(formatSqlTime(), syncId);
  });
  return { syncId, rows };
}

export type DiffKind = "resources" | "entitlements" | "grants";
export type DiffChange = "created" | "deleted" | "modified";

interface KindSpec<T> {
  table: string;
  decode: (data: Uint8Array) => T;
  same: (a: T, b: T) => boolean;
}
const KINDS: { resources: KindSpec<Resource>; entitlements: KindSpec<Entitlement>; grants: KindSpec<Grant> } = {
  resources: { table: "v1_resources", decode: decodeResource, same: (a, b) => equals(ResourceSchema, a, b) },
  entitlements: { table: "v1_entitlements", decode: decodeEntitlement, same: (a, b) => equals(EntitlementSchema, a, b) },
  grants: { table: "v1_grants", decode: decodeGrant, same: (a, b) => equals(GrantSchema, a, b) },
};
export type DiffObject<K extends DiffKind> = K extends "resources" ? Resource : K extends "entitlements" ? Entitlement : Grant;

const bytes = (v: SQLOutputValue | undefined): Uint8Array => (v instanceof Uint8Array ? v : new Uint8Array(0));
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

/**
 * The objects of one kind that `newSyncId` created, deleted or modified relative to `baseSyncId`, streamed in row
 * order. Resources are matched by "<type>:<id>", entitlements and grants by id (their external_id). Modified = the
 * messages differ (the new version is given); for grants a changed expansion (GrantExpandable) counts too, since it
 * changes who holds the entitlement once expanded. Deleted objects come from the base run.
 */
export function* diffObjects<K extends DiffKind>(
  store: SyncStore,
  kind: K,
  change: DiffChange,
  baseSyncId: string,
  newSyncId: string,
): Generator<DiffObject<K>> {
  const spec = KINDS[kind] as unknown as KindSpec<DiffObject<K>>;
  const db = store.database;
  const t = spec.table;
  if (change === "modified") {
    const expansion = kind === "grants" ? ", n.expansion as n_exp, o.expansion as o_exp" : "";
    const rows = db
      .prepare(
        `select n.data as n_data, o.data as o_data${expansion} from ${t} n join ${t} o on o.external_id = n.external_id and o.sync_id = ?
         where n.sync_id = ? and (n.data <> o.data${kind === "grants" ? " or coalesce(n.expansion, x'') <> coalesce(o.expansion, x'')" : ""})
         order by n.id`,
      )
      .iterate(baseSyncId, newSyncId);
    for (const row of rows) {
      const next = spec.decode(bytes(row.n_data));
      const expansionChanged = kind === "grants" && !sameBytes(bytes(row.n_exp), bytes(row.o_exp));
      // Bytes differ but the messages may not (another writer's field order): only a real change counts.
      if (expansionChanged) {
        // The store keeps GrantExpandable beside the grant: put it back, or the reported change would be invisible.
        const expandable = decodeExpansion(row.n_exp instanceof Uint8Array && row.n_exp.length > 0 ? row.n_exp : null);
        const grant = next as Grant;
        if (expandable) grant.annotations = [...grant.annotations, packAny(GrantExpandableSchema, expandable)];
        yield next;
      } else if (!spec.same(next, spec.decode(bytes(row.o_data)))) {
        yield next;
      }
    }
    return;
  }
  const [from, other] = change === "created" ? [newSyncId, baseSyncId] : [baseSyncId, newSyncId];
  const rows = db
    .prepare(
      `select a.data from ${t} a where a.sync_id = ? and not exists (select 1 from ${t} b where b.sync_id = ? and b.external_id = a.external_id)
       order by a.id`,
    )
    .iterate(from, other);
  for (const row of rows) yield spec.decode(bytes(row.data));
}

/** How many objects of each kind changed each way (modified as diffObjects counts it). */
export function diffCounts(store: SyncStore, baseSyncId: string, newSyncId: string): Record<DiffKind, Record<DiffChange, number>> {
  const out = {} as Record<DiffKind, Record<DiffChange, number>>;
  for (const kind of Object.keys(KINDS) as DiffKind[]) {
    const t = KINDS[kind].table;
    const missing = (from: string, other: string) =>
      Number(
        store.database
          .prepare(`select count(*) as n from ${t} a where a.sync_id = ? and not exists (select 1 from ${t} b where b.sync_id = ? and b.external_id = a.external_id)`)
          .get(from, other)?.n ?? 0,
      );
    let modified = 0;
    for (const _ of diffObjects(store, kind, "modified", baseSyncId, newSyncId)) modified++;
    out[kind] = { created: missing(newSyncId, baseSyncId), deleted: missing(baseSyncId, newSyncId), modified };
  }
  return out;
}
