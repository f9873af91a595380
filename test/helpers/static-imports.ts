/**
 * What a source file imports, read from its text (tests of the layering and of what loads before what): every
 * `import ... from`, `export ... from` and side-effect `import "..."`, spread over lines or not; `import()` is not
 * one of them (it loads later, when it runs).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

const STATIC_IMPORT = /^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\bfrom\s*)?["']([^"']+)["']/gm;

/** The specifiers `path` imports statically, each with whether the whole import is type-only (`import type`). */
export function importsOf(path: string): { from: string; typeOnly: boolean }[] {
  return [...readFileSync(path, "utf8").matchAll(STATIC_IMPORT)].map((m) => ({ from: m[2]!, typeOnly: Boolean(m[1]) }));
}

/**
 * The files under `root` (relative paths) that loading `entry` loads through static imports, directly or not:
 * relative specifiers only, type-only imports aside, a `.js` specifier read as its `.ts` source where that is the file.
 */
export function staticImportClosure(root: string, entry: string): string[] {
  const seen = new Set([entry]);
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const { from, typeOnly } of importsOf(join(root, file))) {
      if (typeOnly || !from.startsWith(".")) continue;
      let target = relative(root, join(root, dirname(file), from)).replaceAll("\\", "/");
      if (!existsSync(join(root, target)) && target.endsWith(".js")) target = target.replace(/\.js$/, ".ts");
      if (!seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  return [...seen];
}
