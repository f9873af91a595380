// The c1z v1 container (PROTOCOL.md §2): magic "C1ZF\0", then one zstd frame with the content size in its
// header, whose payload is a SQLite 3 database file. This module only moves bytes between a c1z file and a
// plain database file; it knows nothing about tables.
import { constants as fsc, createReadStream, createWriteStream } from "node:fs";
import { lstat, open, rename, rm, stat, statfs } from "node:fs/promises";
import { dirname } from "node:path";
import { Transform, type TransformCallback, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { constants as zc, createZstdCompress, createZstdDecompress } from "node:zlib";
import { formatBytes } from "./size.ts";

export const C1Z_MAGIC: Uint8Array = Uint8Array.of(0x43, 0x31, 0x5a, 0x46, 0x00);
/** Readers refuse payloads that decode to more than this (a decompression bomb guard). */
export const DEFAULT_MAX_DECODED_BYTES = 10 * 1024 ** 3;
/** The SDK flag that sets the cap, named in the refusal so that a legitimately large file can be let through. */
export const MAX_DECODED_SIZE_FLAG = "--max-c1z-decoded-size";
/**
 * Decoding stops this far short of filling the disk: the database is about to grow (a sync writes into it) and
 * other programs share the disk.
 */
export const FREE_SPACE_RESERVE_BYTES = 16 * 1024 ** 2;
/** 2^27 = 128 MiB: the largest zstd window a reader accepts. */
export const ZSTD_WINDOW_LOG_MAX = 27;
export const DEFAULT_COMPRESSION_LEVEL = 3;

const SQLITE_HEADER = Buffer.from("SQLite format 3\0", "latin1");
const ZSTD_FRAME_MAGIC = 0xfd2fb528;

export type C1zFormatErrorCode = "BAD_HEADER" | "CORRUPT" | "TRUNCATED" | "WINDOW_TOO_LARGE" | "TOO_LARGE" | "NOT_SQLITE";

/** A c1z file that cannot be read; `code` says why. */
export class C1zFormatError extends Error {
  readonly code: C1zFormatErrorCode;
  readonly path: string;
  constructor(code: C1zFormatErrorCode, path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "C1zFormatError";
    this.code = code;
    this.path = path;
  }
}

/** Writing a c1z failed; the previous file at `path` (if any) is untouched and no temp file is left. */
export class C1zWriteError extends Error {
  readonly path: string;
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "C1zWriteError";
    this.path = path;
  }
}

export interface ZstdFrameHeader {
  /** Decoded size declared in the frame header, when the writer set it. */
  contentSize: bigint | undefined;
  headerBytes: number;
}

/** Parses a zstd frame header (RFC 8878 §3.1.1.1); returns undefined when `buf` is not one. */
export function parseZstdFrameHeader(buf: Uint8Array): ZstdFrameHeader | undefined {
  if (buf.length < 5) return undefined;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint32(0, true) !== ZSTD_FRAME_MAGIC) return undefined;
  const descriptor = buf[4];
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  if ((descriptor >> 3) & 1) return undefined; // reserved bit must be zero
  const dictIdBytes = [0, 1, 2, 4][descriptor & 3];
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag];
  let offset = 5 + (singleSegment ? 0 : 1) + dictIdBytes;
  const headerBytes = offset + fcsBytes;
  if (buf.length < headerBytes) return undefined;
  let contentSize: bigint | undefined;
  if (fcsBytes === 1) contentSize = BigInt(buf[offset]);
  else if (fcsBytes === 2) contentSize = BigInt(view.getUint16(offset, true)) + 256n;
  else if (fcsBytes === 4) contentSize = BigInt(view.getUint32(offset, true));
  else if (fcsBytes === 8) contentSize = view.getBigUint64(offset, true);
  return { contentSize, headerBytes };
}

export interface ReadC1zOptions {
  /** Refuse payloads that decode to more bytes than this. Default 10 GiB. */
  maxDecodedBytes?: number;
  /** How to get room when the disk is too small, for the message (e.g. "or set TMPDIR to a larger disk"). */
  noSpaceHint?: string;
}

