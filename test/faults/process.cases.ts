/**
 * Process faults on the one-shot CLI: SIGKILL at seeded random points of a sync, many times in a row on one file,
 * then a final run whose rows equal a clean sync's; and a full disk (a small tmpfs when this process may mount
 * one, else a file-size limit with `ulimit -f`) → exit 1 with a clear reason, the previous file untouched, and a
 * later run with room completes.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zstdDecompressSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { record } from "./matrix.ts";
import {
  cleanSync,
  fileUntouched,
  HEAVY,
  onCleanup,
  rowsOf,
  runCli,
  seededRandom,
  sleep,
  snapshot,
  startCli,
  startSim,
  syncArgs,
  tempDir,
} from "./support.ts";

const KILLS = HEAVY ? 20 : 5;

/** The last thing the sync logged before it died (its step), from its JSON log lines. */
function lastStep(stderr: string): string {
  let step = "before the sync began";
  for (const line of stderr.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; step?: string };
      if ((entry.msg === "sync step" || entry.msg === "resuming unfinished sync") && entry.step) step = entry.step;
      else if (entry.msg === "starting sync") step = "resource-types";
      else if (entry.msg === "sync finished") step = "finished";
    } catch {
      // a line cut by the kill
    }
  }
  return step;
}

/** True when `file` is a whole c1z: the header, then one zstd frame that decodes to a SQLite database. */
function wholeC1z(file: string): boolean {
  const bytes = snapshot(file);
  if (!bytes || bytes.subarray(0, 5).toString("latin1") !== "C1ZF\0") return false;
  try {
    return zstdDecompressSync(bytes.subarray(5)).subarray(0, 16).toString("latin1") === "SQLite format 3\0";
  } catch {
    return false;
  }
}

