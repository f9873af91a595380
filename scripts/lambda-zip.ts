/**
 * A small ZIP writer and reader (PKWARE APPNOTE 6.3: local headers, central directory, end record; deflate or
 * store per entry) on node:zlib, for the Lambda deployment package: no system `zip`, no dependency. Entries are
 * written in the order given with a fixed timestamp, so the same files make the same zip. Unix permissions
 * travel in the external attributes (Lambda needs its files world-readable). No ZIP64: a package past 65,535
 * entries or 4 GiB is refused with the numbers, which Lambda's 250 MB unzipped limit rules out long before.
 */
import { crc32, deflateRawSync, inflateRawSync } from "node:zlib";

export interface ZipEntryInput {
  /** Path inside the zip, '/'-separated, no leading '/'. */
  name: string;
  data: Uint8Array;
  /** Unix mode bits (default 0o644). */
  mode?: number;
}

export interface ZipEntry {
  name: string;
  data: Buffer;
  mode: number;
  method: "store" | "deflate";
}

const LOCAL_SIG = 0x04034b50;
const CENTRAL_SIG = 0x02014b50;
const END_SIG = 0x06054b50;
const MAX_ENTRIES = 0xffff;
const MAX_OFFSET = 0xffffffff;
// 1980-01-01 00:00: the earliest DOS date, a fixed stamp so that the bytes depend only on the files.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

function checkName(name: string): void {
  if (!name || name.startsWith("/") || name.includes("\\") || name.split("/").some((p) => p === ".." || p === "")) {
    throw new Error(`zip: unsafe entry name ${JSON.stringify(name)} (relative '/'-separated paths without '..' only)`);
  }
}

/** The zip file of `entries`; each is deflated unless that does not make it smaller. */
export function writeZip(entries: ZipEntryInput[]): Buffer {
  if (entries.length > MAX_ENTRIES) throw new Error(`zip: ${entries.length} entries; this writer has no ZIP64 and stops at ${MAX_ENTRIES}`);
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  const seen = new Set<string>();
  for (const entry of entries) {
    checkName(entry.name);
    if (seen.has(entry.name)) throw new Error(`zip: duplicate entry ${entry.name}`);
    seen.add(entry.name);
    const name = Buffer.from(entry.name, "utf8");
    const raw = Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength);
    const deflated = deflateRawSync(raw, { level: 9 });
    const useDeflate = deflated.length < raw.length;
    const body = useDeflate ? deflated : raw;
    const crc = crc32(raw);
    const method = useDeflate ? 8 : 0;
    const flags = 0x0800; // names are UTF-8

    const local = Buffer.alloc(30);
    local.writeUInt32LE(LOCAL_SIG, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);

    const header = Buffer.alloc(46);
    header.writeUInt32LE(CENTRAL_SIG, 0);
    header.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, spec 2.0 (so the mode bits below are read)
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(flags, 8);
    header.writeUInt16LE(method, 10);
    header.writeUInt16LE(DOS_TIME, 12);
    header.writeUInt16LE(DOS_DATE, 14);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(body.length, 20);
    header.writeUInt32LE(raw.length, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt16LE(0, 30); // extra
    header.writeUInt16LE(0, 32); // comment
    header.writeUInt16LE(0, 34); // disk
    header.writeUInt16LE(0, 36); // internal attributes
    header.writeUInt32LE(((0o100000 | (entry.mode ?? 0o644)) << 16) >>> 0, 38); // regular file + mode
    header.writeUInt32LE(offset, 42);
    central.push(header, name);

    parts.push(local, name, body);
    offset += local.length + name.length + body.length;
    if (offset > MAX_OFFSET) throw new Error(`zip: past 4 GiB at ${entry.name}; this writer has no ZIP64`);
  }
  const centralDir = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(END_SIG, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralDir.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20);
  return Buffer.concat([...parts, centralDir, end]);
}

/** Reads a zip this writer (or any plain store/deflate zip without ZIP64) made; checks every CRC. */
export function readZip(zip: Buffer, limits: { maxEntries?: number; maxUnpackedBytes?: number } = {}): ZipEntry[] {
  const maxEntries = limits.maxEntries ?? MAX_ENTRIES;
  const maxUnpacked = limits.maxUnpackedBytes ?? 512 * 1024 * 1024;
  let endAt = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === END_SIG) {
      endAt = i;
      break;
    }
  }
  if (endAt < 0) throw new Error("zip: no end of central directory record (not a zip file?)");
  const count = zip.readUInt16LE(endAt + 10);
  if (count > maxEntries) throw new Error(`zip: ${count} entries, more than ${maxEntries}`);
  let at = zip.readUInt32LE(endAt + 16);
  const entries: ZipEntry[] = [];
  let unpacked = 0;
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== CENTRAL_SIG) throw new Error(`zip: central directory entry ${i} is damaged`);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const packedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLen = zip.readUInt16LE(at + 28);
    const extraLen = zip.readUInt16LE(at + 30);
    const commentLen = zip.readUInt16LE(at + 32);
    const attrs = zip.readUInt32LE(at + 38);
    const localAt = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLen).toString("utf8");
    at += 46 + nameLen + extraLen + commentLen;
    checkName(name.replace(/\/$/, "") || "?");
    if (name.endsWith("/")) continue; // a directory entry
    unpacked += size;
    if (unpacked > maxUnpacked) throw new Error(`zip: more than ${maxUnpacked} bytes unpacked`);
    if (zip.readUInt32LE(localAt) !== LOCAL_SIG) throw new Error(`zip: local header of ${name} is damaged`);
    const dataAt = localAt + 30 + zip.readUInt16LE(localAt + 26) + zip.readUInt16LE(localAt + 28);
    const packed = zip.subarray(dataAt, dataAt + packedSize);
    let data: Buffer;
    if (method === 0) data = Buffer.from(packed);
    else if (method === 8) data = inflateRawSync(packed, { maxOutputLength: Math.max(size, 1) });
    else throw new Error(`zip: ${name} uses compression method ${method}; only store and deflate are read`);
    if (data.length !== size || crc32(data) !== crc) throw new Error(`zip: ${name} fails its CRC/size check`);
    entries.push({ name, data, mode: (attrs >>> 16) & 0o777, method: method === 8 ? "deflate" : "store" });
  }
  return entries;
}
