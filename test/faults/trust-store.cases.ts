/**
 * Trust (store): cases of issue 12 for this area. Each case reproduces one defect against the real parts on loopback
 * and records its measured outcome in the "Trust" section of the fault matrix (record({ section: "Trust", … })).
 *
 * Defects: working files beside --file that follow symlinks (3), a resumed sync that does not check it is the same
 * Datadog org (4), triggers and views of an existing --file that run during a sync (10), a decompression bomb that
 * fills the temp disk before it is refused (11), and two syncs on one --file at once (the lock).
 */
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { constants as zc, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { record } from "./matrix.ts";
import { cleanSync, fileUntouched, onCleanup, rowsOf, runCli, sleep, snapshot, startCli, startSim, syncArgs, tempDir } from "./support.ts";

const C1Z_MAGIC = Buffer.from("C1ZF\0", "latin1");
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const strip = (error: string | undefined) => (error ?? "").replace(/^baton-datadog: error: /, "");

function blockHeader(type: 0 | 1, size: number, last: boolean): Buffer {
  const v = (size << 3) | (type << 1) | (last ? 1 : 0);
  return Buffer.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff]);
}

/** A c1z whose payload starts like SQLite and then decodes to `mib` MiB of zeros (4 bytes per 128 KiB block). */
function bomb(mib: number, declaredSize?: bigint): Buffer {
  const parts: Buffer[] = [C1Z_MAGIC, ZSTD_MAGIC];
  if (declaredSize !== undefined) {
    const fcs = Buffer.alloc(8);
    fcs.writeBigUInt64LE(declaredSize);
    parts.push(Buffer.from([0xc0, (17 - 10) << 3]), fcs);
  } else {
    parts.push(Buffer.from([0x00, (17 - 10) << 3]));
  }
  const head = Buffer.from("SQLite format 3\0", "latin1");
  parts.push(blockHeader(0, head.length, false), head);
  const blocks = mib * 8;
  for (let i = 0; i < blocks; i++) parts.push(blockHeader(1, 128 * 1024, i === blocks - 1), Buffer.from([0]));
  return Buffer.concat(parts);
}

/** The SQLite database inside a c1z, as a file in `dir`. */
function decodeTo(c1z: Buffer, path: string): string {
  writeFileSync(path, zstdDecompressSync(c1z.subarray(5)));
  return path;
}

function encode(dbPath: string): Buffer {
  return Buffer.concat([C1Z_MAGIC, zstdCompressSync(readFileSync(dbPath), { params: { [zc.ZSTD_c_contentSizeFlag]: 1 } })]);
}

/** sqlite_master of the database inside a c1z (names of type, and the table names). */
function schemaOf(c1zPath: string, scratch: string): { triggers: string[]; views: string[]; tables: string[]; query: (sql: string) => unknown[] } {
  const db = new DatabaseSync(decodeTo(readFileSync(c1zPath), scratch));
  const rows = db.prepare("select type, name from sqlite_master").all();
  const of = (type: string) => rows.filter((r) => r.type === type).map((r) => String(r.name));
  const query = (sql: string) => db.prepare(sql).all();
  onCleanup(() => db.close());
  return { triggers: of("trigger"), views: of("view"), tables: of("table"), query };
}

/** Resource rows an unfinished sync has stored in its working database (either layout); -1 when there is none. */
function workingRows(file: string): number {
  for (const path of [join(`${file}.work`, "sync.sqlite"), `${file}.work.sqlite`]) {
    if (!existsSync(path)) continue;
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const unfinished = "select sync_id from v1_sync_runs where ended_at is null";
      return Number(db.prepare(`select count(*) as n from v1_resources where sync_id in (${unfinished})`).get()?.n ?? 0);
    } finally {
      db.close();
    }
  }
  return -1;
}

