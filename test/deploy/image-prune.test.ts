// scripts/image-prune.ts on small module trees: what it follows, what it leaves out, and that it refuses (deleting
// nothing) what it cannot follow. The real build is image-files.test.ts.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { pruneUnreachable, reachableFiles } from "../../scripts/image-prune.ts";
import { tempDirs } from "../helpers/temp-dir.ts";

const SCRIPT = join(import.meta.dirname, "..", "..", "scripts", "image-prune.ts");
const tempDir = tempDirs();

function tree(files: Record<string, string>): string {
  const root = tempDir("baton-prune-");
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function allFiles(root: string): string[] {
  return (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.includes(".")).map((f) => f.split("\\").join("/")).sort();
}

const APP = {
  "dist/main.js": [
    'import { a } from "./a.js";',
    'export { b } from "./lib/b.js";',
    'import "./side-effect.js";',
    'import data from "./data.json" with { type: "json" };',
    'import { z } from "zod";',
    'import { readFileSync } from "node:fs";',
    "// a comment naming import(\"./in-comment.js\") is not an import",
    'const text = "import(\'./in-string.js\')";',
    "export async function later() { return import(\"./lazy/command.js\"); }",
    "console.log(import.meta.url);",
  ].join("\n"),
  "dist/a.js": "export const a = 1;",
  "dist/lib/b.js": 'export { c as b } from "../c.mjs";',
  "dist/c.mjs": "export const c = 3;",
  "dist/side-effect.js": "globalThis.x = 1;",
  "dist/data.json": "{}",
  "dist/lazy/command.js": "export const run = () => 0;",
  "dist/in-comment.js": "export {};",
  "dist/in-string.js": "export {};",
  "dist/unused/library.js": 'export * from "../a.js";',
  "dist/main.d.ts": "export {};",
  "dist/main.js.map": "{}",
};

describe("image-prune", () => {
  it("keeps static imports, re-exports, side-effect and JSON imports and literal dynamic imports; nothing else", async () => {
    const root = tree(APP);
    const { reached, problems } = await reachableFiles(root, ["dist/main.js"]);
    expect(problems).toEqual([]);
    expect([...reached].sort()).toEqual(["dist/a.js", "dist/c.mjs", "dist/data.json", "dist/lazy/command.js", "dist/lib/b.js", "dist/main.js", "dist/side-effect.js"]);
    const { removed } = await pruneUnreachable(root, "dist", ["dist/main.js"]);
    expect(removed).toEqual(["dist/in-comment.js", "dist/in-string.js", "dist/main.d.ts", "dist/main.js.map", "dist/unused/library.js"]);
    expect(allFiles(root)).toEqual([...reached].sort());
    expect(existsSync(join(root, "dist", "unused")), "emptied directories go too").toBe(false);
  });

  it("refuses a dynamic import it cannot resolve, naming the file and line, and deletes nothing", async () => {
    const root = tree({ ...APP, "dist/a.js": 'export const a = 1;\nconst name = "x";\nexport const load = () => import("./plugins/" + name + ".js");' });
    const before = allFiles(root);
    const err = await pruneUnreachable(root, "dist", ["dist/main.js"]).catch((e: Error) => e);
    expect(String(err)).toContain('dist/a.js:3: import("./plugins/" + name + ".js") has no literal specifier, so the image build cannot tell which module it loads');
    expect(String(err)).toContain("nothing was deleted");
    expect(allFiles(root)).toEqual(before);
  });

  it("refuses a relative import of a file the build lacks, and deletes nothing", async () => {
    const root = tree({ ...APP, "dist/lib/b.js": 'export { c as b } from "../gone.js";' });
    const before = allFiles(root);
    const err = await pruneUnreachable(root, "dist", ["dist/main.js"]).catch((e: Error) => e);
    expect(String(err)).toContain("dist/lib/b.js:1: imports ../gone.js, which is not in the build (dist/gone.js)");
    expect(String(err)).toContain("nothing was deleted");
    expect(allFiles(root)).toEqual(before);
  });

  it("from the command line: --first-existing takes the first entry the build has; none at all exits 1 saying so", () => {
    const root = tree({ ...APP, "dist/cli/bundle.mjs": "export const main = 1;" });
    const run = (...args: string[]) => spawnSync(process.execPath, [SCRIPT, ...args], { cwd: root, encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
    const dry = run("--dir", "dist", "--dry-run", "--first-existing", "dist/missing.mjs", "dist/main.js", "dist/cli/bundle.mjs");
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/kept 7 files under dist \(reached from dist\/main\.js\); would remove 6, of which 4 modules no entry loads: .*dist\/cli\/bundle\.mjs/);
    expect(allFiles(root)).toContain("dist/cli/bundle.mjs");
    const none = run("--first-existing", "dist/nope.js", "dist/also-nope.js");
    expect(none.status).toBe(1);
    expect(none.stderr).toBe("image-prune: none of the entries is in the build: dist/nope.js, dist/also-nope.js (did the build run?)\n");
    const noEntry = run();
    expect(noEntry.status).toBe(1);
    expect(noEntry.stderr).toMatch(/^image-prune: name at least one entry module/);
  });
});
