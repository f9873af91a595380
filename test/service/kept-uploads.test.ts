/**
 * The kept-upload store on a real filesystem: moves, modes, bounds (size cap, free space, age), a symlink or an
 * open directory refused, leftovers of a crash swept, another host's files left alone, damaged records removed.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { KeptUploads, type KeptUploadsOptions } from "../../src/service/kept-uploads.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { capturedLogger } from "./helpers.ts";

const tempDir = tempDirs();
let root: string;
beforeEach(() => {
  root = tempDir("kept-uploads-test-");
});

function store(options: Partial<KeptUploadsOptions> = {}) {
  const logs = capturedLogger();
  const kept = new KeptUploads({ dir: join(root, "kept"), maxAgeMs: 60_000, maxTotalBytes: 1 << 20, minFreeBytes: 0, ...options }, logs.logger);
  return { kept, logs };
}

function syncFile(name: string, bytes: number): string {
  const file = join(root, name);
  writeFileSync(file, Buffer.alloc(bytes, 1), { mode: 0o644 });
  return file;
}

describe("kept uploads", () => {
  it("moves the file into a 0700 directory, files 0600, names without the task id, and lists it back", async () => {
    const { kept } = store();
    const file = syncFile("sync.c1z", 1000);
    const k = await kept.keep(file, "host-a", "task-secretish-42");
    expect("refused" in k).toBe(false);
    expect(existsSync(file)).toBe(false); // moved, not copied
    const dir = join(root, "kept");
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const names = readdirSync(dir).sort();
    expect(names).toHaveLength(2);
    expect(names.join(" ")).not.toContain("task-secretish-42");
    expect(names.join(" ")).not.toContain("host-a");
    for (const n of names) expect(statSync(join(dir, n)).mode & 0o777).toBe(0o600);
    const listed = await kept.list("host-a");
    expect(listed.map((l) => ({ taskId: l.taskId, hostId: l.hostId, bytes: l.bytes }))).toEqual([{ taskId: "task-secretish-42", hostId: "host-a", bytes: 1000 }]);
    await kept.remove(listed[0]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses to go over the size cap, and leaves the file where it was", async () => {
    const { kept } = store({ maxTotalBytes: 1500 });
    expect("refused" in (await kept.keep(syncFile("a.c1z", 1000), "h", "t1"))).toBe(false);
    const second = syncFile("b.c1z", 1000);
    const r = await kept.keep(second, "h", "t2");
    expect(r).toEqual({ refused: expect.stringMatching(/over their 1500-byte cap \(1000 bytes kept already\)/) });
    expect(existsSync(second)).toBe(true);
  });

  it("refuses when the filesystem would have less free space than the reserve", async () => {
    const { kept } = store({ minFreeBytes: Number.MAX_SAFE_INTEGER });
    const file = syncFile("a.c1z", 10);
    expect(await kept.keep(file, "h", "t")).toEqual({ refused: expect.stringMatching(/bytes are free on the filesystem of .* below the \d+ bytes kept free/) });
    expect(existsSync(file)).toBe(true);
  });

  it("deletes what is older than the maximum age when listing", async () => {
    const { kept, logs } = store({ maxAgeMs: 1 });
    await kept.keep(syncFile("a.c1z", 10), "h", "t");
    await new Promise((r) => setTimeout(r, 5));
    expect(await kept.list("h")).toEqual([]);
    expect(readdirSync(join(root, "kept"))).toEqual([]);
    expect(logs.text()).toContain("a kept sync expired before it could be uploaded");
  });

  it("leaves another host's kept syncs alone", async () => {
    const { kept } = store();
    await kept.keep(syncFile("a.c1z", 10), "other-host", "t");
    expect(await kept.list("this-host")).toEqual([]);
    expect(readdirSync(join(root, "kept"))).toHaveLength(2);
    expect((await kept.list("other-host")).map((k) => k.taskId)).toEqual(["t"]);
  });

  it("refuses a kept-upload directory that is a symlink or open to others", async () => {
    const elsewhere = join(root, "elsewhere");
    mkdirSync(elsewhere, { mode: 0o700 });
    symlinkSync(elsewhere, join(root, "kept"));
    const { kept } = store();
    const file = syncFile("a.c1z", 10);
    expect(await kept.keep(file, "h", "t")).toEqual({ refused: expect.stringMatching(/not a private directory/) });
    expect(readdirSync(elsewhere)).toEqual([]);
    expect(await kept.list("h")).toEqual([]);

    rmSync(join(root, "kept"));
    mkdirSync(join(root, "kept"));
    chmodSync(join(root, "kept"), 0o777);
    expect(await kept.keep(file, "h", "t")).toEqual({ refused: expect.stringMatching(/not a private directory/) });
  });

  it("sweeps a crash's leftovers (a c1z without record, a temporary record) once they are old, and removes damaged records", async () => {
    const { kept } = store();
    await kept.keep(syncFile("a.c1z", 10), "h", "t-good");
    const dir = join(root, "kept");
    const orphan = join(dir, `sync-${"a".repeat(32)}.c1z`);
    const tmp = join(dir, `.sync-${"b".repeat(32)}.json.1f.tmp`);
    const fresh = join(dir, `sync-${"c".repeat(32)}.c1z`);
    const damaged = join(dir, `sync-${"d".repeat(32)}.json`);
    const notOurs = join(dir, "README");
    for (const f of [orphan, tmp, fresh, notOurs]) writeFileSync(f, "x", { mode: 0o600 });
    writeFileSync(damaged, "{not json", { mode: 0o600 });
    writeFileSync(damaged.replace(".json", ".c1z"), "x", { mode: 0o600 });
    const old = new Date(Date.now() - 3_600_000);
    for (const f of [orphan, tmp]) utimesSync(f, old, old);
    expect((await kept.list("h")).map((k) => k.taskId)).toEqual(["t-good"]);
    const left = readdirSync(dir);
    expect(left).not.toContain(orphan.split("/").pop());
    expect(left).not.toContain(tmp.split("/").pop());
    expect(left).not.toContain(damaged.split("/").pop());
    expect(left).toContain(fresh.split("/").pop()); // may be a keep in progress
    expect(left).toContain("README");
  });
});