/** Mounts a tmpfs of `bytes` (root only); undefined when this machine does not allow it. */
function tryTmpfs(bytes: number): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "faults-trust-tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir], { stdio: "ignore" });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  onCleanup(() => {
    execFileSync("umount", ["-l", dir], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

export function trustStoreCases(): void {
  describe("Trust: store", () => {
    it("symlinks planted beside --file: never written through; a link where the store's own directory goes is refused", async () => {
      const { bytes: cleanBytes, rows: cleanRows } = await cleanSync();
      const sim = await startSim();
      const dir = tempDir("trust-symlink");
      const victim = join(dir, "victim.txt");
      writeFileSync(victim, "precious, not a database\n");
      const other = join(dir, "other.sqlite");
      {
        const db = new DatabaseSync(other);
        db.exec("create table someone_elses_table (secret text); insert into someone_elses_table values ('not for the c1z')");
        db.close();
      }
      const otherBefore = readFileSync(other);

      // (a) the decompression target of the previous file, and (b) the working database, as links.
      const fileA = join(dir, "a.c1z");
      writeFileSync(fileA, cleanBytes);
      symlinkSync(victim, `${fileA}.work.sqlite.partial`);
      symlinkSync(victim, `${fileA}.tmp`);
      const a = await runCli(syncArgs(sim, fileA), { source: "trust: symlink .partial" });
      const fileB = join(dir, "b.c1z");
      symlinkSync(other, `${fileB}.work.sqlite`);
      const b = await runCli(syncArgs(sim, fileB), { source: "trust: symlink .work.sqlite" });

      expect(a.code, a.stderr.slice(-1500)).toBe(0);
      expect(readFileSync(victim, "utf8")).toBe("precious, not a database\n");
      expect(b.code, b.stderr.slice(-1500)).toBe(0);
      expect(readFileSync(other).equals(otherBefore)).toBe(true);
      const bSchema = schemaOf(fileB, join(dir, "b-inside.sqlite"));
      expect(bSchema.tables).not.toContain("someone_elses_table");
      expect(await rowsOf(fileB)).toEqual(cleanRows);

      // (c) a link where the private working directory goes: refused, with the reason, nothing written.
      const fileC = join(dir, "c.c1z");
      const elsewhere = join(dir, "elsewhere");
      mkdirSync(elsewhere);
      symlinkSync(elsewhere, `${fileC}.work`);
      const c = await runCli(syncArgs(sim, fileC), { source: "trust: symlink .work" });
      expect(c.code).toBe(1);
      expect(c.error).toMatch(/refusing to use the working directory .*c\.c1z\.work: it is a symbolic link/);
      expect(readdirSync(elsewhere)).toEqual([]);
      expect(existsSync(fileC)).toBe(false);
      // After a sync nothing is left beside --file but the file itself (and the planted links, untouched).
      expect(readdirSync(dir).filter((f) => f.startsWith("a.c1z")).sort()).toEqual(["a.c1z", "a.c1z.tmp", "a.c1z.work.sqlite.partial"]);
      expect(lstatSync(`${fileA}.tmp`).isSymbolicLink()).toBe(true);

      record({
        section: "Trust",
        case: "symlinks beside --file",
        how:
          "links planted before a CLI sync: <file>.work.sqlite.partial and <file>.tmp → a text file; <file>.work.sqlite → another SQLite database; " +
          "<file>.work → another directory",
        outcome:
          "the working files live in a private directory <file>.work (mode 700, this user's, checked) that the store creates itself, so no planted link " +
          "is ever opened: the text file and the other database byte-identical, no foreign table in the c1z, rows identical to a clean sync (exit 0); " +
          "a link (or a non-private directory) at <file>.work is refused",
        exitCode: 1,
        message: strip(c.error).replace(dir, "TMP"),
      });
    });

    it("an unfinished sync of one Datadog org is not resumed with another org's keys", { timeout: 60_000 }, async () => {
      const orgA = await startSim({ latencyMs: 60 });
      const orgB = await startSim({ seed: 9 });
      const dir = tempDir("trust-org");
      const cleanB = join(dir, "clean-b.c1z");
      const cleanRun = await runCli(syncArgs(orgB, cleanB), { source: "trust: org B clean" });
      expect(cleanRun.code, cleanRun.stderr.slice(-1500)).toBe(0);
      const cleanRowsB = await rowsOf(cleanB);

      // Interrupt a sync of org A once it has stored some resources.
      const file = join(dir, "sync.c1z");
      const runA = startCli(syncArgs(orgA, file), { source: "trust: org A interrupted" });
      let stored = -1;
      for (let i = 0; i < 400 && stored <= 0; i++) {
        await sleep(25);
        try {
          stored = workingRows(file);
        } catch {
          stored = -1; // the database is being created
        }
      }
      runA.kill("SIGKILL");
      const killed = await runA.done;
      expect(killed.signal).toBe("SIGKILL");
      expect(stored).toBeGreaterThan(0);
      const storedAtKill = workingRows(file);

      const runB = await runCli(syncArgs(orgB, file), { source: "trust: org B on org A's file" });
      expect(runB.code, runB.stderr.slice(-1500)).toBe(0);
      const warning = runB.stderr.split("\n").find((l) => l.includes("not resuming the unfinished sync"));
      expect(warning).toBeDefined();
      const msg = (JSON.parse(warning!) as { msg: string }).msg;
      expect(msg).toMatch(/it was for Datadog org [0-9a-f-]{36} at http:\/\/127\.0\.0\.1:\d+, but these credentials reach Datadog org [0-9a-f-]{36}/);
      const rows = await rowsOf(file);
      expect(rows).toEqual(cleanRowsB); // org B's objects only: none of org A's
      const users = rows.filter((r) => r.startsWith("r|user:")).length;

      record({
        section: "Trust",
        case: "resume with another org's credentials",
        how:
          "CLI sync of simulated org A (seed 8) SIGKILLed once its working database held resources, then the same command with org B's keys (seed 9, " +
          "another org UUID) on the same --file",
        outcome:
          `the kill left ${storedAtKill} resource rows of org A; the second run did not resume them: it logged why, discarded the unfinished sync ` +
          `and synced org B afresh: rows identical to a clean sync of org B (${users} users, none of org A's); the org (Validate answers it, ` +
          "from the users listing's relationships.org, plus the API base URL) is recorded in the working database only",
        exitCode: 0,
        message: msg.replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:PORT").replace(dir, "TMP"),
      });
    });

    it("triggers and views in the previous --file never run and do not reach the new file", async () => {
      const { bytes: cleanBytes, rows: cleanRows } = await cleanSync();
      const sim = await startSim();
      const dir = tempDir("trust-triggers");
      const raw = decodeTo(cleanBytes, join(dir, "raw.sqlite"));
      {
        const db = new DatabaseSync(raw);
        db.exec(`
          create table trigger_log (what text);
          create trigger log_resources after insert on v1_resources begin insert into trigger_log values ('resource ' || new.external_id); end;
          create trigger log_grants after insert on v1_grants begin insert into trigger_log values ('grant ' || new.external_id); end;
          create trigger log_runs after update on v1_sync_runs begin insert into trigger_log values ('run ' || new.sync_id); end;
          create view grant_view as select external_id from v1_grants;
        `);
        db.close();
      }
      const file = join(dir, "sync.c1z");
      writeFileSync(file, encode(raw));
      const result = await runCli(syncArgs(sim, file), { source: "trust: triggers in --file" });
      expect(result.code, result.stderr.slice(-1500)).toBe(0);
      const after = schemaOf(file, join(dir, "after.sqlite"));
      const logged = Number((after.query("select count(*) as n from trigger_log")[0] as { n: number }).n);
      expect(after.triggers).toEqual([]);
      expect(after.views).toEqual([]);
      expect(logged).toBe(0);
      expect(await rowsOf(file)).toEqual(cleanRows);
      const warned = result.stderr.includes("3 trigger(s) and 1 view(s), which no c1z writer creates; dropped unrun");
      expect(warned).toBe(true);

      record({
        section: "Trust",
        case: "triggers and views in the previous --file",
        how: "a clean c1z given 3 triggers (after insert on v1_resources and v1_grants, after update on v1_sync_runs, each logging to a table) and a view, then a CLI sync onto it",
        outcome:
          "the decompressed file is opened in defensive mode with trusted_schema off and its triggers and views are dropped unrun (logged) before the sync " +
          `writes: ${logged} rows in the trigger log, no trigger or view in the new file, rows identical to a clean sync`,
        exitCode: 0,
      });
    });

    it("decompression bombs: the size limit comes from --max-c1z-decoded-size, free space is checked first, the error says which", async () => {
      const { bytes: cleanBytes } = await cleanSync();
      const dir = tempDir("trust-bomb");
      const outcomes: string[] = [];
      const messages: string[] = [];
      const refused = async (name: string, args: string[], reason: RegExp, env?: Record<string, string>) => {
        const result = await runCli(args, { source: `trust: bomb ${name}`, env });
        expect(result.code, `${name}: ${result.stderr.slice(-800)}`).toBe(1);
        expect(result.error, name).toMatch(reason);
        expect(result.stderr, name).not.toMatch(/^\s+at /m); // one line, no stack trace
        messages.push(strip(result.error).replace(dir, "TMP"));
        return result;
      };

      const declared = join(dir, "declared-64MiB.c1z");
      writeFileSync(declared, bomb(64, 64n * 1024n ** 2n));
      await refused("declared, over the flag", ["resources", "-f", declared, "--max-c1z-decoded-size", "1MiB"],
        /declares 67108864 decoded bytes: refusing to decode more than 1048576 bytes \(1 MiB, the limit of --max-c1z-decoded-size/);
      outcomes.push("a bomb declaring 64 MiB with --max-c1z-decoded-size 1MiB: refused from its header, nothing decoded");

      const streaming = join(dir, "streaming-64MiB.c1z");
      writeFileSync(streaming, bomb(64));
      const scratch = join(dir, "scratch");
      mkdirSync(scratch);
      await refused("streaming, over the flag", ["resources", "-f", streaming, "--max-c1z-decoded-size", "1MiB"],
        /decodes past the cap: refusing to decode more than 1048576 bytes \(1 MiB, the limit of --max-c1z-decoded-size/, { TMPDIR: scratch });
      expect(readdirSync(scratch)).toEqual([]);
      outcomes.push("a bomb declaring nothing (64 MiB of zeros): stopped once 1 MiB was decoded, the partial copy removed");

      // A sync resuming from --file honours the flag too, and leaves the file as it was.
      const sim = await startSim();
      const file = join(dir, "sync.c1z");
      writeFileSync(file, cleanBytes);
      const before = snapshot(file);
      const decodedSize = zstdDecompressSync(cleanBytes.subarray(5)).length;
      await refused("sync resume, over the flag", [...syncArgs(sim, file), "--max-c1z-decoded-size", "512KiB"],
        new RegExp(`declares ${decodedSize} decoded bytes: refusing to decode more than 524288 bytes \\(512 KiB, the limit of --max-c1z-decoded-size`));
      expect(fileUntouched(file, before)).toBe(true);
      outcomes.push(`a sync onto a previous c1z of ${decodedSize} decoded bytes with --max-c1z-decoded-size 512KiB: refused, the file untouched`);

      const bad = await runCli(["resources", "-f", declared, "--max-c1z-decoded-size", "lots"], { source: "trust: bomb bad flag" });
      expect(bad.code).toBe(2);
      expect(bad.error).toMatch(/--max-c1z-decoded-size \/ BATON_MAX_C1Z_DECODED_SIZE: must be a size in bytes/);

      // Free space, on a small temp disk: checked before writing (declared size) or while decoding (none declared).
      const mount = tryTmpfs(48 * 1024 ** 2);
      if (mount) {
        const free = statfsSync(mount).bavail * statfsSync(mount).bsize;
        const declared1G = join(dir, "declared-1GiB.c1z");
        writeFileSync(declared1G, bomb(1, 1024n ** 3n));
        await refused("declared, over the free space", ["resources", "-f", declared1G], /ENOSPC: no space left on device for it in .*: it declares 1073741824 decoded bytes \(1 GiB\), and \d+ bytes \(.*\) are free there/, { TMPDIR: mount });
        await refused("streaming, over the free space", ["resources", "-f", streaming],
          /ENOSPC: no space left on device for it in .*: it decodes to more than the \d+ bytes that fit, and \d+ bytes \(.*\) are free there/, { TMPDIR: mount });
        const freeAfter = statfsSync(mount).bavail * statfsSync(mount).bsize;
        expect(freeAfter).toBe(free);
        outcomes.push(
          `on a 48 MiB temp disk (TMPDIR): a bomb declaring 1 GiB refused before writing; one declaring nothing stopped 16 MiB short of a full disk; ` +
            `free space after both as before (${free} bytes)`,
        );
      } else {
        outcomes.push("(no tmpfs here: the free-space refusals were not exercised)");
      }

      record({
        section: "Trust",
        case: "decompression bombs and the decoded-size limit",
        how: "`baton-datadog resources -f BOMB --max-c1z-decoded-size …`, a CLI sync with the flag onto a real previous c1z, and the same bombs with TMPDIR on a small tmpfs",
        outcome: outcomes.join("; "),
        exitCode: 1,
        message: messages.join(" | ").replace(/faults-trust-tmpfs-\w+/g, "TMPFS"),
      });
    });

    it("two syncs on one --file: the second says which process holds it; a SIGKILLed holder leaves no stale lock", { timeout: 60_000 }, async () => {
      const sim = await startSim({ latencyMs: 150 });
      const dir = tempDir("trust-lock");
      const file = join(dir, "sync.c1z");
      // The holder's first users read (its Validate's, after it has taken the lock) answers 8 s late, so it still
      // holds the lock whenever the second starts, however slow the machine (a sync of this org alone can finish
      // before a second CLI has started on a loaded one).
      sim.injectFaults([{ match: { method: "GET", pathPrefix: "/api/v2/users" }, kind: "slow", delayMs: 8000, count: 1 }]);
      const first = startCli(syncArgs(sim, file), { source: "trust: lock holder" });
      // The holder has its lock once its private directory holds the lock's owner note.
      for (let i = 0; i < 400 && !existsSync(join(`${file}.work`, "owner")) && !existsSync(`${file}.work.sqlite`); i++) await sleep(10);
      const second = await runCli(syncArgs(sim, file), { source: "trust: lock second" });
      const holder = await first.done;
      expect(holder.code, holder.stderr.slice(-1500)).toBe(0);
      expect(second.code).toBe(1);
      expect(second.error).toMatch(new RegExp(`another sync holds .*sync\\.c1z \\(process ${first.pid}, started [0-9T:.-]+Z\\)`));
      expect(await rowsOf(file)).toEqual((await cleanSyncOf(sim, dir)).rows);

      // A holder killed with SIGKILL: the OS drops its lock, the next run resumes.
      const killedRun = startCli(syncArgs(sim, file), { source: "trust: lock killed holder" });
      for (let i = 0; i < 400 && workingRowsSafe(file) <= 0; i++) await sleep(20);
      killedRun.kill("SIGKILL");
      expect((await killedRun.done).signal).toBe("SIGKILL");
      expect(existsSync(join(`${file}.work`, "owner"))).toBe(true); // its note stays: harmless, the lock was the OS's
      const next = await runCli(syncArgs(sim, file), { source: "trust: lock after SIGKILL" });
      expect(next.code, next.stderr.slice(-1500)).toBe(0);
      expect(next.stderr).toContain("resuming unfinished sync");
      expect(readdirSync(dir).filter((f) => f.startsWith("sync.c1z")).sort()).toEqual(["sync.c1z"]);

      record({
        section: "Trust",
        case: "two syncs on one --file",
        how: "a CLI sync (simulator answering in 150 ms), and a second one on the same --file once the first holds it; then a holder SIGKILLed mid-sync and the command run again",
        outcome:
          "the second refused at once, naming the holder's pid, and the first completed (rows identical to a clean sync); the lock is SQLite's " +
          "EXCLUSIVE lock on <file>.work/lock (an OS lock), so after the SIGKILL the next run took it and resumed the unfinished sync (exit 0)",
        exitCode: 1,
        message: strip(second.error).replace(dir, "TMP").replace(String(first.pid), "PID"),
      });
    });
  });
}

function workingRowsSafe(file: string): number {
  try {
    return workingRows(file);
  } catch {
    return -1;
  }
}

/** Rows of a clean sync of `sim` into a file of its own. */
async function cleanSyncOf(sim: Awaited<ReturnType<typeof startSim>>, dir: string): Promise<{ rows: string[] }> {
  const file = join(dir, "clean-of-sim.c1z");
  const result = await runCli(syncArgs(sim, file), { source: "trust: clean of sim" });
  if (result.code !== 0) throw new Error(`clean sync failed: ${result.stderr.slice(-800)}`);
  return { rows: await rowsOf(file) };
}
