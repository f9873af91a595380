// Sync-run bookkeeping in v1_sync_runs: start, checkpoint, tenant, end (with Go's retention), discard, and the
// reads of runs. The engine's own checkpoint is an opaque token stored with the run.
import type { Logger } from "pino";
import type { SQLOutputValue } from "node:sqlite";
import type { StoreConnection } from "./connection.ts";
import { newKsuid } from "./ksuid.ts";
import { SYNC_TYPES, type SyncRunRow, type SyncType, type UnfinishedSync } from "./rows.ts";
import { retentionFromEnv, selectSyncsToDelete } from "./runs.ts";
import { num, str } from "./sql.ts";
import { formatSqlTime } from "./time.ts";

/** The tables whose rows belong to one sync run (deleted with it). */
export const OBJECT_TABLES = ["v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants", "v1_assets", "v1_connector_sessions"];
/** Working-database-only record of which tenant each unfinished run is for; dropped before a save (defensive.ts). */
export const TENANT_TABLE = "sdk_work_sync_tenants";

export class RunLog {
  readonly #conn: StoreConnection;
  readonly #logger: Logger | undefined;

  constructor(conn: StoreConnection, logger: Logger | undefined) {
    this.#conn = conn;
    this.#logger = logger;
  }

  /** The latest run that has not ended and started less than `maxAgeDays` ago (Baton resumes those). */
  unfinishedSync(maxAgeDays = 7): UnfinishedSync | undefined {
    const cutoff = formatSqlTime(new Date(Date.now() - maxAgeDays * 86_400_000));
    const row = this.#conn
      .statement("select sync_id, sync_token, sync_type from v1_sync_runs where ended_at is null and started_at >= ? order by id desc limit 1")
      .get(cutoff);
    return row ? { syncId: str(row.sync_id), syncToken: str(row.sync_token), syncType: str(row.sync_type) } : undefined;
  }

  /** Starts a run and returns its new KSUID sync id. */
  startSync(syncType: SyncType | string = "full", parentSyncId = ""): string {
    if (!(SYNC_TYPES as readonly string[]).includes(syncType)) {
      throw new Error(`unknown sync type ${JSON.stringify(syncType)} (one of ${SYNC_TYPES.join(", ")})`);
    }
    const syncId = newKsuid();
    this.#conn
      .statement("insert into v1_sync_runs (sync_id, started_at, sync_token, sync_type, parent_sync_id) values (?, ?, '', ?, ?)")
      .run(syncId, formatSqlTime(), syncType, parentSyncId);
    return syncId;
  }

  /** Checkpoints the engine's own state (opaque text) into the run. */
  setSyncToken(syncId: string, token: string): void {
    const { changes } = this.#conn.statement("update v1_sync_runs set sync_token = ? where sync_id = ?").run(token, syncId);
    if (Number(changes) === 0) throw new Error(`setSyncToken: no sync run ${syncId}`);
  }

  /**
   * Records which tenant (the connector's TenantIdentity id) a run is for, so that a resume can tell whether the
   * credentials still reach the same one. Kept in a table of the working database only: a save drops it, and
   * Baton's schema has no place for it.
   */
  setSyncTenant(syncId: string, tenant: string): void {
    this.#conn.db.exec(`create table if not exists ${TENANT_TABLE} (sync_id TEXT PRIMARY KEY, tenant TEXT NOT NULL)`);
    this.#conn
      .statement(`insert into ${TENANT_TABLE} (sync_id, tenant) values (?, ?) on conflict (sync_id) do update set tenant = excluded.tenant`)
      .run(syncId, tenant);
  }

