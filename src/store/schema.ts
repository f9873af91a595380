// The c1z v1 schema, exactly as PROTOCOL.md §2 states it (Baton's Go engine opens files with
// `create … if not exists`, so names must match, including the two index names Go swaps on v1_resources).
import type { DatabaseSync } from "node:sqlite";

type Column = readonly [name: string, declaration: string];

export const TABLES: Readonly<Record<string, readonly Column[]>> = {
  v1_resource_types: [
    ["id", "INTEGER PRIMARY KEY"],
    ["external_id", "TEXT NOT NULL"],
    ["data", "BLOB NOT NULL"],
    ["sync_id", "TEXT NOT NULL"],
    ["discovered_at", "DATETIME NOT NULL"],
  ],
  v1_resources: [
    ["id", "INTEGER PRIMARY KEY"],
    ["resource_type_id", "TEXT NOT NULL"],
    ["external_id", "TEXT NOT NULL"],
    ["parent_resource_type_id", "TEXT"],
    ["parent_resource_id", "TEXT"],
    ["data", "BLOB NOT NULL"],
    ["sync_id", "TEXT NOT NULL"],
    ["discovered_at", "DATETIME NOT NULL"],
  ],
  v1_entitlements: [
    ["id", "INTEGER PRIMARY KEY"],
    ["resource_type_id", "TEXT NOT NULL"],
    ["resource_id", "TEXT NOT NULL"],
    ["external_id", "TEXT NOT NULL"],
    ["data", "BLOB NOT NULL"],
    ["sync_id", "TEXT NOT NULL"],
    ["discovered_at", "DATETIME NOT NULL"],
  ],
  v1_grants: [
    ["id", "INTEGER PRIMARY KEY"],
    ["resource_type_id", "TEXT NOT NULL"],
    ["resource_id", "TEXT NOT NULL"],
    ["entitlement_id", "TEXT NOT NULL"],
    ["principal_resource_type_id", "TEXT NOT NULL"],
    ["principal_resource_id", "TEXT NOT NULL"],
    ["external_id", "TEXT NOT NULL"],
    ["expansion", "BLOB NULL"],
    ["needs_expansion", "INTEGER NOT NULL DEFAULT 0"],
    ["data", "BLOB NOT NULL"],
    ["sync_id", "TEXT NOT NULL"],
    ["discovered_at", "DATETIME NOT NULL"],
  ],
  v1_assets: [
    ["id", "INTEGER PRIMARY KEY"],
    ["external_id", "TEXT NOT NULL"],
    ["content_type", "TEXT NOT NULL"],
    ["data", "BLOB NOT NULL"],
    ["sync_id", "TEXT NOT NULL"],
    ["discovered_at", "DATETIME NOT NULL"],
  ],
  v1_sync_runs: [
    ["id", "INTEGER PRIMARY KEY"],
    ["sync_id", "TEXT NOT NULL"],
    ["started_at", "DATETIME NOT NULL"],
    ["ended_at", "DATETIME"],
    ["sync_token", "TEXT NOT NULL"],
    ["sync_type", "TEXT NOT NULL DEFAULT 'full'"],
    ["parent_sync_id", "TEXT NOT NULL DEFAULT ''"],
    ["linked_sync_id", "TEXT NOT NULL DEFAULT ''"],
    ["supports_diff", "INTEGER NOT NULL DEFAULT 0"],
    ["grants_backfilled", "INTEGER NOT NULL DEFAULT 0"],
    ["stats", "TEXT"],
    ["ingest_invariant_generation", "TEXT NOT NULL DEFAULT ''"],
    ["ingest_invariant_coverage", "TEXT NOT NULL DEFAULT ''"],
    ["ingest_invariant_mode", "TEXT NOT NULL DEFAULT ''"],
  ],
  v1_connector_sessions: [
    ["id", "INTEGER PRIMARY KEY"],
    ["sync_id", "TEXT NOT NULL"],
    ["key", "TEXT NOT NULL"],
    ["value", "BLOB NOT NULL"],
  ],
};

export interface IndexSpec {
  name: string;
  table: string;
  columns: readonly string[];
  unique?: boolean;
  where?: string;
}

