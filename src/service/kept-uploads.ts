/**
 * Finished syncs whose upload failed because the platform was away, kept on disk so that a long outage does not
 * throw a whole sync away: the c1z is moved (not copied) into one private directory under the service's writable
 * directory (`<tempDir>/baton-kept-uploads`, i.e. /var/lib/baton in the image) with a small JSON record of the
 * task it belongs to. The runner uploads it when the platform answers again, also after a restart of the service.
 *
 * Bounds: a kept sync older than `maxAgeMs` (24 h) is deleted (the platform has surely given up on the task by
 * then); a sync is not kept when the kept ones would exceed `maxTotalBytes` (512 MiB) or the filesystem would be
 * left with less than `minFreeBytes` (256 MiB, room for the next sync's working copy).
 *
 * Files are created 0600 in a 0700 directory that must be a real directory owned by this user (a symlink there is
 * refused); records are written to a temporary name with O_EXCL|O_NOFOLLOW and renamed into place. File names
 * are a hash of host and task id: nothing secret, nothing a reader could use.
 */
import { createHash } from "node:crypto";
import { constants as fsc } from "node:fs";
import { copyFile, lstat, mkdir, open, readdir, readFile, rename, rm, statfs } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Logger } from "pino";

export const KEPT_UPLOADS_DIR_NAME = "baton-kept-uploads";
export const KEPT_UPLOAD_MAX_AGE_MS = 24 * 60 * 60_000;
/** A quarter of the 2 GiB emptyDir of the k8s manifests: the next sync's working copy still fits beside them. */
export const KEPT_UPLOADS_MAX_TOTAL_BYTES = 512 * 1024 * 1024;
export const KEPT_UPLOADS_MIN_FREE_BYTES = 256 * 1024 * 1024;
/** A record is a few hundred bytes; anything much larger in its place is not ours. */
const MAX_RECORD_BYTES = 64 * 1024;
/** Half-written files of a keep interrupted by a crash are swept once they are this old. */
const STRAY_AGE_MS = 10 * 60_000;

export interface KeptUploadsOptions {
  dir: string;
  maxAgeMs: number;
  maxTotalBytes: number;
  minFreeBytes: number;
}

export interface KeptUpload {
  taskId: string;
  hostId: string;
  /** The kept c1z. */
  file: string;
  /** When the sync was kept (ms since the epoch). */
  keptAt: number;
  bytes: number;
}

interface KeptRecord {
  version: 1;
  taskId: string;
  hostId: string;
  keptAt: number;
  bytes: number;
}

const NAME = /^sync-[0-9a-f]{32}\.(c1z|json)$/;

export class KeptUploads {
  readonly #o: KeptUploadsOptions;
  readonly #log: Logger;

  constructor(options: KeptUploadsOptions, logger: Logger) {
    this.#o = options;
    this.#log = logger;
  }

  get dir(): string {
    return this.#o.dir;
  }

  get maxAgeMs(): number {
    return this.#o.maxAgeMs;
  }

  expiresAt(kept: KeptUpload): number {
    return kept.keptAt + this.#o.maxAgeMs;
  }

  /**
   * Moves `file` into the kept directory for (hostId, taskId). Returns the kept upload, or a reason it was not
   * kept (the bounds, or a directory that is not safe to write); `file` stays where it was in that case.
   */
  async keep(file: string, hostId: string, taskId: string): Promise<KeptUpload | { refused: string }> {
    const dir = this.#o.dir;
    try {
      await this.#privateDir();
      const { size } = await lstat(file);
      const existing = await this.#keptBytes();
      if (existing + size > this.#o.maxTotalBytes) {
        return { refused: `keeping ${size} bytes would put the kept syncs in ${dir} over their ${this.#o.maxTotalBytes}-byte cap (${existing} bytes kept already)` };
      }
      const fs = await statfs(dir);
      const free = Number(fs.bavail) * Number(fs.bsize);
      if (free < this.#o.minFreeBytes) {
        return { refused: `only ${free} bytes are free on the filesystem of ${dir}, below the ${this.#o.minFreeBytes} bytes kept free for the next sync` };
      }
      const base = join(dir, baseName(hostId, taskId));
      const dest = `${base}.c1z`;
      await moveFile(file, dest);
      const handle = await open(dest, fsc.O_RDONLY | fsc.O_NOFOLLOW);
      try {
        await handle.chmod(0o600);
      } finally {
        await handle.close();
      }
      const keptAt = Date.now();
      const record: KeptRecord = { version: 1, taskId, hostId, keptAt, bytes: size };
      await writePrivate(`${base}.json`, JSON.stringify(record));
      return { taskId, hostId, file: dest, keptAt, bytes: size };
    } catch (err) {
      return { refused: `cannot keep it in ${dir}: ${(err as Error).message}` };
    }
  }