/** Mounts a tmpfs of `bytes` (root only); undefined when this machine does not allow it. */
function tryTmpfs(bytes: number): string | undefined {
  // FAULTS_NO_TMPFS=1 takes the `ulimit -f` path even as root (how that path is tested here).
  if (process.getuid?.() !== 0 || process.env.FAULTS_NO_TMPFS === "1") return undefined;
  const dir = mkdtempSync(join(tmpdir(), "faults-tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${Math.ceil(bytes / 4096) * 4096}`, "tmpfs", dir], { stdio: "ignore" });
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

export function processFaultCases(): void {
  describe("Process faults", () => {
    it(`SIGKILL at ${KILLS} seeded random points in a row on one file, then a final run equal to a clean sync`, { timeout: HEAVY ? 240_000 : 90_000 }, async () => {
      const { rows: cleanRows } = await cleanSync();
      // 100 ms per answer stretches the sync itself over a second or two, so the kills land all over it.
      const sim = await startSim({ latencyMs: 100 });
      const dir = tempDir("sigkill");
      const file = join(dir, "sync.c1z");
      const started = Date.now();
      const timing = await runCli(syncArgs(sim, join(dir, "timing.c1z")), { source: "sigkill: timing run" });
      const fullMs = Date.now() - started;
      expect(timing.code).toBe(0);

      const random = seededRandom(20251124);
      const where: string[] = [];
      for (let i = 0; i < KILLS; i++) {
        // Node starts in about a third of a full run; kill anywhere from then to just past the end.
        const delay = Math.round(fullMs * (0.3 + random() * 0.75));
        const run = startCli(syncArgs(sim, file), { source: `sigkill: run ${i + 1}` });
        await Promise.race([sleep(delay), run.done]);
        run.kill("SIGKILL");
        const result = await run.done;
        where.push(result.signal === "SIGKILL" ? `${delay} ms (${lastStep(result.stderr)})` : `${delay} ms (finished first)`);
        // Whatever the moment, the path holds nothing or a whole c1z: never a partial one.
        expect(!existsSync(file) || wholeC1z(file), `after kill ${i + 1} at ${delay} ms`).toBe(true);
      }
      const final = await runCli(syncArgs(sim, file), { source: "sigkill: final run" });
      expect(final.code, final.stderr.slice(-1500)).toBe(0);
      expect(await rowsOf(file)).toEqual(cleanRows);
      expect(readdirSync(dir).filter((f) => f.startsWith("sync.c1z")).sort()).toEqual(["sync.c1z"]); // no working database or temp file left
      const killed = where.filter((w) => !w.includes("finished first")).length;
      expect(killed).toBeGreaterThan(0);
      record({
        section: "Process faults",
        case: `SIGKILL ${KILLS} times in a row on one file, then a final run`,
        how: `CLI child killed after seeded random delays (0.3× to 1.05× a full run of ${fullMs} ms); the simulator answers in 100 ms; in brackets the step each run had reached`,
        outcome:
          `final run completed, rows identical to a clean sync; after every kill the path held nothing or a whole c1z; ` +
          `${killed} kills landed mid-run: ${where.join(", ")}`,
        exitCode: 0,
      });
    });

    it("disk full while syncing or writing the c1z: exit 1, clear reason, previous file untouched; with room again it completes", async () => {
      const { rows: cleanRows, bytes: cleanBytes } = await cleanSync();
      const decoded = zstdDecompressSync(cleanBytes.subarray(5)).length;
      const sim = await startSim();
      const first = tryTmpfs(cleanBytes.length + decoded * 0.5);
      const outcomes: string[] = [];

      if (first) {
        // Sizes in database sizes (D): too small to unpack the previous sync, room for the sync but not its end,
        // room for the sync and its compacted copy but (usually) not the c1z. The last may fit on another machine.
        const fractions = [0.5, 2, 3.9];
        let failures = 0;
        for (const fraction of fractions) {
          const mount = fraction === 0.5 ? first : tryTmpfs(cleanBytes.length + decoded * fraction)!;
          const file = join(mount, "sync.c1z");
          writeFileSync(file, cleanBytes);
          const before = snapshot(file);
          const result = await runCli(syncArgs(sim, file), { source: `disk full: tmpfs ${fraction}D` });
          if (result.code === 0) {
            expect(await rowsOf(file)).toEqual(cleanRows);
            outcomes.push(`tmpfs of C+${fraction}D: completed (it fit)`);
            continue;
          }
          failures++;
          expect(result.code, result.stderr.slice(-1500)).toBe(1);
          expect(result.error).toMatch(
            /ENOSPC: no space left on device|database or disk is full \((the disk is full or a file-size limit was reached: free space|is the disk full)/,
          );
          expect(fileUntouched(file, before)).toBe(true);
          outcomes.push(`tmpfs of C+${fraction}D: ${result.error!.replace(/^baton-datadog: error: /, "")}`);
          record({
            section: "Process faults",
            case: `disk full (tmpfs of the previous c1z + ${fraction}× its database)`,
            how: "CLI sync onto a small tmpfs holding the previous c1z",
            outcome: "failed; previous file byte-identical, no temp file",
            exitCode: 1,
            message: result.error!.replace(/^baton-datadog: error: /, ""),
          });
          if (fraction === 2) {
            // Room again: the same command resumes from the working database and completes.
            execFileSync("mount", ["-o", "remount,size=256m", mount], { stdio: "ignore" });
            const again = await runCli(syncArgs(sim, file), { source: "disk full: rerun with room" });
            expect(again.code, again.stderr.slice(-1500)).toBe(0);
            expect(await rowsOf(file)).toEqual(cleanRows);
            record({
              section: "Process faults",
              case: "disk full, then room again",
              how: "the tmpfs grown to 256 MiB, the same command run again",
              outcome: "completed, rows identical to a clean sync",
              exitCode: 0,
            });
          }
        }
        expect(failures).toBeGreaterThanOrEqual(2);
      } else {
        // No mount here: a file-size limit (in 1 KiB blocks) that the working database outgrows.
        const dir = tempDir("ulimit");
        const file = join(dir, "sync.c1z");
        writeFileSync(file, cleanBytes);
        const before = snapshot(file);
        const blocks = Math.floor(decoded / 1024 / 2);
        const result = await runCli(syncArgs(sim, file), { source: "disk full: ulimit", shell: `ulimit -f ${blocks}` });
        expect(result.code, result.stderr.slice(-1500)).toBe(1);
        expect(result.error).toMatch(/EFBIG: file too large|database or disk is full \(the disk is full or a file-size limit was reached/);
        expect(fileUntouched(file, before)).toBe(true);
        outcomes.push(result.error!);
        record({
          section: "Process faults",
          case: `file-size limit (ulimit -f ${blocks})`,
          how: "CLI sync under bash `ulimit -f`, previous c1z in place",
          outcome: "failed; previous file byte-identical, no temp file",
          exitCode: 1,
          message: result.error!.replace(/^baton-datadog: error: /, ""),
        });
        const again = await runCli(syncArgs(sim, file), { source: "disk full: rerun without limit" });
        expect(again.code).toBe(0);
        expect(await rowsOf(file)).toEqual(cleanRows);
      }
      expect(outcomes.length).toBeGreaterThan(0);
    });
  });
}
