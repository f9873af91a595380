// The little SQL the typed reads need: a WHERE builder for the iterate* scans (every scan is per sync and in row
// order) and converters from SQLite's output values.
import type { SQLInputValue, SQLOutputValue } from "node:sqlite";

export const str = (v: SQLOutputValue | undefined): string => (v === null || v === undefined ? "" : String(v));
export const num = (v: SQLOutputValue | undefined): number => Number(v ?? 0);
export const bytes = (v: SQLOutputValue | undefined): Uint8Array => (v instanceof Uint8Array ? v : new Uint8Array(0));

/** `sync_id = ? [and id > ?] [and column = ? ...]` with its parameters, in the order they were added. */
export class Conditions {
  readonly #clauses: string[] = ["sync_id = ?"];
  readonly params: SQLInputValue[];
  constructor(syncId: string, afterRowId: number | undefined) {
    this.params = [syncId];
    if (afterRowId !== undefined) {
      this.#clauses.push("id > ?");
      this.params.push(afterRowId);
    }
  }
  add(column: string, value: string | undefined): void {
    if (value === undefined) return;
    this.#clauses.push(`${column} = ?`);
    this.params.push(value);
  }
  notIn(column: string, values: readonly string[] | undefined): void {
    if (!values?.length) return;
    this.#clauses.push(`${column} not in (${values.map(() => "?").join(", ")})`);
    this.params.push(...values);
  }
  raw(clause: string): void {
    this.#clauses.push(clause);
  }
  sql(): string {
    return this.#clauses.join(" and ");
  }
}

/** The SELECT of one row-ordered scan, with its parameters (the limit last). */
export function scanQuery(table: string, columns: string, where: Conditions, limit: number | undefined): { sql: string; params: SQLInputValue[] } {
  const params = [...where.params];
  let sql = `select ${columns} from ${table} where ${where.sql()} order by id`;
  if (limit !== undefined) {
    sql += " limit ?";
    params.push(limit);
  }
  return { sql, params };
}
