import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach } from "vitest";

/** A new empty directory under the OS temp dir and the function that removes it (whatever is inside). */
export function makeTempDir(prefix = "baton-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A `tempDir(prefix)` for one test file: every directory it makes is removed after each test (`"each"`, the
 * default) or once the file's tests are done (`"all"`, for directories made in `beforeAll`). Call it at the top
 * level of the file, where vitest hooks may be registered.
 */
export function tempDirs(removeAfter: "each" | "all" = "each"): (prefix?: string) => string {
  const made: (() => void)[] = [];
  const removeAll = () => {
    for (const cleanup of made.splice(0)) cleanup();
  };
  if (removeAfter === "each") afterEach(removeAll);
  else afterAll(removeAll);
  return (prefix) => {
    const { dir, cleanup } = makeTempDir(prefix);
    made.push(cleanup);
    return dir;
  };
}
