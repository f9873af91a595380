/**
 * The container image's build stage runs this after `npm run build`: it deletes every file under the build
 * directory (dist/) that no entry module can load, so the image ships only what runs — no declarations, no source
 * maps, no library-only entry points, no second connector, no simulator test support.
 *
 *   node scripts/image-prune.ts [--dir dist] [--dry-run] [--first-existing] <entry module>...
 *
 * With --first-existing only the first entry the build has is used: the launcher's candidates in its order of
 * preference (bin/baton-datadog.js runs the CLI bundle when the build made one, else the compiled main).
 *
 * "Can load" follows static imports and re-exports, and dynamic `import()` with a literal specifier (the lazily
 * loaded parts: the runner's commands, grpc serving, the hosted runtime behind `lambda`), read with a real lexer
 * (es-module-lexer), so an `import(...)` inside a comment or a string does not count. Bare specifiers are packages:
 * node_modules is shipped whole and is not looked at. A dynamic import whose specifier is computed, or a relative
 * import of a file the build lacks, stops the build (exit 1, nothing deleted): the image could not know what that
 * code loads, and a guess would either ship dead code or break at run time. Files found through
 * `new URL(…, import.meta.url)` or `createRequire` are not followed (no module reached today loads a local file
 * that way; test/deploy/image-files.test.ts runs the pruned tree to catch it).
 */
import { readdirSync, readFileSync, rmdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { parseArgs } from "node:util";
import { init, parse } from "es-module-lexer";

/** What JavaScript modules are: the files whose imports are followed. */
const MODULE = /\.(m|c)?js$/;

export interface Reachability {
  /** Root-relative ('/'-separated) paths of every file reached, entries included. */
  reached: Set<string>;
  /** One line per problem (file:line and what to do); empty when the graph is complete. */
  problems: string[];
}

function toPosix(path: string): string {
  return path.split(sep).join("/");
}

function lineOf(source: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < source.length; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Every file reachable from `entries` (paths relative to `root`), following relative imports only. */
export async function reachableFiles(root: string, entries: string[]): Promise<Reachability> {
  await init;
  const absRoot = resolve(root);
  const reached = new Set<string>();
  const problems: string[] = [];
  const queue: string[] = [];
  for (const entry of entries) {
    const abs = resolve(absRoot, entry);
    if (!isFile(abs)) problems.push(`entry ${entry} is not a file under ${absRoot} (did the build run, and is the entry the launcher's?)`);
    else queue.push(abs);
  }
  while (queue.length > 0) {
    const file = queue.pop()!;
    const rel = toPosix(relative(absRoot, file));
    if (reached.has(rel)) continue;
    reached.add(rel);
    if (!MODULE.test(file)) continue; // JSON and other assets imported with attributes: nothing to follow
    const source = readFileSync(file, "utf8");
    let imports;
    try {
      [imports] = parse(source, rel);
    } catch (err) {
      problems.push(`${rel}: cannot be read as an ES module (${(err as Error).message})`);
      continue;
    }
    for (const imp of imports) {
      if (imp.d === -2) continue; // import.meta
      if (imp.n === undefined) {
        const expression = source.slice(imp.s, imp.e).replace(/\s+/g, " ").slice(0, 80);
        problems.push(`${rel}:${lineOf(source, imp.ss)}: import(${expression}) has no literal specifier, so the image build cannot tell which module it loads: write the specifier as a string literal (or pass the module as another entry)`);
        continue;
      }
      const specifier = imp.n;
      if (!specifier.startsWith(".") && !specifier.startsWith("/")) continue; // a package or a builtin
      const target = resolve(dirname(file), specifier.replace(/[?#].*$/, ""));
      if (!isFile(target)) {
        problems.push(`${rel}:${lineOf(source, imp.ss)}: imports ${specifier}, which is not in the build (${toPosix(relative(absRoot, target))})`);
        continue;
      }
      queue.push(target);
    }
  }
  return { reached, problems };
}

function filesUnder(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) filesUnder(full, out);
    else out.push(full);
  }
  return out;
}

function removeEmptyDirs(dir: string, keepRoot: boolean): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeEmptyDirs(join(dir, entry.name), false);
  if (!keepRoot && readdirSync(dir).length === 0) rmdirSync(dir);
}

export interface PruneResult {
  kept: string[];
  removed: string[];
}

/**
 * Deletes every file under `dir` (relative to `root`) that `entries` cannot load. Throws, deleting nothing,
 * when the graph has a problem (a computed dynamic import, a missing file, a missing entry).
 */
export async function pruneUnreachable(root: string, dir: string, entries: string[], opts: { dryRun?: boolean } = {}): Promise<PruneResult> {
  const absDir = resolve(root, dir);
  if (!statSync(absDir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${dir} is not a directory under ${resolve(root)} (run the build first)`);
  const { reached, problems } = await reachableFiles(root, entries);
  if (problems.length > 0) throw new Error(`the modules the image needs cannot be determined; nothing was deleted:\n  ${problems.join("\n  ")}`);
  const kept: string[] = [];
  const removed: string[] = [];
  for (const file of filesUnder(absDir)) {
    const rel = toPosix(relative(resolve(root), file));
    (reached.has(rel) ? kept : removed).push(rel);
  }
  if (!opts.dryRun) {
    for (const rel of removed) rmSync(join(resolve(root), rel));
    removeEmptyDirs(absDir, true);
  }
  return { kept: kept.sort(), removed: removed.sort() };
}

/** At most `max` names, then how many more, so that a build log stays readable. */
function named(names: string[], max: number): string {
  return names.length <= max ? names.join(", ") : `${names.slice(0, max).join(", ")} (and ${names.length - max} more)`;
}

if (import.meta.main) {
  try {
    const { values, positionals } = parseArgs({
      options: { dir: { type: "string", default: "dist" }, "dry-run": { type: "boolean", default: false }, "first-existing": { type: "boolean", default: false } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length === 0) throw new Error("name at least one entry module (e.g. dist/connectors/datadog/main.js, the module bin/baton-datadog.js runs)");
    let entries = positionals;
    if (values["first-existing"]) {
      const first = positionals.find((p) => isFile(resolve(p)));
      if (first === undefined) throw new Error(`none of the entries is in the build: ${positionals.join(", ")} (did the build run?)`);
      entries = [first];
    }
    const { kept, removed } = await pruneUnreachable(process.cwd(), values.dir, entries, { dryRun: values["dry-run"] });
    const unreachedModules = removed.filter((f) => MODULE.test(f));
    const verb = values["dry-run"] ? "would remove" : "removed";
    process.stdout.write(`image-prune: kept ${kept.length} files under ${values.dir} (reached from ${entries.join(", ")}); ${verb} ${removed.length}, of which ${unreachedModules.length} modules no entry loads${unreachedModules.length > 0 ? `: ${named(unreachedModules, 20)}` : ""}\n`);
  } catch (err) {
    process.stderr.write(`image-prune: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
