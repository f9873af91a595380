// SyncStore: one sync database (the SQLite inside a c1z) — writes during a sync, reads for resume, inspection
// and provisioning look-ups. During a sync the database is a real SQLite file in WAL mode in a private working
// directory beside the c1z (workdir.ts), so every committed transaction survives a SIGKILL and the next run
// resumes from it; `saveTo` turns it into the c1z file. One sync at a time holds that directory's lock.
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { mkdtemp, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DatabaseSync, type SQLInputValue, type SQLOutputValue, type StatementSync } from "node:sqlite";
import type { Logger } from "pino";
import type { GrantExpandable } from "../gen/c1/connector/v2/annotation_grant_pb.js";
import type { Entitlement } from "../gen/c1/connector/v2/entitlement_pb.js";
import type { Grant } from "../gen/c1/connector/v2/grant_pb.js";
import type { Resource, ResourceType } from "../gen/c1/connector/v2/resource_pb.js";
import {
  decodeEntitlement,
  decodeExpansion,
  decodeGrant,
  decodeResource,
  decodeResourceType,
  entitlementRows,
  grantRows,
  resourceExternalId,
  resourceRows,
  resourceTypeRow,
} from "./codec.ts";
import { dropForeignSchemaCode, openDefensive } from "./defensive.ts";
import { C1zWriteError, decompressC1zToFile, writeC1zFromFile, type WriteC1zOptions } from "./format.ts";
import { newKsuid } from "./ksuid.ts";
import { DEFAULT_KEEP_SYNC_COUNT, retentionFromEnv, selectSyncsToDelete } from "./runs.ts";
import { applySchema, INDEXES } from "./schema.ts";
import { formatSqlTime } from "./time.ts";
import { ensurePrivateDirectory, WorkDirLock, workDirectoryPath } from "./workdir.ts";

export const SYNC_TYPES = ["full", "partial", "resources_only", "partial_upserts", "partial_deletions"] as const;
export type SyncType = (typeof SYNC_TYPES)[number];

/** How many finished full runs a file keeps (runs.ts has the whole rule); older ones are deleted when a run ends. */
export const KEEP_FINISHED_SYNCS = DEFAULT_KEEP_SYNC_COUNT;

const OBJECT_TABLES = ["v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants", "v1_assets", "v1_connector_sessions"];
const WORK_DB = "sync.sqlite";
const SIDE_FILES = ["-wal", "-shm", "-journal"];
/** Working-database-only record of which tenant each unfinished run is for; dropped before a save (defensive.ts). */
const TENANT_TABLE = "sdk_work_sync_tenants";

export interface SyncRunRow {
  rowId: number;
  syncId: string;
  startedAt: string;
  endedAt: string | null;
  syncToken: string;
  syncType: string;
  parentSyncId: string;
  linkedSyncId: string;
  supportsDiff: boolean;
  /** Parsed `stats` JSON; undefined while the run is unfinished or when stats are absent or not JSON. */
  stats: Record<string, unknown> | undefined;
}

export interface UnfinishedSync {
  syncId: string;
  syncToken: string;
  syncType: string;
}

export interface ResourceRow {
  rowId: number;
  resource: Resource;
}
export interface EntitlementRow {
  rowId: number;
  entitlement: Entitlement;
}
export interface GrantRow {
  rowId: number;
  /** The grant as stored: without its GrantExpandable annotation. */
  grant: Grant;
  /** The GrantExpandable annotation that was split off into the `expansion` column. */
  expansion: GrantExpandable | undefined;
  needsExpansion: boolean;
}

export interface StoreCounts {
  resourceTypes: number;
  resources: number;
  entitlements: number;
  grants: number;
  resourcesByType: Record<string, number>;
  /** Keyed by the resource type of the entitlement's resource. */
  entitlementsByType: Record<string, number>;
  /** Keyed by the resource type of the granted entitlement's resource. */
  grantsByType: Record<string, number>;
}

/** Row-id paging and limits shared by the iterate* reads. */
export interface PageOptions {
  /** Only rows with a row id greater than this (resume a scan). */
  afterRowId?: number;
  limit?: number;
}
export interface ResourceFilter extends PageOptions {
  resourceTypeId?: string;
  /** Only children of this parent (both parts needed). */
  parentResourceTypeId?: string;
  parentResourceId?: string;
  /** Leave out resources of these types (read without decoding them). */
  excludeResourceTypeIds?: readonly string[];
}
export interface EntitlementFilter extends PageOptions {
  resourceTypeId?: string;
  resourceId?: string;
}
export interface GrantFilter extends PageOptions {
  entitlementId?: string;
  principalResourceTypeId?: string;
  principalResourceId?: string;
  resourceTypeId?: string;
  resourceId?: string;
}

