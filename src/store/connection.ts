// One open sync database: the connection, its cached statements, nested transactions and the guard that refuses
// use once the store is closed or while it is being saved. The store's other modules all go through it.
import type { DatabaseSync, SQLInputValue, SQLOutputValue, StatementSync } from "node:sqlite";

export class StoreConnection {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  #transactionDepth = 0;
  #open = true;
  #saving = false;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** The connection itself, after the open/saving check. */
  get db(): DatabaseSync {
    this.assertOpen();
    return this.#db;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  get inTransaction(): boolean {
    return this.#transactionDepth > 0;
  }

  assertOpen(): void {
    if (!this.#open) throw new Error("the c1z store is closed");
    if (this.#saving) throw new Error("the c1z store is being saved (await saveTo before using it)");
  }

  /** Writes after a save starts would be lost with the working database: all use is refused until it ends. */
  setSaving(saving: boolean): void {
    this.#saving = saving;
  }

  /** A prepared statement, cached by its SQL. */
  statement(sql: string): StatementSync {
    this.assertOpen();
    let s = this.#statements.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  /** A fresh statement per scan: a cached one would be reset by a nested scan of the same shape. */
  *scan(sql: string, params: SQLInputValue[]): Generator<Record<string, SQLOutputValue>> {
    this.assertOpen();
    yield* this.#db.prepare(sql).iterate(...params);
  }

  tableExists(name: string): boolean {
    return this.db.prepare("select 1 from sqlite_master where type = 'table' and name = ?").get(name) !== undefined;
  }

  /** Runs `fn` in one transaction (nested calls join the outer one). `fn` must be synchronous. */
  transaction<T>(fn: () => T): T {
    this.assertOpen();
    if (this.#transactionDepth > 0) {
      this.#transactionDepth++;
      try {
        return fn();
      } finally {
        this.#transactionDepth--;
      }
    }
    this.#db.exec("begin immediate");
    this.#transactionDepth = 1;
    try {
      const result = fn();
      if (result instanceof Promise) {
        throw new TypeError("SyncStore.transaction: the callback must be synchronous (it returned a Promise)");
      }
      this.#db.exec("commit");
      return result;
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec("rollback");
      throw err;
    } finally {
      this.#transactionDepth = 0;
    }
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#statements.clear();
    this.#db.close();
  }
}
