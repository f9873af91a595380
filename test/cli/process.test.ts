/** The CLI as a real process: exit codes, stdout/stderr separation and redaction as a user sees them. */
import { beforeAll, describe, expect, it } from "vitest";
import { RUNTIME_TOKEN } from "./fixtures/connector.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { runChild } from "./harness.ts";

const API_KEY = "proc-api-key-0d4e5f6a7b";
const tempDir = tempDirs("all");
let dir: string;

beforeAll(() => {
  dir = tempDir("cli-proc-");
});

describe("the connector CLI as a child process", () => {
  it("exits 2 with one line naming --api-key and BATON_API_KEY when the required secret is missing", async () => {
    const r = await runChild(["--site", "eu1"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("baton-fixture: error: --api-key / BATON_API_KEY: is required\n");
  });

  it("exits 2 on an unknown flag", async () => {
    const r = await runChild(["--nope"], { cwd: dir, env: { BATON_API_KEY: API_KEY } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("syncs (exit 0, summary on stdout, JSON logs on stderr without secrets), then inspects the file", async () => {
    const sync = await runChild(["--sync-groups", "-f", "out.c1z"], { cwd: dir, env: { BATON_API_KEY: API_KEY } });
    expect(sync.code).toBe(0);
    expect(sync.stdout).toMatch(/^Sync finished in /);
    expect(sync.stdout).toMatch(/total\s+4\s+1\s+3\n$/);
    const logs = sync.stderr.trim().split("\n").map((l) => JSON.parse(l) as { msg: string });
    expect(logs.map((l) => l.msg)).toContain("sync finished");
    expect(sync.stderr).not.toContain(API_KEY);
    expect(sync.stderr).not.toContain(RUNTIME_TOKEN);

    const grants = await runChild(["grants", "-f", "out.c1z", "-o", "json"], { cwd: dir });
    expect(grants.code).toBe(0);
    expect((JSON.parse(grants.stdout) as { grants: unknown[] }).grants).toHaveLength(3);
  });

  it("exits 1 with one redacted line when the sync fails", async () => {
    const r = await runChild(["-f", "fail.c1z", "--fail-with", "no"], { cwd: dir, env: { BATON_API_KEY: API_KEY, BATON_LOG_FORMAT: "console" } });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines.at(-1)).toBe("baton-fixture: error: service refused key [REDACTED] and token [REDACTED]: no");
    expect(r.stderr).not.toContain(API_KEY);
    expect(r.stderr).not.toContain(RUNTIME_TOKEN);
    expect(r.stderr).toMatch(/INFO.*connecting with \[REDACTED\]/); // console format, as asked by env
  });

  it("prints config protojson without any configuration", async () => {
    const r = await runChild(["config"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveProperty("fields");
  });

  it("aborts ctx.signal on SIGTERM and lets the command finish cleanly", async () => {
    let sent = false;
    const r = await runChild(["wait"], { cwd: dir }, (stdout, child) => {
      if (!sent && stdout.includes("ready\n")) {
        sent = true;
        child.kill("SIGTERM");
      }
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("ready\nstopped: interrupted by SIGTERM\n");
    expect(JSON.parse(r.stderr.trim()) as { msg: string }).toMatchObject({ level: "warn", signal: "SIGTERM" });
  });
});
