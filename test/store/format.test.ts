/** The c1z container: header, one zstd frame with its content size, a SQLite payload; hostile files refused. */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { constants as zc, zstdCompressSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  C1Z_MAGIC,
  C1zFormatError,
  C1zWriteError,
  decompressC1zToFile,
  parseZstdFrameHeader,
  writeC1zFromFile,
} from "../../src/store/format.ts";
import { CAN_LIMIT_FILE_SIZE, hasCommand, tempDir } from "./fixtures.ts";

const HAVE_ZSTD = hasCommand("zstd");
if (!HAVE_ZSTD) console.warn("SKIPPING c1z tests that need the `zstd` command-line tool: it is not installed");

let dir = "";
let cleanup = () => {};
beforeEach(() => ({ dir, cleanup } = tempDir("c1z-format-")));
afterEach(() => cleanup());

/** A real SQLite file with `blobBytes` of zeros in it (compresses to almost nothing). */
function makeDb(path: string, blobBytes = 1000): string {
  const db = new DatabaseSync(path);
  db.exec("create table t (id integer primary key, b blob)");
  db.prepare("insert into t (b) values (zeroblob(?))").run(blobBytes);
  db.close();
  return path;
}

const c1z = (payload: Uint8Array): Buffer => Buffer.concat([C1Z_MAGIC, payload]);

