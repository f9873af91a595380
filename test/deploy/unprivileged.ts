// Runs a command the way the container runs it: as an unprivileged numeric UID with no /etc/passwd entry, no
// HOME, only the environment given, and exactly one directory it owns. Where the test runs as root (CI), the
// child drops to that UID with util-linux's `setpriv`; afterwards every file the UID owns outside the writable
// directory in the world-writable places (/tmp, /var/tmp, /dev/shm) is reported, since the UID can write
// nowhere else. Where the test does not run as root, it cannot switch users and says so (`isolated: false`).
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync } from "node:fs";
import { resolve } from "node:path";
import { collectOutput } from "../helpers/child-process.ts";

export const IMAGE_UID = 65532;
const WORLD_WRITABLE = ["/tmp", "/var/tmp", "/dev/shm"];

export type UnprivilegedRun = {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Files the UID created outside the writable directory (always empty when not isolated). */
  strayWrites: string[];
  /** Whether the child really ran as the unprivileged UID. */
  isolated: boolean;
};

export type UnprivilegedOptions = {
  env: Record<string, string>;
  writableDir: string;
  uid?: number;
  cwd?: string;
  /** Called with the child once started (e.g. to wait for a line, then send SIGTERM). */
  onSpawn?: (child: ReturnType<typeof spawn>) => void;
};

export function canDropPrivileges(): boolean {
  return process.getuid?.() === 0 && spawnSync("setpriv", ["--version"]).status === 0;
}

export function runUnprivileged(command: string, args: string[], options: UnprivilegedOptions): Promise<UnprivilegedRun> {
  const uid = options.uid ?? IMAGE_UID;
  const writableDir = resolve(options.writableDir);
  const isolated = canDropPrivileges();
  // HOME is deliberately absent: the image sets none and the UID has no passwd entry.
  const env = { ...options.env };
  delete env.HOME;
  let file = command;
  let argv = args;
  // Files the UID already owned (left by an earlier, crashed run) are not this run's writes.
  const before = new Set(isolated ? filesOwnedBy(uid, writableDir) : []);
  if (isolated) {
    chownSync(writableDir, uid, uid);
    chmodSync(writableDir, 0o700);
    file = "setpriv";
    argv = [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "--", command, ...args];
  }
  const child = spawn(file, argv, { env, cwd: options.cwd ?? writableDir, stdio: ["ignore", "pipe", "pipe"] });
  const output = collectOutput(child);
  options.onSpawn?.(child);
  return output.then((run) => {
    const strayWrites = isolated ? filesOwnedBy(uid, writableDir).filter((p) => !before.has(p)) : [];
    return { ...run, strayWrites, isolated };
  });
}

/** Files and directories owned by `uid` in the world-writable places, outside `allowedDir`. */
function filesOwnedBy(uid: number, allowedDir: string): string[] {
  const found = spawnSync("find", [...WORLD_WRITABLE, "-xdev", "-uid", String(uid)], { encoding: "utf8" });
  return found.stdout
    .split("\n")
    .filter((p) => p !== "" && p !== allowedDir && !p.startsWith(`${allowedDir}/`));
}
