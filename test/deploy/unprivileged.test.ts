// The harness the production-entrypoint test runs the CLI in: it must really drop to the image's UID, hide HOME,
// leave exactly one directory writable, and catch writes anywhere else.
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { IMAGE_UID, canDropPrivileges, runUnprivileged } from "./unprivileged.ts";
import { tempDirs } from "../helpers/temp-dir.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const newTempDir = tempDirs();
const tempDir = () => newTempDir("baton-unpriv-");

const isolated = canDropPrivileges();
if (!isolated) console.warn("SKIPPED: not root or no setpriv: the unprivileged-run harness cannot switch users here");

describe.skipIf(!isolated)("runUnprivileged", () => {
  it("runs as the image's UID with no HOME and only the given environment", async () => {
    const writable = tempDir();
    const script = "console.log(JSON.stringify({uid:process.getuid(),gid:process.getgid(),groups:process.getgroups(),home:process.env.HOME??null,tmp:process.env.TMPDIR,extra:process.env.SHOULD_NOT_LEAK??null}))";
    process.env.SHOULD_NOT_LEAK = "x";
    try {
      const run = await runUnprivileged(process.execPath, ["-e", script], { env: { TMPDIR: writable }, writableDir: writable });
      expect(run.code, run.stderr).toBe(0);
      const seen = JSON.parse(run.stdout);
      // getgroups() may list the effective GID itself; no other group (root's 0 in particular) is kept.
      expect(seen.groups.filter((g: number) => g !== IMAGE_UID)).toEqual([]);
      delete seen.groups;
      expect(seen).toEqual({ uid: IMAGE_UID, gid: IMAGE_UID, home: null, tmp: writable, extra: null });
    } finally {
      delete process.env.SHOULD_NOT_LEAK;
    }
  });

  it("lets the child write in its directory, refuses the repository, and reports writes elsewhere", async () => {
    const writable = tempDir();
    const elsewhere = join(tmpdir(), `baton-stray-${process.pid}-${Date.now()}`);
    dirs.push(elsewhere);
    const script = `
      const fs = require("node:fs");
      fs.writeFileSync(process.env.TMPDIR + "/ok.c1z", "data");
      let repo = "written";
      try { fs.writeFileSync(${JSON.stringify(join(ROOT, "should-not-exist.txt"))}, "x"); } catch (e) { repo = e.code; }
      fs.writeFileSync(${JSON.stringify(elsewhere)}, "stray");
      console.log(repo);
    `;
    const run = await runUnprivileged(process.execPath, ["-e", script], { env: { TMPDIR: writable }, writableDir: writable });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe("EACCES");
    expect(run.strayWrites).toEqual([elsewhere]);
  });

  it("reports no stray writes for a child that stays in its directory", async () => {
    const writable = tempDir();
    const run = await runUnprivileged(process.execPath, ["-e", "require('node:fs').mkdirSync(require('node:os').tmpdir() + '/sub/deeper', { recursive: true })"], {
      env: { TMPDIR: writable },
      writableDir: writable,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.strayWrites).toEqual([]);
  });
});
