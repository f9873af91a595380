// Opening databases that came from a c1z file someone else wrote: its own schema code must never run here.
//
// A c1z's SQLite file may carry triggers and views besides Baton's tables. A trigger on v1_resources would fire on
// every row a sync writes; a view named like a Baton table (with an INSTEAD OF trigger) would take the sync's
// writes elsewhere. So every such database is opened in SQLite's defensive mode with trusted_schema off (schema
// code may then call no function that has side effects), and its triggers and views are dropped before anything
// reads or writes it; dropping them runs none of their code, and none of them reaches a file we write.
import { DatabaseSync } from "node:sqlite";

/** Tables a sync keeps only in its working database; a file that arrives with one gets it dropped. */
export const WORKING_ONLY_TABLES = ["sdk_work_sync_tenants"] as const;

/** A SQLite connection in defensive mode, trusted_schema off. */
export function openDefensive(path: string, options: { timeout?: number } = {}): DatabaseSync {
  const db = new DatabaseSync(path, { timeout: options.timeout ?? 5000 });
  try {
    db.enableDefensive(true);
    db.exec("pragma trusted_schema = OFF");
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Drops every trigger and view, and the working-only tables, of `db`; returns what was dropped. The database
 * must not be in use by a sync yet (it is a copy just decompressed).
 */
export function dropForeignSchemaCode(db: DatabaseSync): { triggers: string[]; views: string[] } {
  const rows = db.prepare("select type, name from sqlite_master where type in ('trigger', 'view')").all();
  const triggers = rows.filter((r) => r.type === "trigger").map((r) => String(r.name));
  const views = rows.filter((r) => r.type === "view").map((r) => String(r.name));
  const tables = new Set(db.prepare("select name from sqlite_master where type = 'table'").all().map((r) => String(r.name)));
  const extra = WORKING_ONLY_TABLES.filter((t) => tables.has(t));
  if (triggers.length + views.length + extra.length === 0) return { triggers, views };
  db.exec("begin immediate");
  try {
    // Triggers first: dropping a view drops its triggers too, and a trigger may be on a table.
    for (const t of triggers) db.exec(`drop trigger if exists ${quote(t)}`);
    for (const v of views) db.exec(`drop view if exists ${quote(v)}`);
    for (const t of extra) db.exec(`drop table if exists ${quote(t)}`);
    db.exec("commit");
  } catch (err) {
    if (db.isTransaction) db.exec("rollback");
    throw err;
  }
  return { triggers, views };
}
