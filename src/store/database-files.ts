// The files behind a store, from open to save: a sync's working database beside its c1z (locked, resumable,
// filled from the previous c1z), a private decoded copy for reading, a new scratch database; saving one as a
// c1z; and removing what is left afterwards. The only module of the store that calls format.ts, so a sync's
// --file goes one way: the store opens it here (format → defensive → schema), writes through the other modules,
// and saves it here (schema → format).
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { mkdtemp, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import type { Logger } from "pino";
import type { StoreConnection } from "./connection.ts";
import { dropForeignSchemaCode, openDefensive } from "./defensive.ts";
import { C1zWriteError, decompressC1zToFile, writeC1zFromFile, type WriteC1zOptions } from "./format.ts";
import { applySchema } from "./schema.ts";
import { num } from "./sql.ts";
import { ensurePrivateDirectory, WorkDirLock, workDirectoryPath } from "./workdir.ts";

const WORK_DB = "sync.sqlite";
const SIDE_FILES = ["-wal", "-shm", "-journal"];
/** Files a sync may leave in its working directory besides the database (decoding, compacting, compressing). */
const WORK_LEFTOVERS = [`${WORK_DB}.partial`, `${WORK_DB}.save`, "c1z.tmp"];

/** A working database with more free pages than this is saved through a compacted copy instead of in place. */
const MAX_FREE_FRACTION_IN_PLACE = 0.02;
/**
 * Page cache of a working database (KiB), while a sync writes and while it is saved. A sync appends rows to
 * tables whose indexes are deferred to the save, so a bigger cache buys little (bench org, issue 14: at 8 MB
 * 147-152 MB peak RSS, at 2 MB 139-140 MB, wall 19.0-19.3 s and CPU 14.0-14.9 s either way); and building those
 * indexes sorts with a buffer the size of the cache and fills it with index pages, which made an 8 MB cache the
 * peak of a sync's RSS (158-166 MB against 152 MB at 2 MB, the save as fast). 2 MB is also SQLite's default,
 * which the other modes keep.
 */
const SYNC_CACHE_KIB = 2000;

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

/** sync: a working database beside a c1z; readonly: a private decoded copy; scratch: a new private database. */
export type StoreMode = "sync" | "readonly" | "scratch";

interface SyncWork {
  /** The c1z this working database is for. */
  file: string;
  dir: string;
  lock: WorkDirLock;
}

/** An open database and the files it stands on. */
export interface StoreFiles {
  db: DatabaseSync;
  dbPath: string;
  mode: StoreMode;
  /** A private directory that goes when the store does (readonly, scratch). */
  tempDir?: string;
  /** The working directory and its lock (sync). */
  work?: SyncWork;
  /** A sync's working database that an earlier run left (resume) rather than one this open created. */
  reopened: boolean;
}

/** Path of the working database that `openForSync(file, { workDir })` uses (in its private directory). */
export function workingDatabasePath(file: string, workDir?: string): string {
  return join(workDirectoryPath(file, workDir), WORK_DB);
}

/**
 * Opens the working database for a sync of `file`. An existing working database (left by a killed run) is
 * opened as is, which is what makes resume possible; otherwise the previous `file` is decompressed into it
 * (earlier syncs are kept, as Baton does); otherwise a fresh schema is created.
 */
export async function openWorkingDatabase(file: string, options: OpenForSyncOptions): Promise<StoreFiles> {
  const { workDir } = options;
  if (workDir) mkdirSync(workDir, { recursive: true });
  const { dir, lock } = lockWorkDirectory(file, workDir);
  const dbPath = join(dir, WORK_DB);
  try {
    return await openLocked({ file: resolve(file), dir, lock }, dbPath, options);
  } catch (err) {
    // With no working database there is nothing to resume: leave nothing behind.
    lock.release(!existsSync(dbPath));
    throw err;
  }
}

async function openLocked(work: SyncWork, dbPath: string, options: OpenForSyncOptions): Promise<StoreFiles> {
  const { logger } = options;
  const { file } = work;
  const reopened = existsSync(dbPath);
  if (reopened && options.refuseUnfinishedWork) {
    throw new Error(
      `${file} has an unfinished sync in ${work.dir}: ${options.refuseUnfinishedWork}; run the same sync again to finish it first (or remove that directory to drop it)`,
    );
  }
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
    db.exec(`pragma cache_size = -${SYNC_CACHE_KIB}`);
    db.exec("pragma wal_autocheckpoint = 10000");
    applySchema(db);
  } catch (err) {
    db.close();
    throw new Error(`cannot prepare working database ${dbPath}: ${(err as Error).message} (remove it to start over)`, { cause: err });
  }
  return { db, dbPath, mode: "sync", work, reopened };
}

