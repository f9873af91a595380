import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConnectorService } from "../../src/connector/service.ts";
import { runSync } from "../../src/sync/engine.ts";
import { SyncStore, workingDatabasePath } from "../../src/store/store.ts";
import { fixtureConnector } from "../fixtures/fixture-connector.ts";
import { c1zRows } from "../helpers/c1z-rows.ts";
import { silentLogger } from "../helpers/logger.ts";

const child = new URL("../fixtures/sync-child.ts", import.meta.url).pathname;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "resume-test-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the child; resolves with its stdout lines. Kills it with SIGKILL after `killAfterPages` pages. */
function runChild(file: string, killAfterPages?: number): Promise<{ lines: string[]; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, file, "15", "40"], { stdio: ["ignore", "pipe", "inherit"] });
    const lines: string[] = [];
    let buf = "";
    p.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (killAfterPages !== undefined && lines.filter((l) => l === "page").length === killAfterPages) p.kill("SIGKILL");
      }
    });
    p.on("error", reject);
    p.on("close", (_code, signal) => resolve({ lines, signal }));
  });
}

describe("resume after SIGKILL", () => {
  it("continues the same sync id and ends with the same objects as a clean run", async () => {
    const clean = join(dir, "clean.c1z");
    const logger = silentLogger();
    await runSync({
      connector: createConnectorService(fixtureConnector({ users: 40 }), { logger, provisioning: false }),
      file: clean,
      logger,
    });

    const file = join(dir, "killed.c1z");
    // Killed in the resources step, then again later (in the grants step) to cover both kinds of checkpoint.
    const first = await runChild(file, 8);
    expect(first.signal).toBe("SIGKILL");
    expect(existsSync(file)).toBe(false);
    expect(existsSync(workingDatabasePath(file))).toBe(true);

    const working = await SyncStore.openForSync(file);
    const unfinished = working.unfinishedSync();
    working.close();
    expect(unfinished).toBeDefined();

    // A few pages in: the resumed run has less left to do, and the kill must land before it ends.
    const second = await runChild(file, 3);
    expect(second.signal).toBe("SIGKILL");

    const third = await runChild(file);
    expect(third.signal).toBeNull();
    const result = JSON.parse(third.lines.at(-1)!);
    expect(result.resumed).toBe(true);
    expect(result.syncId).toBe(unfinished!.syncId);
    expect(existsSync(workingDatabasePath(file))).toBe(false);
    expect(existsSync(`${file}.work`)).toBe(false); // the private working directory goes with it

    const [a, b] = await Promise.all([c1zRows(clean), c1zRows(file)]);
    expect(b.rows).toEqual(a.rows);
  });
});