/** Not enough free space where the c1z would be decoded; `code` is ENOSPC, as the write itself would have failed. */
export class C1zNoSpaceError extends Error {
  readonly code = "ENOSPC";
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.name = "C1zNoSpaceError";
    this.path = path;
  }
}

/** Bytes this user may still write on the file system holding `dir`; undefined when the system does not say. */
async function freeBytes(dir: string): Promise<number | undefined> {
  try {
    const s = await statfs(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined;
  }
}

/**
 * Decompresses the c1z at `c1zPath` into the SQLite file `outPath` (overwritten). On any failure `outPath` is
 * removed and a C1zFormatError (or the I/O error, with the path in its message) is thrown.
 */
export async function decompressC1zToFile(c1zPath: string, outPath: string, options: ReadC1zOptions = {}): Promise<void> {
  const maxDecodedBytes = options.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES;
  const head = Buffer.alloc(C1Z_MAGIC.length + 18);
  let bytesRead: number;
  try {
    const input = await open(c1zPath, "r");
    try {
      ({ bytesRead } = await input.read(head, 0, head.length, 0));
    } finally {
      await input.close();
    }
  } catch (err) {
    throw ioError(`cannot read c1z file ${c1zPath}`, err);
  }
  if (bytesRead < C1Z_MAGIC.length || !head.subarray(0, C1Z_MAGIC.length).equals(C1Z_MAGIC)) {
    throw new C1zFormatError(
      "BAD_HEADER",
      c1zPath,
      `not a c1z file: bad header (${c1zPath} does not start with the bytes "C1ZF\\0"; is it a c1z sync file?)`,
    );
  }
  const frame = parseZstdFrameHeader(head.subarray(C1Z_MAGIC.length, bytesRead));
  if (!frame) {
    if (bytesRead === C1Z_MAGIC.length) {
      throw new C1zFormatError("TRUNCATED", c1zPath, `c1z file ${c1zPath} is truncated: nothing follows the header`);
    }
    throw new C1zFormatError("CORRUPT", c1zPath, `c1z file ${c1zPath} has no zstd frame after the header`);
  }
  if (frame.contentSize !== undefined && frame.contentSize > BigInt(maxDecodedBytes)) {
    throw tooLarge(c1zPath, maxDecodedBytes, `declares ${frame.contentSize} decoded bytes`);
  }
  // The free space is checked before writing a byte, against the declared size when there is one; without one,
  // decoding stops before the disk is full (a bomb that declares nothing must not fill the disk either).
  const outDir = dirname(outPath);
  const free = await freeBytes(outDir);
  const room = free === undefined ? undefined : Math.max(0, free - FREE_SPACE_RESERVE_BYTES);
  if (room !== undefined && frame.contentSize !== undefined && frame.contentSize > BigInt(room)) {
    throw noSpace(c1zPath, outDir, free!, `it declares ${frame.contentSize} decoded bytes (${formatBytes(Number(frame.contentSize))})`, options.noSpaceHint);
  }
  let created = false;
  try {
    // flush: fsync before close, so the file is whole on disk before a caller renames it into place.
    // O_NOFOLLOW: a link planted at outPath makes the open fail (ELOOP) instead of overwriting its target.
    const flags = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW;
    const output = createWriteStream(outPath, { flags: flags as unknown as string, mode: 0o600, flush: true });
    output.once("open", () => (created = true));
    await pipeline(
      createReadStream(c1zPath, { start: C1Z_MAGIC.length }),
      createZstdDecompress({ params: { [zc.ZSTD_d_windowLogMax]: ZSTD_WINDOW_LOG_MAX } }),
      new PayloadGuard(c1zPath, maxDecodedBytes, room === undefined ? undefined : { room, free: free!, dir: outDir, hint: options.noSpaceHint }),
      output,
    );
  } catch (err) {
    if (created) await rm(outPath, { force: true }).catch(() => undefined);
    throw mapReadError(c1zPath, outPath, err);
  }
}

/** Counts decoded bytes against the cap and checks the payload starts like a SQLite database. */
class PayloadGuard extends Transform {
  #decoded = 0;
  #head = Buffer.alloc(0);
  readonly #path: string;
  readonly #max: number;
  readonly #space: { room: number; free: number; dir: string; hint: string | undefined } | undefined;
  constructor(path: string, max: number, space: { room: number; free: number; dir: string; hint: string | undefined } | undefined) {
    super();
    this.#path = path;
    this.#max = max;
    this.#space = space;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#decoded += chunk.length;
    if (this.#decoded > this.#max) {
      callback(tooLarge(this.#path, this.#max, "decodes past the cap"));
      return;
    }
    if (this.#space && this.#decoded > this.#space.room) {
      const { dir, free, room, hint } = this.#space;
      callback(noSpace(this.#path, dir, free, `it decodes to more than the ${room} bytes that fit`, hint));
      return;
    }
    if (this.#head.length < SQLITE_HEADER.length) {
      this.#head = Buffer.concat([this.#head, chunk.subarray(0, SQLITE_HEADER.length - this.#head.length)]);
      if (this.#head.length >= SQLITE_HEADER.length && !this.#head.equals(SQLITE_HEADER)) {
        callback(notSqlite(this.#path));
        return;
      }
    }
    callback(null, chunk);
  }
  override _flush(callback: TransformCallback): void {
    callback(this.#head.length < SQLITE_HEADER.length ? notSqlite(this.#path) : null);
  }
}

function notSqlite(path: string): C1zFormatError {
  return new C1zFormatError("NOT_SQLITE", path, `c1z file ${path} does not hold a SQLite database (payload lacks the "SQLite format 3" header)`);
}

function tooLarge(path: string, max: number, detail: string): C1zFormatError {
  return new C1zFormatError(
    "TOO_LARGE",
    path,
    `c1z file ${path} ${detail}: refusing to decode more than ${max} bytes (${formatBytes(max)}, the limit of ${MAX_DECODED_SIZE_FLAG}; ` +
      `a decompression bomb, or a file larger than that limit: raise it if the file is legitimate)`,
  );
}

function noSpace(path: string, dir: string, free: number, detail: string, hint = ""): C1zNoSpaceError {
  return new C1zNoSpaceError(
    path,
    `cannot decompress c1z file ${path}: ENOSPC: no space left on device for it in ${dir}: ${detail}, and ${free} bytes ` +
      `(${formatBytes(free)}) are free there, of which ${formatBytes(FREE_SPACE_RESERVE_BYTES)} are kept in reserve; ` +
      `free space there${hint ? `, ${hint}` : ""}`,
  );
}

function mapReadError(c1zPath: string, outPath: string, err: unknown): Error {
  if (err instanceof C1zFormatError || err instanceof C1zNoSpaceError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = String(e?.code ?? "");
  if (code === "Z_BUF_ERROR" || /unexpected end of file/i.test(String(e?.message))) {
    return new C1zFormatError("TRUNCATED", c1zPath, `c1z file ${c1zPath} is truncated: the zstd stream ends early`, { cause: err });
  }
  if (code === "ZSTD_error_frameParameter_windowTooLarge") {
    return new C1zFormatError(
      "WINDOW_TOO_LARGE",
      c1zPath,
      `c1z file ${c1zPath} needs a zstd window larger than ${2 ** ZSTD_WINDOW_LOG_MAX / 2 ** 20} MiB; refusing to decode it`,
      { cause: err },
    );
  }
  if (code.startsWith("ZSTD_error") || code.startsWith("Z_")) {
    return new C1zFormatError("CORRUPT", c1zPath, `c1z file ${c1zPath} holds corrupt zstd data: ${e.message}`, { cause: err });
  }
  if (code === "ELOOP") {
    return new Error(`cannot decompress c1z file ${c1zPath}: ${outPath} is a symbolic link; refusing to write through it (remove it)`, {
      cause: err,
    });
  }
  return ioError(`cannot decompress c1z file ${c1zPath} into ${outPath}`, err);
}

function ioError(what: string, err: unknown): Error {
  return new Error(`${what}: ${describe(err)}`, { cause: err });
}

/** "EFBIG: file too large, write" — the code once, then Node's message. */
function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const message = e?.message ?? String(err);
  return e?.code && !message.startsWith(e.code) ? `${e.code}: ${message}` : message;
}

export interface WriteC1zOptions {
  compressionLevel?: number;
  /**
   * Where the compressed file is written before its rename to `outPath` (same file system). Default
   * `<outPath>.tmp`, which is refused when it is a symbolic link.
   */
  tmpPath?: string;
}

/**
 * Writes the SQLite file `dbPath` as the c1z `outPath`: to `<outPath>.tmp`, fsync, rename, fsync the directory.
 * Streams, so memory stays flat whatever the database size. On failure the temp file is removed, the previous
 * `outPath` is untouched, and a C1zWriteError names the path and the cause.
 */
export async function writeC1zFromFile(dbPath: string, outPath: string, options: WriteC1zOptions = {}): Promise<void> {
  const tmpPath = options.tmpPath ?? `${outPath}.tmp`;
  let created = false;
  try {
    const { size } = await stat(dbPath);
    // A stale temp file from a killed writer is ours to replace, a link is not: someone placed it there. The
    // exclusive create never writes through a link planted after this check either. flush: fsync before close.
    const existing = await lstat(tmpPath).catch(() => undefined);
    if (existing?.isSymbolicLink()) {
      throw new Error(`${tmpPath} is a symbolic link; refusing to write through it (remove it and run this again)`);
    }
    await rm(tmpPath, { force: true });
    const out = createWriteStream(tmpPath, { flags: "wx", mode: 0o644, flush: true });
    out.once("open", () => (created = true));
    out.write(C1Z_MAGIC);
    const compressor = createZstdCompress({
      pledgedSrcSize: size,
      params: {
        [zc.ZSTD_c_contentSizeFlag]: 1,
        [zc.ZSTD_c_checksumFlag]: 1,
        [zc.ZSTD_c_compressionLevel]: options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL,
      },
    });
    const writing = pipeline(compressor, out);
    writing.catch(() => undefined); // awaited below; it may fail (disk full) while the feed is still running
    let feedError: unknown;
    try {
      await feedFile(dbPath, compressor);
    } catch (err) {
      feedError = err;
      compressor.destroy(err as Error);
    }
    await writing; // a write failure (ENOSPC) is the cause of a feed that stopped with it, so it is thrown first
    if (feedError) throw feedError;
    await rename(tmpPath, outPath);
    created = false;
    await syncDirectory(dirname(outPath));
  } catch (err) {
    if (created) await rm(tmpPath, { force: true }).catch(() => undefined);
    throw new C1zWriteError(outPath, `cannot write c1z file ${outPath}: ${describe(err)}`, { cause: err });
  }
}

/**
 * Streams a file into `sink` through one reused buffer: a chunk is read only once the sink has consumed the
 * previous one. A read stream allocates a fresh buffer per chunk, and for a database of hundreds of MB those
 * pile up faster than the garbage collector frees them: the save, where a sync's RSS peaks, grew ~25 MB more.
 */
async function feedFile(path: string, sink: Writable): Promise<void> {
  const file = await open(path, "r");
  try {
    const buffer = Buffer.allocUnsafe(FEED_CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      await new Promise<void>((resolve, reject) => {
        // A sink destroyed mid-chunk (its output failed) may never call back: its close ends the wait instead.
        const onClose = () => reject(new Error("the compressor stopped before taking all of the database"));
        sink.once("close", onClose);
        sink.write(buffer.subarray(0, bytesRead), (err) => {
          sink.off("close", onClose);
          if (err) reject(err);
          else resolve();
        });
      });
    }
  } finally {
    await file.close();
  }
  sink.end();
}

const FEED_CHUNK_BYTES = 256 * 1024;

/** Makes a rename durable; some file systems refuse to open directories, which is not worth failing for. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
