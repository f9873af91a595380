/**
 * Checks on path settings that can be made before any work starts, so that a typo in a directory is a
 * configuration error naming the setting (exit 2), not a storage failure deep inside a sync.
 */
import { statSync } from "node:fs";
import { dirname } from "node:path";
import { ConfigError } from "./errors.ts";
import { fieldLabel } from "./names.ts";

/** Throws a ConfigError when the directory that must hold `file` (the setting `key`) is missing or not a directory. */
export function assertParentDirectory(key: string, file: string): void {
  const dir = dirname(file);
  let problem: string | undefined;
  try {
    if (!statSync(dir).isDirectory()) problem = `${dir} is not a directory (got "${file}"); choose a file in a directory`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") problem = `the directory ${dir} does not exist (got "${file}"); create it, or choose a file in an existing directory`;
    else if (code === "ENOTDIR") problem = `${dir} is not a directory: a part of its path is a file (got "${file}")`;
    else if (code === "EACCES") problem = `the directory ${dir} cannot be reached: permission denied (got "${file}")`;
    // Anything else is left to the operation itself, which reports it with its own context.
  }
  if (problem !== undefined) {
    throw new ConfigError([{ key, label: fieldLabel(key), message: problem }]);
  }
}
