// The store against files it did not write and processes it does not trust: the private working directory and its
// lock, defensive opening, the working-only tenant record, links where the store writes, and byte sizes.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { constants as zc, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { ResourceSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { decompressC1zToFile, writeC1zFromFile } from "../../src/store/format.ts";
import { formatBytes, parseByteSize } from "../../src/store/size.ts";
import { SyncStore, workingDatabasePath } from "../../src/store/store.ts";
import { SyncLockedError, workDirectoryPath } from "../../src/store/workdir.ts";

let dir = "";
const open: SyncStore[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "c1z-trust-"));
});
afterEach(() => {
  for (const s of open.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});
const forSync = async (file: string) => {
  const s = await SyncStore.openForSync(file);
  open.push(s);
  return s;
};

const user = (id: string) => create(ResourceSchema, { id: { resourceType: "user", resource: id }, displayName: id });

/** Decodes the c1z at `file` into a plain database and returns sqlite_master rows (type, name), or runs `sql`. */
function masterOf(file: string, sql = "select type, name from sqlite_master"): { type: string; name: string }[] {
  const raw = join(dir, `master-${Math.random().toString(36).slice(2)}.sqlite`);
  writeFileSync(raw, zstdDecompressSync(readFileSync(file).subarray(5)));
  const db = new DatabaseSync(raw);
  try {
    return db.prepare(sql).all().map((r) => ({ type: String(r.type), name: String(r.name) }));
  } finally {
    db.close();
  }
}

async function savedSample(file: string): Promise<string> {
  const s = await forSync(file);
  const id = s.startSync();
  s.putResources(id, [user("u1"), user("u2")]);
  s.endSync(id, {});
  await s.saveTo(file);
  return id;
}

describe("the private working directory and its lock", () => {
  it("is created with mode 700 beside the file, and goes away once the sync is saved", async () => {
    const file = join(dir, "sync.c1z");
    const store = await forSync(file);
    expect(workingDatabasePath(file)).toBe(join(`${file}.work`, "sync.sqlite"));
    expect(statSync(`${file}.work`).mode & 0o777).toBe(0o700);
    const id = store.startSync();
    store.endSync(id, {});
    await store.saveTo(file);
    expect(existsSync(`${file}.work`)).toBe(false);
  });

  it("refuses a link, a file, or a directory others may enter at its place", async () => {
    const file = join(dir, "sync.c1z");
    const target = join(dir, "target");
    mkdirSync(target);
    symlinkSync(target, workDirectoryPath(file));
    await expect(SyncStore.openForSync(file)).rejects.toThrow(/refusing to use the working directory .*sync\.c1z\.work: it is a symbolic link/);
    rmSync(workDirectoryPath(file));
    writeFileSync(workDirectoryPath(file), "x");
    await expect(SyncStore.openForSync(file)).rejects.toThrow(/it is not a directory/);
    rmSync(workDirectoryPath(file));
    mkdirSync(workDirectoryPath(file));
    chmodSync(workDirectoryPath(file), 0o755);
    await expect(SyncStore.openForSync(file)).rejects.toThrow(/other users may enter it \(mode 755, a sync uses 700\)/);
  });

  it("lets one store at a time use a file; the second is told which process holds it", async () => {
    const file = join(dir, "sync.c1z");
    const first = await forSync(file);
    const err = await SyncStore.openForSync(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SyncLockedError);
    expect((err as SyncLockedError).holder?.pid).toBe(process.pid);
    expect((err as Error).message).toMatch(new RegExp(`another sync holds ${file} \\(process ${process.pid}, started `));
    first.close(); // closed without having written anything: nothing to resume, so nothing stays; the lock goes
    expect(existsSync(workingDatabasePath(file))).toBe(false);
    const again = await forSync(file);
    expect(again.isOpen).toBe(true);
  });
});

describe("files someone else wrote", () => {
  it("a view named like a Baton table, with an INSTEAD OF trigger, and other triggers are dropped unrun before a sync writes", async () => {
    const raw = join(dir, "hostile.sqlite");
    const db = new DatabaseSync(raw);
    db.exec(`
      create table sink (what text);
      create table real_resources (id integer primary key, external_id text);
      create view v1_resources as select id, external_id from real_resources;
      create trigger redirect instead of insert on v1_resources begin insert into sink values (new.external_id); end;
      create table v1_sync_runs (id INTEGER PRIMARY KEY, sync_id TEXT NOT NULL, started_at DATETIME NOT NULL, ended_at DATETIME, sync_token TEXT NOT NULL);
      create trigger on_run after insert on v1_sync_runs begin insert into sink values ('run'); end;
      create table sdk_work_sync_tenants (sync_id TEXT PRIMARY KEY, tenant TEXT NOT NULL);
      insert into sdk_work_sync_tenants values ('planted', 'someone');
    `);
    db.close();
    const file = join(dir, "sync.c1z");
    writeFileSync(file, Buffer.concat([Buffer.from("C1ZF\0", "latin1"), zstdCompressSync(readFileSync(raw), { params: { [zc.ZSTD_c_contentSizeFlag]: 1 } })]));

    const store = await forSync(file);
    expect(store.syncTenant("planted")).toBeUndefined();
    const id = store.startSync();
    store.putResources(id, [user("u1")]);
    expect(store.counts(id).resources).toBe(1);
    store.endSync(id, {});
    await store.saveTo(file);
    const master = masterOf(file);
    expect(master.filter((r) => r.type === "trigger" || r.type === "view")).toEqual([]);
    expect(master.find((r) => r.name === "v1_resources")?.type).toBe("table");
    expect(master.map((r) => r.name)).not.toContain("sdk_work_sync_tenants");
    expect(masterOf(file, "select 'sink' as type, count(*) as name from sink")).toEqual([{ type: "sink", name: "0" }]); // no trigger ran
    const reader = await SyncStore.openReadOnly(file);
    open.push(reader);
    expect(reader.counts(id).resources).toBe(1);
  });

  it("openReadOnly decodes into a private temp directory", async () => {
    const file = join(dir, "sync.c1z");
    await savedSample(file);
    const reader = await SyncStore.openReadOnly(file);
    open.push(reader);
    expect(statSync(join(reader.databasePath, "..")).mode & 0o777).toBe(0o700);
  });
});

describe("the tenant record", () => {
  it("is kept with an unfinished run, never saved, and a discarded run takes its rows with it", async () => {
    const file = join(dir, "sync.c1z");
    const kept = await savedSample(file);
    const a = await forSync(file);
    const run = a.startSync();
    a.setSyncTenant(run, JSON.stringify({ id: "t:A" }));
    a.putResources(run, [user("x1")]);
    a.close();

    const b = await forSync(file);
    expect(b.unfinishedSync()?.syncId).toBe(run);
    expect(b.syncTenant(run)).toBe('{"id":"t:A"}');
    b.discardSync(run);
    expect(b.unfinishedSync()).toBeUndefined();
    expect(b.counts(run).resources).toBe(0);
    expect(b.syncTenant(run)).toBeUndefined();
    expect(b.counts(kept).resources).toBe(2);
    const next = b.startSync();
    b.setSyncTenant(next, JSON.stringify({ id: "t:B" }));
    b.endSync(next, {});
    await b.saveTo(file);
    expect(masterOf(file).map((r) => r.name)).not.toContain("sdk_work_sync_tenants");
  });
});

describe("links where the store writes", () => {
  it("decompression refuses a link at its output; the c1z writer refuses one at its temp file", async () => {
    const file = join(dir, "sync.c1z");
    await savedSample(file);
    const victim = join(dir, "victim.txt");
    writeFileSync(victim, "keep me");
    const out = join(dir, "out.sqlite");
    symlinkSync(victim, out);
    await expect(decompressC1zToFile(file, out)).rejects.toThrow(/out\.sqlite is a symbolic link; refusing to write through it/);
    const db = join(dir, "plain.sqlite");
    writeFileSync(db, zstdDecompressSync(readFileSync(file).subarray(5)));
    const target = join(dir, "copy.c1z");
    symlinkSync(victim, `${target}.tmp`);
    await expect(writeC1zFromFile(db, target)).rejects.toThrow(/copy\.c1z\.tmp is a symbolic link; refusing to write through it/);
    expect(readFileSync(victim, "utf8")).toBe("keep me");
  });
});

describe("byte sizes", () => {
  it("parses what people type and refuses the rest", () => {
    expect(parseByteSize("512MiB")).toBe(512 * 1024 ** 2);
    expect(parseByteSize("2GiB")).toBe(2 * 1024 ** 3);
    expect(parseByteSize("1.5 GB")).toBe(1.5e9);
    expect(parseByteSize("1048576")).toBe(1048576);
    expect(parseByteSize("10gib")).toBe(10 * 1024 ** 3);
    for (const bad of ["", "lots", "-1MiB", "0", "5 parsecs", "1e9"]) expect(parseByteSize(bad), bad).toBeUndefined();
    expect(formatBytes(512 * 1024 ** 2)).toBe("512 MiB");
    expect(formatBytes(1.5 * 1024 ** 3)).toBe("1.5 GiB");
    expect(formatBytes(700)).toBe("700 bytes");
  });
});