export interface OpenForSyncOptions {
  /** Where the working database lives; default: beside the c1z file. */
  workDir?: string;
  logger?: Logger;
  /** Decoded-size cap when a previous c1z is decompressed into the working database. */
  maxDecodedBytes?: number;
  /**
   * Refuse (with this reason in the message) to reopen the working database of an unfinished sync: for callers
   * that add a run of their own and save, which would turn someone else's unfinished run into a saved one.
   */
  refuseUnfinishedWork?: string;
}

export interface OpenReadOnlyOptions {
  maxDecodedBytes?: number;
  logger?: Logger;
}

/** Path of the working database that `openForSync(file, { workDir })` uses (in its private directory). */
export function workingDatabasePath(file: string, workDir?: string): string {
  return join(workDirectoryPath(file, workDir), WORK_DB);
}

/** Creates (or checks) the private working directory of `file` and takes its lock. */
function lockWorkDirectory(file: string, workDir: string | undefined): { dir: string; lock: WorkDirLock } {
  const dir = workDirectoryPath(file, workDir);
  for (let attempt = 1; ; attempt++) {
    ensurePrivateDirectory(dir);
    try {
      return { dir, lock: WorkDirLock.acquire(dir, file) };
    } catch (err) {
      // A sync that just finished removes its directory; between our check and our lock it may have gone.
      if (attempt < 3 && !existsSync(dir)) continue;
      throw err;
    }
  }
}

// Private temp copies made by openReadOnly are removed on close, and on exit for stores never closed.
const tempDirs = new Set<string>();
let exitHookInstalled = false;
function trackTempDir(dir: string): void {
  tempDirs.add(dir);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
    });
  }
}

function removeDatabaseFiles(dbPath: string): void {
  for (const suffix of ["", ...SIDE_FILES]) rmSync(dbPath + suffix, { force: true });
}

/** Creates whatever the schema lacks in the database file at `path` (a copy about to be saved). */
function completeSchema(path: string): void {
  const db = openDefensive(path);
  try {
    applySchema(db);
  } finally {
    db.close();
  }
}