export const INDEXES: readonly IndexSpec[] = [
  { name: "idx_resource_types_external_sync_v1", table: "v1_resource_types", columns: ["external_id", "sync_id"], unique: true },

  { name: "idx_resources_resource_type_id_v1", table: "v1_resources", columns: ["resource_type_id"] },
  // Swapped names on purpose: this is what Baton's Go code creates (PROTOCOL.md §2).
  { name: "idx_resources_external_sync_v1", table: "v1_resources", columns: ["parent_resource_type_id", "parent_resource_id"] },
  { name: "idx_resources_parent_resource_id_v1", table: "v1_resources", columns: ["external_id", "sync_id"], unique: true },

  { name: "idx_entitlements_resource_id_v1", table: "v1_entitlements", columns: ["resource_type_id", "resource_id"] },
  { name: "idx_entitlements_external_sync_v1", table: "v1_entitlements", columns: ["external_id", "sync_id"], unique: true },

  { name: "idx_grants_resource_type_id_resource_id_v1", table: "v1_grants", columns: ["resource_type_id", "resource_id"] },
  { name: "idx_grants_principal_id_v1", table: "v1_grants", columns: ["principal_resource_type_id", "principal_resource_id"] },
  {
    name: "idx_grants_entitlement_id_principal_id_v1",
    table: "v1_grants",
    columns: ["entitlement_id", "principal_resource_type_id", "principal_resource_id"],
  },
  { name: "idx_grants_external_sync_v1", table: "v1_grants", columns: ["external_id", "sync_id"], unique: true },
  { name: "idx_grants_entitlement_sync_grant_v1", table: "v1_grants", columns: ["entitlement_id", "sync_id", "id"] },
  { name: "idx_grants_sync_expansion_v1", table: "v1_grants", columns: ["sync_id"], where: "expansion IS NOT NULL" },
  { name: "idx_grants_sync_needs_expansion_v1", table: "v1_grants", columns: ["sync_id"], where: "needs_expansion = 1" },

  { name: "idx_assets_external_sync_v1", table: "v1_assets", columns: ["external_id", "sync_id"], unique: true },
  { name: "idx_session_store_sync_key_v1", table: "v1_connector_sessions", columns: ["sync_id", "key"], unique: true },
  { name: "idx_sync_runs_sync_id_v1", table: "v1_sync_runs", columns: ["sync_id"], unique: true },
];

export function schemaStatements(): string[] {
  const tables = Object.entries(TABLES).map(
    ([table, columns]) => `create table if not exists ${table} (${columns.map(([n, d]) => `${n} ${d}`).join(", ")})`,
  );
  const indexes = INDEXES.map(
    (ix) =>
      `create ${ix.unique ? "unique " : ""}index if not exists ${ix.name} on ${ix.table} (${ix.columns.join(", ")})` +
      (ix.where ? ` where ${ix.where}` : ""),
  );
  return [...tables, ...indexes];
}

/**
 * Creates what is missing. Files from older Go versions may lack newer columns; those all have defaults or are
 * nullable, so they are added with `alter table` rather than failing every query that names them.
 */
export function applySchema(db: DatabaseSync): void {
  db.exec("begin");
  try {
    for (const [table, columns] of Object.entries(TABLES)) {
      const existing = db.prepare(`select name from pragma_table_info(?)`).all(table).map((r) => String(r.name));
      if (existing.length === 0) continue; // created below
      for (const [name, declaration] of columns) {
        if (existing.includes(name)) continue;
        if (/NOT NULL/i.test(declaration) && !/DEFAULT/i.test(declaration)) {
          throw new Error(`unsupported c1z schema: table ${table} has no column ${name} and it cannot be added`);
        }
        db.exec(`alter table ${table} add column ${name} ${declaration}`);
      }
    }
    for (const sql of schemaStatements()) db.exec(sql);
    db.exec("commit");
  } catch (err) {
    // SQLite may have rolled back already (SQLITE_FULL does): a second rollback would hide the real error.
    if (db.isTransaction) db.exec("rollback");
    throw err;
  }
}