  /** The tenant recorded for a run; undefined when none was (an older working database, or a connector that states none). */
  syncTenant(syncId: string): string | undefined {
    if (!this.#conn.tableExists(TENANT_TABLE)) return undefined;
    const row = this.#conn.statement(`select tenant from ${TENANT_TABLE} where sync_id = ?`).get(syncId);
    return row ? str(row.tenant) : undefined;
  }

  /** The run that recorded a tenant has ended (or is being saved as it is); the record is not Baton's. */
  dropTenantRecords(): void {
    this.#conn.db.exec(`drop table if exists ${TENANT_TABLE}`);
  }

  /** Deletes a run and every row it wrote (an unfinished run that must not be resumed). */
  discardSync(syncId: string): void {
    this.#conn.transaction(() => {
      this.#deleteRun(syncId);
      if (this.#conn.tableExists(TENANT_TABLE)) this.#conn.statement(`delete from ${TENANT_TABLE} where sync_id = ?`).run(syncId);
    });
  }

  /** Ends the run with its stats, then deletes runs older than the newest finished ones, with their rows. */
  endSync(syncId: string, stats: Record<string, unknown>): void {
    this.#conn.transaction(() => {
      const { changes } = this.#conn
        .statement("update v1_sync_runs set ended_at = ?, stats = ? where sync_id = ?")
        .run(formatSqlTime(), JSON.stringify(stats), syncId);
      if (Number(changes) === 0) throw new Error(`endSync: no sync run ${syncId}`);
      this.#pruneOldRuns();
    });
  }

  /** Go's retention (runs.ts): full runs beyond the limit go, partial runs are counted apart. */
  #pruneOldRuns(): void {
    const { skip, keep } = retentionFromEnv();
    if (skip) return;
    const victims = selectSyncsToDelete(this.syncRuns(), { keep });
    for (const victim of victims) this.#deleteRun(victim);
    if (victims.length > 0) this.#logger?.debug({ deleted: victims }, "c1z store: deleted old sync runs");
  }

  #deleteRun(syncId: string): void {
    for (const table of OBJECT_TABLES) this.#conn.statement(`delete from ${table} where sync_id = ?`).run(syncId);
    this.#conn.statement("delete from v1_sync_runs where sync_id = ?").run(syncId);
  }

  syncRuns(): SyncRunRow[] {
    return this.#conn.db.prepare("select * from v1_sync_runs order by id").all().map(toSyncRun);
  }

  getSyncRun(syncId: string): SyncRunRow | undefined {
    const row = this.#conn.statement("select * from v1_sync_runs where sync_id = ?").get(syncId);
    return row ? toSyncRun(row) : undefined;
  }

  latestFinishedSync(syncType?: SyncType | string): SyncRunRow | undefined {
    const row = syncType
      ? this.#conn.statement("select * from v1_sync_runs where ended_at is not null and sync_type = ? order by id desc limit 1").get(syncType)
      : this.#conn.statement("select * from v1_sync_runs where ended_at is not null order by id desc limit 1").get();
    return row ? toSyncRun(row) : undefined;
  }

  finishedRunCount(): number {
    return num(this.#conn.statement("select count(*) as n from v1_sync_runs where ended_at is not null").get()?.n);
  }
}

function toSyncRun(row: Record<string, SQLOutputValue>): SyncRunRow {
  let stats: Record<string, unknown> | undefined;
  if (typeof row.stats === "string" && row.stats !== "") {
    try {
      const parsed: unknown = JSON.parse(row.stats);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) stats = parsed as Record<string, unknown>;
    } catch {
      stats = undefined; // Go writers store protojson; anything unparsable is just not shown
    }
  }
  return {
    rowId: num(row.id),
    syncId: str(row.sync_id),
    startedAt: str(row.started_at),
    endedAt: row.ended_at === null || row.ended_at === undefined ? null : String(row.ended_at),
    syncToken: str(row.sync_token),
    syncType: str(row.sync_type) || "full",
    parentSyncId: str(row.parent_sync_id),
    linkedSyncId: str(row.linked_sync_id),
    supportsDiff: num(row.supports_diff) === 1,
    stats,
  };
}