async function readError(file: string, maxDecodedBytes?: number): Promise<C1zFormatError> {
  const out = join(dir, "out.sqlite");
  const err = await decompressC1zToFile(file, out, { maxDecodedBytes }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(C1zFormatError);
  expect(existsSync(out)).toBe(false); // partial output removed
  return err as C1zFormatError;
}

describe("writing", () => {
  it("writes magic + one zstd frame whose header carries the content size; reads back byte-identical", async () => {
    const db = makeDb(join(dir, "a.sqlite"), 300_000);
    const out = join(dir, "a.c1z");
    await writeC1zFromFile(db, out);
    const bytes = readFileSync(out);
    expect([...bytes.subarray(0, 5)]).toEqual([0x43, 0x31, 0x5a, 0x46, 0x00]);
    expect(parseZstdFrameHeader(bytes.subarray(5))?.contentSize).toBe(BigInt(statSync(db).size));
    expect(readdirSync(dir).sort()).toEqual(["a.c1z", "a.sqlite"]); // no .tmp left
    const back = join(dir, "back.sqlite");
    await decompressC1zToFile(out, back);
    expect(readFileSync(back).equals(readFileSync(db))).toBe(true);
  });

  it.skipIf(!HAVE_ZSTD)("`zstd -lv` sees one frame with the decompressed size", async () => {
    const db = makeDb(join(dir, "a.sqlite"), 200_000);
    const out = join(dir, "a.c1z");
    await writeC1zFromFile(db, out);
    const frame = join(dir, "a.zst");
    writeFileSync(frame, readFileSync(out).subarray(5));
    const r = spawnSync("zstd", ["-lv", frame], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const text = r.stdout + r.stderr;
    expect(text).toMatch(/Zstandard Frames: 1/);
    expect(text).toMatch(new RegExp(`Decompressed Size: .*\\(${statSync(db).size} B\\)`));
  });

  it("replaces a stale temp file left by a killed writer", async () => {
    const db = makeDb(join(dir, "a.sqlite"));
    const out = join(dir, "a.c1z");
    writeFileSync(`${out}.tmp`, "half-written junk");
    await writeC1zFromFile(db, out);
    expect(existsSync(`${out}.tmp`)).toBe(false);
    await decompressC1zToFile(out, join(dir, "b.sqlite"));
  });

  it("fails with the path and cause when the directory does not exist", async () => {
    const db = makeDb(join(dir, "a.sqlite"));
    const out = join(dir, "missing", "a.c1z");
    const err = await writeC1zFromFile(db, out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(C1zWriteError);
    expect((err as Error).message).toContain(out);
    expect((err as Error).message).toMatch(/ENOENT/);
  });

  it.skipIf(!CAN_LIMIT_FILE_SIZE)(
    "disk full (a file-size limit) mid-write: clear error, previous file untouched, no temp file",
    () => {
      // Incompressible payload so the c1z is bigger than the limit while the source is readable.
      const dbPath = join(dir, "big.sqlite");
      const db = new DatabaseSync(dbPath);
      db.exec("create table t (b blob)");
      for (let i = 0; i < 32; i++) db.prepare("insert into t values (randomblob(32768))").run();
      db.close();
      const out = join(dir, "sync.c1z");
      writeFileSync(out, "previous good file");
      const child = join(import.meta.dirname, "children", "write-c1z.ts");
      const r = spawnSync("bash", ["-c", 'ulimit -f 256 && exec "$0" "$@"', process.execPath, child, "file", dbPath, out], {
        encoding: "utf8",
      });
      expect(r.status, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout.trim());
      expect(result.ok).toBe(false);
      expect(result.name).toBe("C1zWriteError");
      expect(result.message).toContain(`cannot write c1z file ${out}`);
      expect(result.message).toMatch(/EFBIG|ENOSPC|too large/i);
      expect(readFileSync(out, "utf8")).toBe("previous good file");
      expect(existsSync(`${out}.tmp`)).toBe(false);
    },
  );
});

describe("reading hostile files", () => {
  it("bad header: not a c1z file", async () => {
    const f = join(dir, "x.c1z");
    writeFileSync(f, "PK\x03\x04 this is a zip, not a c1z");
    const err = await readError(f);
    expect(err.code).toBe("BAD_HEADER");
    expect(err.message).toMatch(/^not a c1z file: bad header/);
    expect(err.message).toContain(f);
  });

  it("bad header: empty file, and a bare zstd frame without the magic", async () => {
    const empty = join(dir, "empty.c1z");
    writeFileSync(empty, "");
    expect((await readError(empty)).code).toBe("BAD_HEADER");
    const bare = join(dir, "bare.c1z");
    writeFileSync(bare, zstdCompressSync(readFileSync(makeDb(join(dir, "a.sqlite")))));
    expect((await readError(bare)).code).toBe("BAD_HEADER");
  });

  it("only the magic: truncated", async () => {
    const f = join(dir, "x.c1z");
    writeFileSync(f, C1Z_MAGIC);
    const err = await readError(f);
    expect(err.code).toBe("TRUNCATED");
  });

  it("garbage after the magic: corrupt", async () => {
    const f = join(dir, "x.c1z");
    writeFileSync(f, c1z(Buffer.from("definitely not zstd data at all")));
    const err = await readError(f);
    expect(err.code).toBe("CORRUPT");
    expect(err.message).toContain(f);
  });

  it("truncated zstd stream: clear error, no partial database", async () => {
    const db = makeDb(join(dir, "a.sqlite"), 500_000);
    const good = join(dir, "good.c1z");
    await writeC1zFromFile(db, good);
    const bytes = readFileSync(good);
    const f = join(dir, "cut.c1z");
    writeFileSync(f, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const err = await readError(f);
    expect(err.code).toBe("TRUNCATED");
    expect(err.message).toMatch(/truncated/);
  });

  it("a payload that is not SQLite", async () => {
    const f = join(dir, "x.c1z");
    writeFileSync(f, c1z(zstdCompressSync(Buffer.from("{\"resources\": []} -- json, not sqlite".repeat(100)))));
    const err = await readError(f);
    expect(err.code).toBe("NOT_SQLITE");
    expect(err.message).toMatch(/does not hold a SQLite database/);
    const tiny = join(dir, "tiny.c1z");
    writeFileSync(tiny, c1z(zstdCompressSync(Buffer.from("SQLite"))));
    expect((await readError(tiny)).code).toBe("NOT_SQLITE");
  });

  it("decompression bomb declaring its size: refused before decoding", async () => {
    const db = makeDb(join(dir, "a.sqlite"), 2_000_000);
    const f = join(dir, "bomb.c1z");
    await writeC1zFromFile(db, f);
    expect(statSync(f).size).toBeLessThan(10_000);
    const err = await readError(f, 256 * 1024);
    expect(err.code).toBe("TOO_LARGE");
    expect(err.message).toMatch(/refusing to decode more than 262144 bytes/);
  });

  it("decompression bomb hiding its size: stopped at the cap while streaming, partial output removed", async () => {
    const payload = readFileSync(makeDb(join(dir, "a.sqlite"), 2_000_000));
    const frame = zstdCompressSync(payload, { params: { [zc.ZSTD_c_contentSizeFlag]: 0 } });
    expect(parseZstdFrameHeader(frame)?.contentSize).toBeUndefined();
    const f = join(dir, "bomb.c1z");
    writeFileSync(f, c1z(frame));
    const err = await readError(f, 256 * 1024);
    expect(err.code).toBe("TOO_LARGE");
    expect(err.message).toMatch(/decodes past the cap/);
    // the same file under the default cap is fine
    await decompressC1zToFile(f, join(dir, "ok.sqlite"));
  });

  it.skipIf(!HAVE_ZSTD)("a frame that needs a zstd window over 128 MiB", async () => {
    // From a pipe the CLI does not know the size, so --long=28 declares a 256 MiB window.
    const r = spawnSync("zstd", ["-q", "-c", "--long=28", "--no-content-size"], { input: Buffer.alloc(4096, 1) });
    expect(r.status).toBe(0);
    const f = join(dir, "wide.c1z");
    writeFileSync(f, c1z(r.stdout));
    const err = await readError(f);
    expect(err.code).toBe("WINDOW_TOO_LARGE");
    expect(err.message).toMatch(/window larger than 128 MiB/);
  });

  it("a missing file: the path and ENOENT", async () => {
    const err = await decompressC1zToFile(join(dir, "nope.c1z"), join(dir, "o.sqlite")).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/cannot read c1z file .*nope\.c1z: ENOENT/);
  });
});