/** Opens a c1z for reading: it is decompressed into a private temp file that the store's close deletes. */
export async function openReadOnlyCopy(file: string, options: OpenReadOnlyOptions): Promise<StoreFiles> {
  if (!existsSync(file)) throw new Error(`c1z file not found: ${file}`);
  return inPrivateDirectory("c1z-read-", async (dbPath, tempDir) => {
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
    return { db, dbPath, mode: "readonly", tempDir, reopened: false };
  });
}

/** A new, empty database with Baton's schema in a private temp directory that the store's close (or save) deletes. */
export async function createScratchDatabase(): Promise<StoreFiles> {
  return inPrivateDirectory("c1z-new-", async (dbPath, tempDir) => {
    const db = openDatabase(dbPath, "new database");
    try {
      applySchema(db);
    } catch (err) {
      db.close();
      throw err;
    }
    return { db, dbPath, mode: "scratch", tempDir, reopened: false };
  });
}

/**
 * Writes the database as the c1z `file` (streamed through zstd, `<file>.tmp` + fsync + rename), with Baton's
 * full schema. On failure the error names `file` and the cause, the previous `file` is untouched, and the
 * database is as it was. The caller closes the connection and releases the files afterwards.
 *
 * A sync's working database is usually compact already (a fresh sync frees almost no pages): it is then
 * saved in place, checkpointed into rollback-journal mode (what readers expect) with the indexes the sync
 * deferred built into it. Otherwise (free pages left by pruned runs, or a read-only copy) a VACUUM INTO copy is
 * saved, so neither dead pages nor stale data from older runs end up in the file.
 */
export async function saveDatabase(conn: StoreConnection, files: StoreFiles, file: string, options: WriteC1zOptions): Promise<{ inPlace: boolean }> {
  const db = conn.db;
  const inPlace = files.mode === "sync" && freePageFraction(db) <= MAX_FREE_FRACTION_IN_PLACE;
  const source = inPlace ? files.dbPath : `${files.dbPath}.save`;
  if (!inPlace) rmSync(source, { force: true });
  conn.setSaving(true);
  try {
    if (files.mode === "readonly") db.exec("pragma query_only = OFF"); // VACUUM INTO writes a new file; the store's own data is unchanged
    let stage = inPlace ? "preparing" : "compacting the database into";
    try {
      if (inPlace) {
        db.exec("pragma wal_checkpoint(TRUNCATE)");
        db.exec("pragma journal_mode = DELETE");
        stage = "building the indexes of";
        applySchema(db);
      } else {
        db.prepare("vacuum into ?").run(source);
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
    const work = files.work;
    const ownFile = work !== undefined && resolve(file) === work.file;
    await writeC1zFromFile(source, file, ownFile && !options.tmpPath ? { ...options, tmpPath: join(work.dir, "c1z.tmp") } : options);
  } finally {
    if (!inPlace) rmSync(source, { force: true });
    if (files.mode === "readonly") db.exec("pragma query_only = ON");
    conn.setSaving(false);
  }
  return { inPlace };
}

/**
 * After the connection is closed: removes a private temp directory, and for a sync either keeps the working
 * database for resume (`keepWork`) or removes it with its leftovers, then releases the lock.
 */
export function releaseFiles(files: StoreFiles, keepWork: boolean): void {
  const { work, tempDir } = files;
  if (work) {
    if (!keepWork) {
      removeDatabaseFiles(files.dbPath);
      for (const name of WORK_LEFTOVERS) rmSync(join(work.dir, name), { force: true });
    }
    work.lock.release(!keepWork);
  }
  if (tempDir) {
    tempDirs.delete(tempDir);
    rmSync(tempDir, { recursive: true, force: true });
  }
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

// Private temp copies are removed on close, and on exit for stores never closed.
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

/** Runs `open` on `sync.sqlite` in a new private temp directory, which goes again when `open` fails. */
async function inPrivateDirectory(prefix: string, open: (dbPath: string, dir: string) => Promise<StoreFiles>): Promise<StoreFiles> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  trackTempDir(dir);
  try {
    return await open(join(dir, WORK_DB), dir);
  } catch (err) {
    tempDirs.delete(dir);
    await rm(dir, { recursive: true, force: true });
    throw err;
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

/** Drops the triggers and views a decompressed file brought (defensive.ts) before anything uses it; logs what went. */
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

function freePageFraction(db: DatabaseSync): number {
  const pages = num(db.prepare("pragma page_count").get()?.page_count);
  const free = num(db.prepare("pragma freelist_count").get()?.freelist_count);
  return pages > 0 ? free / pages : 0;
}
