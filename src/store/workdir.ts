// The private working directory of a sync of one c1z file, and the lock that lets only one sync use it.
//
// Every file a sync creates (the working database and the -wal, -shm and -journal files SQLite adds to it, the
// decompressed copy of the previous c1z, the compacted copy and the compressed c1z before its rename) lives in
// one directory beside --file that only this user can enter. SQLite opens its files following symlinks and
// offers node:sqlite no way to refuse them, so the files are kept where nobody else can plant a link, instead of
// being checked one by one (a check before SQLite opens a file would race with whoever plants it).
//
// The lock is a tiny SQLite database in that directory held in locking_mode=EXCLUSIVE: the lock is the OS's
// (fcntl), so it goes away with a SIGKILLed process and never goes stale. Which process holds it is written
// next to it, for the message a second sync prints.
import { lstatSync, mkdirSync, openSync, readSync, closeSync, rmSync, rmdirSync, writeFileSync, constants as fsc } from "node:fs";
import { hostname } from "node:os";
import { basename, join } from "node:path";
import { DatabaseSync } from "node:sqlite";

export const WORK_DIR_SUFFIX = ".work";
const LOCK_FILE = "lock";
const OWNER_FILE = "owner";
const OWNER_MAX_BYTES = 4096;

/** Another sync holds the working directory of this file. */
export class SyncLockedError extends Error {
  readonly file: string;
  readonly holder: LockHolder | undefined;
  constructor(file: string, holder: LockHolder | undefined) {
    const who = holder
      ? `process ${holder.pid}${holder.host && holder.host !== hostname() ? ` on ${holder.host}` : ""}, started ${holder.startedAt}`
      : "a process that did not say which";
    super(`another sync holds ${file} (${who}): wait for it to finish, or stop it, then run this again`);
    this.name = "SyncLockedError";
    this.file = file;
    this.holder = holder;
  }
}

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
}

/** The private directory of the working files for `file` (beside it, or in `workDir` when given). */
export function workDirectoryPath(file: string, workDir?: string): string {
  return workDir ? join(workDir, basename(file) + WORK_DIR_SUFFIX) : file + WORK_DIR_SUFFIX;
}

/**
 * Creates the directory (mode 0700) or checks that an existing one is a real directory of this user that nobody
 * else can enter; anything else (a symlink, a file, someone else's or a shared directory) is refused.
 */
export function ensurePrivateDirectory(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new Error(`cannot create the working directory ${dir}: ${(err as Error).message}`, { cause: err });
    }
  }
  const st = lstatSync(dir);
  const refuse = (why: string) =>
    new Error(`refusing to use the working directory ${dir}: ${why}; remove it (a sync creates it itself) and run this again`);
  if (st.isSymbolicLink()) throw refuse("it is a symbolic link, and a sync never writes through links");
  if (!st.isDirectory()) throw refuse("it is not a directory");
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw refuse(`it belongs to user ${st.uid}, not to this user (${uid})`);
  if ((st.mode & 0o077) !== 0) throw refuse(`other users may enter it (mode ${(st.mode & 0o777).toString(8)}, a sync uses 700)`);
}

/** A held lock on a working directory; `release` frees it. */
export class WorkDirLock {
  readonly #db: DatabaseSync;
  readonly #dir: string;
  #held = true;

  private constructor(db: DatabaseSync, dir: string) {
    this.#db = db;
    this.#dir = dir;
  }

  /**
   * Takes the lock of `dir` (which must be private already) or throws SyncLockedError naming the holder. Never
   * waits: a second sync is told at once.
   */
  static acquire(dir: string, file: string): WorkDirLock {
    const path = join(dir, LOCK_FILE);
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path, { timeout: 0 });
      db.exec("pragma locking_mode = EXCLUSIVE");
      db.exec("pragma journal_mode = DELETE");
      // The first write takes SQLite's EXCLUSIVE lock; the locking mode keeps it until the connection closes.
      db.exec("begin exclusive");
      db.exec("create table if not exists held (pid integer)");
      db.exec("commit");
    } catch (err) {
      db?.close();
      if (isBusy(err)) throw new SyncLockedError(file, readHolder(dir));
      throw new Error(`cannot lock the working directory ${dir}: ${(err as Error).message}`, { cause: err });
    }
    const holder: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
    writeFileSync(join(dir, OWNER_FILE), JSON.stringify(holder) + "\n", { mode: 0o600 });
    return new WorkDirLock(db, dir);
  }

  get held(): boolean {
    return this.#held;
  }

  /** Frees the lock. With `removeDirectory`, the directory goes too (after a saved sync: nothing is left to resume). */
  release(removeDirectory = false): void {
    if (!this.#held) return;
    this.#held = false;
    if (removeDirectory) {
      // Unlinked while still held: a sync that starts now creates and locks a fresh lock file, never this one.
      for (const name of [OWNER_FILE, LOCK_FILE, `${LOCK_FILE}-journal`]) rmSync(join(this.#dir, name), { force: true });
    }
    this.#db.close();
    if (removeDirectory) {
      try {
        rmdirSync(this.#dir);
      } catch {
        // a sync that started meanwhile has files in it: the directory is its now
      }
    }
  }
}

function isBusy(err: unknown): boolean {
  const e = err as { errcode?: unknown; message?: unknown };
  const primary = Number(e?.errcode) & 0xff;
  return primary === 5 || primary === 6 || /database is locked/i.test(String(e?.message)); // SQLITE_BUSY, SQLITE_LOCKED
}

/** The holder's note, read without following a link and with a size bound; undefined when absent or garbled. */
function readHolder(dir: string): LockHolder | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(join(dir, OWNER_FILE), fsc.O_RDONLY | fsc.O_NOFOLLOW);
    const buf = Buffer.alloc(OWNER_MAX_BYTES);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const parsed = JSON.parse(buf.subarray(0, n).toString("utf8")) as Partial<LockHolder>;
    if (!Number.isSafeInteger(parsed.pid)) return undefined;
    return {
      pid: parsed.pid!,
      host: typeof parsed.host === "string" ? parsed.host.slice(0, 255) : "",
      startedAt: typeof parsed.startedAt === "string" ? parsed.startedAt.slice(0, 64) : "an unknown time",
    };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