  /**
   * The kept uploads of `hostId`, oldest first. Deletes what has expired and what a crash left half-written;
   * another host's kept uploads (a shared directory) are left alone.
   */
  async list(hostId: string): Promise<KeptUpload[]> {
    let names: string[];
    try {
      names = await readdir(this.#o.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    if (!(await this.#isPrivateDir())) {
      this.#log.error({ dir: this.#o.dir }, "the kept-upload directory is not a private directory of this user (a symlink, another owner or open permissions); ignoring it");
      return [];
    }
    const now = Date.now();
    const found: KeptUpload[] = [];
    const owned = new Set<string>();
    for (const name of names.filter((n) => n.endsWith(".json") && NAME.test(n))) {
      const base = name.slice(0, -".json".length);
      const kept = await this.#read(base);
      if (!kept) continue;
      owned.add(`${base}.json`).add(`${base}.c1z`);
      if (now >= this.expiresAt(kept)) {
        this.#log.warn({ taskId: kept.taskId, keptAt: new Date(kept.keptAt).toISOString(), bytes: kept.bytes }, "a kept sync expired before it could be uploaded; deleting it");
        await this.remove(kept);
      } else if (kept.hostId === hostId) {
        found.push(kept);
      }
    }
    for (const name of names.filter((n) => !owned.has(n))) {
      if (!NAME.test(name) && !/^\.sync-[0-9a-f]{32}\.json\.[0-9a-f]+\.tmp$/.test(name)) continue; // not ours
      const path = join(this.#o.dir, name);
      const st = await lstat(path).catch(() => undefined);
      if (st && now - st.mtimeMs > STRAY_AGE_MS) await rm(path, { force: true });
    }
    return found.sort((a, b) => a.keptAt - b.keptAt);
  }

  async remove(kept: Pick<KeptUpload, "file">): Promise<void> {
    const base = kept.file.slice(0, -".c1z".length);
    await rm(`${base}.json`, { force: true });
    await rm(`${base}.c1z`, { force: true });
  }

  async #read(base: string): Promise<KeptUpload | undefined> {
    const recordPath = join(this.#o.dir, `${base}.json`);
    const file = join(this.#o.dir, `${base}.c1z`);
    try {
      const st = await lstat(recordPath);
      const c1z = await lstat(file);
      if (!st.isFile() || st.size > MAX_RECORD_BYTES || !c1z.isFile()) throw new Error("not a regular file");
      const r = JSON.parse(await readFile(recordPath, "utf8")) as Partial<KeptRecord>;
      if (r.version !== 1 || typeof r.taskId !== "string" || !r.taskId || typeof r.hostId !== "string" || typeof r.keptAt !== "number") {
        throw new Error("not a kept-upload record");
      }
      if (baseName(r.hostId, r.taskId) !== base) throw new Error("the record does not match its file name");
      return { taskId: r.taskId, hostId: r.hostId, file, keptAt: r.keptAt, bytes: c1z.size };
    } catch (err) {
      this.#log.warn({ file: recordPath, err: (err as Error).message }, "deleting an unreadable kept-upload record and its sync file");
      await rm(recordPath, { force: true });
      await rm(file, { force: true });
      return undefined;
    }
  }

  async #keptBytes(): Promise<number> {
    let total = 0;
    for (const name of await readdir(this.#o.dir)) {
      if (!name.endsWith(".c1z") || !NAME.test(name)) continue;
      const st = await lstat(join(this.#o.dir, name)).catch(() => undefined);
      if (st?.isFile()) total += st.size;
    }
    return total;
  }

  async #privateDir(): Promise<void> {
    try {
      await mkdir(this.#o.dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    if (!(await this.#isPrivateDir())) {
      throw new Error("it is not a private directory of this user (a symlink, another owner or open permissions)");
    }
  }

  async #isPrivateDir(): Promise<boolean> {
    const st = await lstat(this.#o.dir).catch(() => undefined);
    if (!st || !st.isDirectory()) return false;
    if (typeof process.getuid === "function" && st.uid !== process.getuid()) return false;
    return (st.mode & 0o077) === 0;
  }
}

function baseName(hostId: string, taskId: string): string {
  return `sync-${createHash("sha256").update(hostId).update("\0").update(taskId).digest("hex").slice(0, 32)}`;
}

/** rename, or (another filesystem) an exclusive copy then removal of the source. */
async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
    await rm(to, { force: true });
    try {
      await copyFile(from, to, fsc.COPYFILE_EXCL);
    } catch (copyErr) {
      await rm(to, { force: true });
      throw copyErr;
    }
    await rm(from, { force: true });
  }
}

async function writePrivate(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid.toString(16)}${Date.now().toString(16)}.tmp`);
  const handle = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  await rename(tmp, path);
}
