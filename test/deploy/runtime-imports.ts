// The files the CLI can load at run time, found by following static imports and literal dynamic imports from the
// package's bin entries. TypeScript is stripped with Node's own stripper first, so `import type` (erased at run
// time) does not count. This tells whether the image, which has only the production dependencies and the
// copied folders, holds everything the program loads.
import { existsSync, readFileSync } from "node:fs";
import { builtinModules, stripTypeScriptTypes } from "node:module";
import { dirname, join, relative, resolve } from "node:path";

export type RuntimeGraph = {
  /** Repository-relative paths of every local file reached. */
  files: Set<string>;
  /** Package names imported (bare specifiers), with one importing file each. */
  packages: Map<string, string>;
  /** Relative imports that point at no file: "importer -> specifier". */
  missing: string[];
};

const SPECIFIER_PATTERNS = [
  /\b(?:import|export)\s[^'"`;]*?\bfrom\s*(["'])([^"']+)\1/g, // import x from "y", export { x } from "y"
  /\bimport\s*(["'])([^"']+)\1/g, // import "y"
  /\bimport\s*\(\s*(["'])([^"']+)\1\s*\)/g, // import("y")
];

export function importSpecifiers(source: string, file: string): string[] {
  const code = file.endsWith(".ts") ? stripTypeScriptTypes(source, { mode: "strip" }) : source;
  const out = new Set<string>();
  for (const pattern of SPECIFIER_PATTERNS) for (const m of code.matchAll(pattern)) out.add(m[2]);
  return [...out];
}

export function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

export function isBuiltin(specifier: string): boolean {
  return specifier.startsWith("node:") || builtinModules.includes(specifier.split("/")[0]);
}

export function runtimeGraph(root: string, entries: string[]): RuntimeGraph {
  const graph: RuntimeGraph = { files: new Set(), packages: new Map(), missing: [] };
  const queue = entries.map((e) => resolve(root, e));
  while (queue.length > 0) {
    const file = queue.pop()!;
    const rel = relative(root, file).split("\\").join("/");
    if (graph.files.has(rel)) continue;
    graph.files.add(rel);
    for (const specifier of importSpecifiers(readFileSync(file, "utf8"), file)) {
      if (specifier.startsWith(".") || specifier.startsWith("/")) {
        const target = resolve(dirname(file), specifier);
        if (existsSync(target)) queue.push(target);
        else graph.missing.push(`${rel} -> ${specifier}`);
      } else if (!isBuiltin(specifier)) {
        const name = packageName(specifier);
        if (!graph.packages.has(name)) graph.packages.set(name, rel);
      }
    }
  }
  return graph;
}

export function binEntries(root: string): string[] {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { bin?: string | Record<string, string> };
  if (typeof pkg.bin === "string") return [pkg.bin];
  return Object.values(pkg.bin ?? {});
}
