// The service writes every sync's c1z and scratch files, and the kept uploads, under one directory (TMPDIR;
// /var/lib/baton in the image). When that directory is read-only (a volume mounted read-only, a
// readOnlyRootFilesystem without the volume, or a UID that may not write there) every task would fail later
// with an EROFS/EACCES stack; this finds out at start and says what to mount.
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../config/errors.ts";

export function checkWritableDir(dir: string): void {
  let probe: string;
  try {
    probe = mkdtempSync(join(dir, ".baton-write-check-"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    const uid = typeof process.getuid === "function" ? ` by UID ${process.getuid()}` : "";
    throw new ConfigError([
      {
        label: "TMPDIR",
        message:
          `the working directory ${dir} is not writable${uid} (${code}): syncs write their files there. ` +
          `Mount a writable volume at ${dir} (in Kubernetes an emptyDir; in Docker a volume, not ':ro'), or set TMPDIR to a writable directory`,
      },
    ]);
  }
  rmSync(probe, { recursive: true, force: true });
}