function openDatabase(path: string, what: string): DatabaseSync {
  let db: DatabaseSync | undefined;
  try {
    db = openDefensive(path);
    db.prepare("select count(*) from sqlite_master").get(); // fails here, not later, on a file that is not a database
    return db;
  } catch (err) {
    db?.close();
    throw new Error(`cannot open ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Drops the triggers and views a decompressed file brought (defensive.ts) before anything uses it; logs what went.
 */
function disarm(path: string, source: string, logger: Logger | undefined): void {
  const db = openDatabase(path, `database inside ${source} at`);
  try {
    const dropped = dropForeignSchemaCode(db);
    if (dropped.triggers.length + dropped.views.length > 0) {
      logger?.warn(
        { file: source, triggers: dropped.triggers.slice(0, 20), views: dropped.views.slice(0, 20) },
        `c1z store: ${source} holds ${dropped.triggers.length} trigger(s) and ${dropped.views.length} view(s), which no c1z writer creates; dropped unrun`,
      );
    }
  } finally {
    db.close();
  }
}

const DEFERRABLE_TABLES = new Set(["v1_resources", "v1_entitlements", "v1_grants"]);

/** A working database with more free pages than this is saved through a compacted copy instead of in place. */
const MAX_FREE_FRACTION_IN_PLACE = 0.02;

const str = (v: SQLOutputValue | undefined): string => (v === null || v === undefined ? "" : String(v));
const num = (v: SQLOutputValue | undefined): number => Number(v ?? 0);
const bytes = (v: SQLOutputValue | undefined): Uint8Array => (v instanceof Uint8Array ? v : new Uint8Array(0));

/** sync: a working database beside a c1z; readonly: a private decoded copy; scratch: a new private database. */
type StoreMode = "sync" | "readonly" | "scratch";

interface SyncWork {
  /** The c1z this working database is for. */
  file: string;
  dir: string;
  lock: WorkDirLock;
}

export class SyncStore {
  readonly #db: DatabaseSync;
  readonly #dbPath: string;
  readonly #mode: StoreMode;
  readonly #tempDir: string | undefined;
  readonly #work: SyncWork | undefined;
  /** For a working database this open created: its #progressMark() then. */
  #createdWith: string | undefined;
  readonly #logger: Logger | undefined;
  readonly #statements = new Map<string, StatementSync>();
  #transactionDepth = 0;
  #open = true;
  #saving = false;

  private constructor(
    db: DatabaseSync,
    dbPath: string,
    mode: StoreMode,
    tempDir: string | undefined,
    logger: Logger | undefined,
    work?: SyncWork,
  ) {
    this.#db = db;
    this.#dbPath = dbPath;
    this.#mode = mode;
    this.#tempDir = tempDir;
    this.#logger = logger;
    this.#work = work;
  }

  /**
   * Opens the working database for a sync of `file`. An existing working database (left by a killed run) is
   * opened as is, which is what makes resume possible; otherwise the previous `file` is decompressed into it
   * (earlier syncs are kept, as Baton does); otherwise a fresh schema is created.
   */
  static async openForSync(file: string, options: OpenForSyncOptions = {}): Promise<SyncStore> {
    const { workDir, logger } = options;
    if (workDir) mkdirSync(workDir, { recursive: true });
    const { dir, lock } = lockWorkDirectory(file, workDir);
    try {
      return await SyncStore.#openLocked(resolve(file), join(dir, WORK_DB), { dir, lock }, options);
    } catch (err) {
      // With no working database there is nothing to resume: leave nothing behind.
      lock.release(!existsSync(join(dir, WORK_DB)));
      throw err;
    }
  }

  static async #openLocked(file: string, dbPath: string, work: Omit<SyncWork, "file">, options: OpenForSyncOptions): Promise<SyncStore> {
    const { logger } = options;
    if (existsSync(dbPath) && options.refuseUnfinishedWork) {
      throw new Error(
        `${file} has an unfinished sync in ${work.dir}: ${options.refuseUnfinishedWork}; run the same sync again to finish it first (or remove that directory to drop it)`,
      );
    }
    const reopened = existsSync(dbPath);
    if (reopened) {
      logger?.info({ workingDatabase: dbPath }, "c1z store: reopening the working database an earlier run left");
    } else {
      // Side files without their database belong to nothing: SQLite must not replay them onto a new file.
      removeDatabaseFiles(dbPath);
      if (existsSync(file)) {
        logger?.debug({ file, workingDatabase: dbPath }, "c1z store: decompressing the previous sync file");
        // Decompress beside, then rename: a kill mid-way must not leave a half database that looks resumable.
        const partial = `${dbPath}.partial`;
        await decompressC1zToFile(file, partial, { maxDecodedBytes: options.maxDecodedBytes, noSpaceHint: "or put --file on a larger disk" });
        try {
          disarm(partial, file, logger);
        } catch (err) {
          rmSync(partial, { force: true });
          throw err;
        }
        await rename(partial, dbPath);
      }
    }
    const db = openDatabase(dbPath, "working database");
    try {
      // WAL + NORMAL: a committed transaction survives SIGKILL (only power loss can drop the last ones).
      db.exec("pragma journal_mode = WAL");
      db.exec("pragma synchronous = NORMAL");
      // A small page cache keeps RSS flat; checkpointing every ~40 MiB of WAL instead of 4 MiB saves many fsyncs
      // when grants land in random places of the unique (external_id, sync_id) index.
      db.exec("pragma cache_size = -8000");
      db.exec("pragma wal_autocheckpoint = 10000");
      applySchema(db);
    } catch (err) {
      db.close();
      throw new Error(`cannot prepare working database ${dbPath}: ${(err as Error).message} (remove it to start over)`, { cause: err });
    }
    const store = new SyncStore(db, dbPath, "sync", undefined, logger, { file, ...work });
    if (!reopened) store.#createdWith = store.#progressMark();
    return store;
  }

  /** Opens a c1z for reading: it is decompressed into a private temp file that close() deletes. */
  static async openReadOnly(file: string, options: OpenReadOnlyOptions = {}): Promise<SyncStore> {
    if (!existsSync(file)) throw new Error(`c1z file not found: ${file}`);
    const dir = await mkdtemp(join(tmpdir(), "c1z-read-"));
    trackTempDir(dir);
    const dbPath = join(dir, "sync.sqlite");
    try {
      await decompressC1zToFile(file, dbPath, { maxDecodedBytes: options.maxDecodedBytes, noSpaceHint: "or set TMPDIR to a directory on a larger disk" });
      disarm(dbPath, file, options.logger);
      const db = openDatabase(dbPath, `database inside ${file} at`);
      try {
        // Files from older writers may lack newer tables or columns; the copy is private, so add them.
        applySchema(db);
        db.exec("pragma query_only = ON");
      } catch (err) {
        db.close();
        throw err;
      }
      return new SyncStore(db, dbPath, "readonly", dir, options.logger);
    } catch (err) {
      tempDirs.delete(dir);
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** A new, empty database with Baton's schema in a private temp directory that close() (or saveTo) deletes. */
  static async createScratch(options: { logger?: Logger } = {}): Promise<SyncStore> {
    const dir = await mkdtemp(join(tmpdir(), "c1z-new-"));
    trackTempDir(dir);
    const dbPath = join(dir, "sync.sqlite");
    try {
      const db = openDatabase(dbPath, "new database");
      try {
        applySchema(db);
      } catch (err) {
        db.close();
        throw err;
      }
      return new SyncStore(db, dbPath, "scratch", dir, options.logger);
    } catch (err) {
      tempDirs.delete(dir);
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * The connection itself, for the store's own modules (diff.ts, compact.ts) whose set-wise SQL the typed
   * methods do not cover. Not for other callers: they would bypass the schema rules kept here.
   */
  get database(): DatabaseSync {
    this.#assertOpen();
    return this.#db;
  }

  /** The SQLite file behind this store. */
  get databasePath(): string {
    return this.#dbPath;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /** Closes without writing a c1z. A sync's working database stays on disk for resume; a read-only copy is deleted. */
  close(): void {
    if (!this.#open) return;
    // A working database made by this open that no resource reached holds nothing to resume (--file still has
    // all it held): leave nothing behind, so the next run neither finds a leftover nor talks of resuming.
    const untouched = this.#createdWith !== undefined && this.#progressMark() === this.#createdWith;
    this.#open = false;
    this.#statements.clear();
    this.#db.close();
    if (untouched) removeDatabaseFiles(this.#dbPath);
    this.#work?.lock.release(untouched);
    if (this.#tempDir) {
      tempDirs.delete(this.#tempDir);
      rmSync(this.#tempDir, { recursive: true, force: true });
    }
  }

  /**
   * Closes a sync store and deletes its working database and directory: for callers that decompressed --file
   * only to add a run of their own (refuseUnfinishedWork) and failed, so there is nothing to resume.
   */
  discardWork(): void {
    const work = this.#work;
    if (!this.#open || !work) return this.close();
    this.#open = false;
    this.#statements.clear();
    this.#db.close();
    removeDatabaseFiles(this.#dbPath);
    for (const name of [`${WORK_DB}.partial`, `${WORK_DB}.save`, "c1z.tmp"]) rmSync(join(work.dir, name), { force: true });
    work.lock.release(true);
  }

  /** What a failed sync would lose if the working database went: resources written and runs finished. */
  #progressMark(): string {
    const finished = num(this.#stmt("select count(*) as n from v1_sync_runs where ended_at is not null").get()?.n);
    return `${this.lastResourceRowId()}/${finished}`;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Writes the database as the c1z `file` (streamed through zstd, `<file>.tmp` + fsync + rename), with Baton's
   * full schema. On success the store is closed and the working database removed. On failure the error names
   * `file` and the cause, the previous `file` is untouched, and the store stays open with the same data.
   *
   * A sync's working database is usually compact already (a fresh sync frees almost no pages): it is then
   * saved in place, checkpointed into rollback-journal mode (what readers expect) with the indexes the sync
   * deferred built into it. Otherwise (free pages left by pruned runs, or a read-only copy) a VACUUM INTO copy is
   * saved, so neither dead pages nor stale data from older runs end up in the file.
   */
  async saveTo(file: string, options: WriteC1zOptions = {}): Promise<void> {
    this.#assertOpen();
    if (this.#transactionDepth > 0) throw new Error("saveTo: a transaction is still open");
    // The run that recorded a tenant has ended (or is being saved as it is); the record is not Baton's.
    if (this.#mode === "sync") this.#db.exec(`drop table if exists ${TENANT_TABLE}`);
    const inPlace = this.#mode === "sync" && this.#freePageFraction() <= MAX_FREE_FRACTION_IN_PLACE;
    const source = inPlace ? this.#dbPath : `${this.#dbPath}.save`;
    if (!inPlace) rmSync(source, { force: true });
    // Writes after this point would be lost with the working database: refuse all use until saved.
    this.#saving = true;
    try {
      if (this.#mode === "readonly") this.#db.exec("pragma query_only = OFF"); // VACUUM INTO writes a new file; the store's own data is unchanged
      let stage = inPlace ? "preparing" : "compacting the database into";
      try {
        if (inPlace) {
          this.#db.exec("pragma wal_checkpoint(TRUNCATE)");
          this.#db.exec("pragma journal_mode = DELETE");
          stage = "building the indexes of";
          applySchema(this.#db);
        } else {
          this.#db.prepare("vacuum into ?").run(source);
          // Indexes a sync deferred are built here, once, in the copy: VACUUM rebuilds every index it copies, so
          // building them in the working database first would build them twice.
          stage = "building the indexes of";
          completeSchema(source);
        }
      } catch (err) {
        // SQLITE_IOERR (10) / SQLITE_FULL (13): what ENOSPC, EFBIG or a quota look like from inside SQLite.
        const primary = Number((err as { errcode?: number }).errcode) & 0xff;
        const hint = primary === 10 || primary === 13 ? " (is the disk full, or a file-size limit reached?)" : "";
        throw new C1zWriteError(file, `cannot write c1z file ${file}: ${stage} ${source} failed: ${(err as Error).message}${hint}`, {
          cause: err,
        });
      }
      // Saving to the file this sync is for: the compressed copy is written in the private directory (same file
      // system, so the rename is atomic), where nobody can plant a link in its way.
      const ownFile = this.#work !== undefined && resolve(file) === this.#work.file;
      await writeC1zFromFile(source, file, ownFile && !options.tmpPath ? { ...options, tmpPath: join(this.#work!.dir, "c1z.tmp") } : options);
    } finally {
      if (!inPlace) rmSync(source, { force: true });
      if (this.#mode === "readonly") this.#db.exec("pragma query_only = ON");
      this.#saving = false;
    }
    this.#logger?.debug({ file, inPlace }, "c1z store: saved");
    const work = this.#work;
    this.#open = false;
    this.#statements.clear();
    this.#db.close();
    if (this.#tempDir) {
      tempDirs.delete(this.#tempDir);
      rmSync(this.#tempDir, { recursive: true, force: true });
    }
    if (work) {
      // Nothing is left to resume: the working files go, then the lock, then the directory.
      removeDatabaseFiles(this.#dbPath);
      for (const name of [`${WORK_DB}.partial`, `${WORK_DB}.save`, "c1z.tmp"]) rmSync(join(work.dir, name), { force: true });
      work.lock.release(true);
    }
  }

  #freePageFraction(): number {
    const pages = num(this.#db.prepare("pragma page_count").get()?.page_count);
    const free = num(this.#db.prepare("pragma freelist_count").get()?.freelist_count);
    return pages > 0 ? free / pages : 0;
  }

  /**
   * Drops the non-unique indexes of the object tables. Keeping six grant indexes up to date row by row costs
   * more than writing the rows; building them once from sorted data is several times cheaper. A sync calls this
   * before writing objects and `restoreIndexes` before anything reads by those indexes; `saveTo` builds what is
   * still missing in the saved copy, so a saved file always has Baton's full schema.
   */
  deferSecondaryIndexes(): void {
    this.#assertOpen();
    for (const ix of INDEXES) {
      if (!ix.unique && DEFERRABLE_TABLES.has(ix.table)) this.#db.exec(`drop index if exists ${ix.name}`);
    }
  }

  /** Creates every index of the schema that is missing. */
  restoreIndexes(): void {
    this.#assertOpen();
    applySchema(this.#db);
  }

  /** Runs `fn` in one transaction (nested calls join the outer one). `fn` must be synchronous. */
  transaction<T>(fn: () => T): T {
    this.#assertOpen();
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

  // ---- sync runs ------------------------------------------------------------------------------------------

  /** The latest run that has not ended and started less than `maxAgeDays` ago (Baton resumes those). */
  unfinishedSync(maxAgeDays = 7): UnfinishedSync | undefined {
    const cutoff = formatSqlTime(new Date(Date.now() - maxAgeDays * 86_400_000));
    const row = this.#stmt(
      "select sync_id, sync_token, sync_type from v1_sync_runs where ended_at is null and started_at >= ? order by id desc limit 1",
    ).get(cutoff);
    return row ? { syncId: str(row.sync_id), syncToken: str(row.sync_token), syncType: str(row.sync_type) } : undefined;
  }

  /** Starts a run and returns its new KSUID sync id. */
  startSync(syncType: SyncType | string = "full", parentSyncId = ""): string {
    if (!(SYNC_TYPES as readonly string[]).includes(syncType)) {
      throw new Error(`unknown sync type ${JSON.stringify(syncType)} (one of ${SYNC_TYPES.join(", ")})`);
    }
    const syncId = newKsuid();
    this.#stmt(
      "insert into v1_sync_runs (sync_id, started_at, sync_token, sync_type, parent_sync_id) values (?, ?, '', ?, ?)",
    ).run(syncId, formatSqlTime(), syncType, parentSyncId);
    return syncId;
  }

  /** Checkpoints the engine's own state (opaque text) into the run. */
  setSyncToken(syncId: string, token: string): void {
    const { changes } = this.#stmt("update v1_sync_runs set sync_token = ? where sync_id = ?").run(token, syncId);
    if (Number(changes) === 0) throw new Error(`setSyncToken: no sync run ${syncId}`);
  }

  /**
   * Records which tenant (the connector's TenantIdentity id) a run is for, so that a resume can tell whether the
   * credentials still reach the same one. Kept in a table of the working database only: saveTo drops it, and
   * Baton's schema has no place for it.
   */
  setSyncTenant(syncId: string, tenant: string): void {
    this.#assertOpen();
    this.#db.exec(`create table if not exists ${TENANT_TABLE} (sync_id TEXT PRIMARY KEY, tenant TEXT NOT NULL)`);
    this.#stmt(`insert into ${TENANT_TABLE} (sync_id, tenant) values (?, ?) on conflict (sync_id) do update set tenant = excluded.tenant`).run(
      syncId,
      tenant,
    );
  }

  /** The tenant recorded for a run; undefined when none was (an older working database, or a connector that states none). */
  syncTenant(syncId: string): string | undefined {
    this.#assertOpen();
    const exists = this.#db.prepare("select 1 from sqlite_master where type = 'table' and name = ?").get(TENANT_TABLE);
    if (!exists) return undefined;
    const row = this.#stmt(`select tenant from ${TENANT_TABLE} where sync_id = ?`).get(syncId);
    return row ? str(row.tenant) : undefined;
  }

  /** Deletes a run and every row it wrote (an unfinished run that must not be resumed). */
  discardSync(syncId: string): void {
    this.transaction(() => {
      for (const table of OBJECT_TABLES) this.#stmt(`delete from ${table} where sync_id = ?`).run(syncId);
      this.#stmt("delete from v1_sync_runs where sync_id = ?").run(syncId);
      const exists = this.#db.prepare("select 1 from sqlite_master where type = 'table' and name = ?").get(TENANT_TABLE);
      if (exists) this.#stmt(`delete from ${TENANT_TABLE} where sync_id = ?`).run(syncId);
    });
  }

  /** Ends the run with its stats, then deletes runs older than the newest finished ones, with their rows. */
  endSync(syncId: string, stats: Record<string, unknown>): void {
    this.transaction(() => {
      const { changes } = this.#stmt("update v1_sync_runs set ended_at = ?, stats = ? where sync_id = ?").run(
        formatSqlTime(),
        JSON.stringify(stats),
        syncId,
      );
      if (Number(changes) === 0) throw new Error(`endSync: no sync run ${syncId}`);
      this.#pruneOldRuns();
    });
  }

  /** Go's retention (runs.ts): full runs beyond the limit go, partial runs are counted apart. */
  #pruneOldRuns(): void {
    const { skip, keep } = retentionFromEnv();
    if (skip) return;
    const victims = selectSyncsToDelete(this.syncRuns(), { keep });
    for (const victim of victims) {
      for (const table of OBJECT_TABLES) this.#stmt(`delete from ${table} where sync_id = ?`).run(victim);
      this.#stmt("delete from v1_sync_runs where sync_id = ?").run(victim);
    }
    if (victims.length > 0) this.#logger?.debug({ deleted: victims }, "c1z store: deleted old sync runs");
  }

  syncRuns(): SyncRunRow[] {
    return this.#db.prepare("select * from v1_sync_runs order by id").all().map(toSyncRun);
  }

  getSyncRun(syncId: string): SyncRunRow | undefined {
    const row = this.#stmt("select * from v1_sync_runs where sync_id = ?").get(syncId);
    return row ? toSyncRun(row) : undefined;
  }

  latestFinishedSync(syncType?: SyncType | string): SyncRunRow | undefined {
    const row = syncType
      ? this.#stmt("select * from v1_sync_runs where ended_at is not null and sync_type = ? order by id desc limit 1").get(syncType)
      : this.#stmt("select * from v1_sync_runs where ended_at is not null order by id desc limit 1").get();
    return row ? toSyncRun(row) : undefined;
  }

  // ---- writes (one transaction per call, upsert on (external_id, sync_id)) ---------------------------------

  putResourceTypes(syncId: string, resourceTypes: readonly ResourceType[]): void {
    if (resourceTypes.length === 0) return;
    const rows = resourceTypes.map(resourceTypeRow);
    const now = formatSqlTime();
    const insert = this.#stmt(
      `insert into v1_resource_types (external_id, data, sync_id, discovered_at) values (?, ?, ?, ?)
       on conflict (external_id, sync_id) do update set data = excluded.data, discovered_at = excluded.discovered_at`,
    );
    this.transaction(() => {
      for (const r of rows) insert.run(r.externalId, r.data, syncId, now);
    });
  }

  putResources(syncId: string, resources: readonly Resource[]): void {
    if (resources.length === 0) return;
    const rows = resourceRows(resources);
    const now = formatSqlTime();
    const insert = this.#stmt(
      `insert into v1_resources (resource_type_id, external_id, parent_resource_type_id, parent_resource_id, data, sync_id, discovered_at)
       values (?, ?, ?, ?, ?, ?, ?)
       on conflict (external_id, sync_id) do update set resource_type_id = excluded.resource_type_id,
         parent_resource_type_id = excluded.parent_resource_type_id, parent_resource_id = excluded.parent_resource_id,
         data = excluded.data, discovered_at = excluded.discovered_at`,
    );
    this.transaction(() => {
      for (const r of rows) {
        insert.run(r.resourceTypeId, r.externalId, r.parentResourceTypeId, r.parentResourceId, r.data, syncId, now);
      }
    });
  }

  putEntitlements(syncId: string, entitlements: readonly Entitlement[]): void {
    if (entitlements.length === 0) return;
    const rows = entitlementRows(entitlements);
    const now = formatSqlTime();
    const insert = this.#stmt(
      `insert into v1_entitlements (resource_type_id, resource_id, external_id, data, sync_id, discovered_at) values (?, ?, ?, ?, ?, ?)
       on conflict (external_id, sync_id) do update set resource_type_id = excluded.resource_type_id,
         resource_id = excluded.resource_id, data = excluded.data, discovered_at = excluded.discovered_at`,
    );
    this.transaction(() => {
      for (const r of rows) insert.run(r.resourceTypeId, r.resourceId, r.externalId, r.data, syncId, now);
    });
  }

  /** Stores grants; a GrantExpandable annotation is moved into `expansion` (needs_expansion when it names any). */
  putGrants(syncId: string, grants: readonly Grant[]): void {
    if (grants.length === 0) return;
    const rows = grantRows(grants);
    const now = formatSqlTime();
    const insert = this.#stmt(
      `insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id,
         external_id, expansion, needs_expansion, data, sync_id, discovered_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (external_id, sync_id) do update set resource_type_id = excluded.resource_type_id,
         resource_id = excluded.resource_id, entitlement_id = excluded.entitlement_id,
         principal_resource_type_id = excluded.principal_resource_type_id, principal_resource_id = excluded.principal_resource_id,
         expansion = excluded.expansion, needs_expansion = excluded.needs_expansion, data = excluded.data,
         discovered_at = excluded.discovered_at`,
    );
    this.transaction(() => {
      for (const r of rows) {
        insert.run(
          r.resourceTypeId,
          r.resourceId,
          r.entitlementId,
          r.principalResourceTypeId,
          r.principalResourceId,
          r.externalId,
          r.expansion,
          r.needsExpansion,
          r.data,
          syncId,
          now,
        );
      }
    });
  }

  /** Marks grants as expanded (needs_expansion = 0); their `expansion` stays for the record. */
  setGrantExpansionDone(syncId: string, grantIds: readonly string[]): void {
    if (grantIds.length === 0) return;
    const update = this.#stmt("update v1_grants set needs_expansion = 0 where external_id = ? and sync_id = ?");
    this.transaction(() => {
      for (const id of grantIds) update.run(id, syncId);
    });
  }

  putAsset(syncId: string, externalId: string, contentType: string, data: Uint8Array): void {
    this.#stmt(
      `insert into v1_assets (external_id, content_type, data, sync_id, discovered_at) values (?, ?, ?, ?, ?)
       on conflict (external_id, sync_id) do update set content_type = excluded.content_type, data = excluded.data,
         discovered_at = excluded.discovered_at`,
    ).run(externalId, contentType, data, syncId, formatSqlTime());
  }

  getAsset(syncId: string, externalId: string): { contentType: string; data: Uint8Array } | undefined {
    const row = this.#stmt("select content_type, data from v1_assets where external_id = ? and sync_id = ?").get(externalId, syncId);
    return row ? { contentType: str(row.content_type), data: bytes(row.data) } : undefined;
  }

  putSessionValue(syncId: string, key: string, value: Uint8Array): void {
    this.#stmt(
      `insert into v1_connector_sessions (sync_id, key, value) values (?, ?, ?)
       on conflict (sync_id, key) do update set value = excluded.value`,
    ).run(syncId, key, value);
  }

  getSessionValue(syncId: string, key: string): Uint8Array | undefined {
    const row = this.#stmt("select value from v1_connector_sessions where sync_id = ? and key = ?").get(syncId, key);
    return row ? bytes(row.value) : undefined;
  }

  deleteSessionValue(syncId: string, key: string): void {
    this.#stmt("delete from v1_connector_sessions where sync_id = ? and key = ?").run(syncId, key);
  }

  // ---- reads ----------------------------------------------------------------------------------------------

  resourceTypes(syncId: string): ResourceType[] {
    return this.#stmt("select data from v1_resource_types where sync_id = ? order by id")
      .all(syncId)
      .map((r) => decodeResourceType(bytes(r.data)));
  }

  getResourceType(syncId: string, resourceTypeId: string): ResourceType | undefined {
    const row = this.#stmt("select data from v1_resource_types where external_id = ? and sync_id = ?").get(resourceTypeId, syncId);
    return row ? decodeResourceType(bytes(row.data)) : undefined;
  }

  *iterateResources(syncId: string, filter: ResourceFilter = {}): Generator<ResourceRow> {
    const where = new Conditions(syncId, filter.afterRowId);
    where.add("resource_type_id", filter.resourceTypeId);
    where.add("parent_resource_type_id", filter.parentResourceTypeId);
    where.add("parent_resource_id", filter.parentResourceId);
    where.notIn("resource_type_id", filter.excludeResourceTypeIds);
    for (const row of this.#iterate("v1_resources", "id, data", where, filter.limit)) {
      yield { rowId: num(row.id), resource: decodeResource(bytes(row.data)) };
    }
  }

  /** The highest resource row id written so far (0 when none): rows appear in ascending id order. */
  lastResourceRowId(): number {
    return num(this.#stmt("select max(id) as m from v1_resources").get()?.m);
  }

  getResource(syncId: string, resourceTypeId: string, resourceId: string): Resource | undefined {
    const row = this.#stmt("select data from v1_resources where external_id = ? and sync_id = ?").get(
      resourceExternalId(resourceTypeId, resourceId),
      syncId,
    );
    return row ? decodeResource(bytes(row.data)) : undefined;
  }

  *iterateEntitlements(syncId: string, filter: EntitlementFilter = {}): Generator<EntitlementRow> {
    const where = new Conditions(syncId, filter.afterRowId);
    where.add("resource_type_id", filter.resourceTypeId);
    where.add("resource_id", filter.resourceId);
    for (const row of this.#iterate("v1_entitlements", "id, data", where, filter.limit)) {
      yield { rowId: num(row.id), entitlement: decodeEntitlement(bytes(row.data)) };
    }
  }

  getEntitlement(syncId: string, entitlementId: string): Entitlement | undefined {
    const row = this.#stmt("select data from v1_entitlements where external_id = ? and sync_id = ?").get(entitlementId, syncId);
    return row ? decodeEntitlement(bytes(row.data)) : undefined;
  }

  *iterateGrants(syncId: string, filter: GrantFilter = {}): Generator<GrantRow> {
    const where = new Conditions(syncId, filter.afterRowId);
    where.add("entitlement_id", filter.entitlementId);
    where.add("principal_resource_type_id", filter.principalResourceTypeId);
    where.add("principal_resource_id", filter.principalResourceId);
    where.add("resource_type_id", filter.resourceTypeId);
    where.add("resource_id", filter.resourceId);
    for (const row of this.#iterate("v1_grants", "id, data, expansion, needs_expansion", where, filter.limit)) {
      yield toGrantRow(row);
    }
  }

  getGrant(syncId: string, grantId: string): GrantRow | undefined {
    const row = this.#stmt("select id, data, expansion, needs_expansion from v1_grants where external_id = ? and sync_id = ?").get(
      grantId,
      syncId,
    );
    return row ? toGrantRow(row) : undefined;
  }

  /** Grants whose expansion is still to do (needs_expansion = 1), in row order. */
  *grantsNeedingExpansion(syncId: string, page: PageOptions = {}): Generator<GrantRow> {
    const where = new Conditions(syncId, page.afterRowId);
    where.raw("needs_expansion = 1");
    for (const row of this.#iterate("v1_grants", "id, data, expansion, needs_expansion", where, page.limit)) {
      yield toGrantRow(row);
    }
  }

  counts(syncId: string): StoreCounts {
    const byType = (table: string): Record<string, number> => {
      const out: Record<string, number> = {};
      const rows = this.#stmt(`select resource_type_id as t, count(*) as n from ${table} where sync_id = ? group by resource_type_id order by t`).all(syncId);
      for (const r of rows) out[str(r.t)] = num(r.n);
      return out;
    };
    const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);
    const resourcesByType = byType("v1_resources");
    const entitlementsByType = byType("v1_entitlements");
    const grantsByType = byType("v1_grants");
    return {
      resourceTypes: num(this.#stmt("select count(*) as n from v1_resource_types where sync_id = ?").get(syncId)?.n),
      resources: total(resourcesByType),
      entitlements: total(entitlementsByType),
      grants: total(grantsByType),
      resourcesByType,
      entitlementsByType,
      grantsByType,
    };
  }

  // ---- internals ------------------------------------------------------------------------------------------

  #assertOpen(): void {
    if (!this.#open) throw new Error("the c1z store is closed");
    if (this.#saving) throw new Error("the c1z store is being saved (await saveTo before using it)");
  }

  #stmt(sql: string): StatementSync {
    this.#assertOpen();
    let s = this.#statements.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  /** A fresh statement per scan: a cached one would be reset by a nested scan of the same shape. */
  *#iterate(table: string, columns: string, where: Conditions, limit: number | undefined): Generator<Record<string, SQLOutputValue>> {
    this.#assertOpen();
    const params = [...where.params];
    let sql = `select ${columns} from ${table} where ${where.sql()} order by id`;
    if (limit !== undefined) {
      sql += " limit ?";
      params.push(limit);
    }
    yield* this.#db.prepare(sql).iterate(...params);
  }
}

class Conditions {
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

function toGrantRow(row: Record<string, SQLOutputValue>): GrantRow {
  return {
    rowId: num(row.id),
    grant: decodeGrant(bytes(row.data)),
    expansion: decodeExpansion(row.expansion instanceof Uint8Array ? row.expansion : null),
    needsExpansion: num(row.needs_expansion) === 1,
  };
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
