// Index deferral during a sync. Keeping six grant indexes up to date row by row costs more than writing the rows;
// building them once from sorted data is several times cheaper. A sync drops the non-unique indexes of the
// object tables before writing objects and restores them before anything reads by them; a save builds whatever
// is still missing in the saved copy, so a saved file always has Baton's full schema.
import type { DatabaseSync } from "node:sqlite";
import { applySchema, INDEXES } from "./schema.ts";

const DEFERRABLE_TABLES = new Set(["v1_resources", "v1_entitlements", "v1_grants"]);

/** Drops the non-unique indexes of the object tables (the unique ones keep the upserts working). */
export function deferSecondaryIndexes(db: DatabaseSync): void {
  for (const ix of INDEXES) {
    if (!ix.unique && DEFERRABLE_TABLES.has(ix.table)) db.exec(`drop index if exists ${ix.name}`);
  }
}

/** Creates every table, column and index of the schema that is missing. */
export function restoreIndexes(db: DatabaseSync): void {
  applySchema(db);
}
