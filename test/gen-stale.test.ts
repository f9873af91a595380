/**
 * The committed generated code (src/gen) must be exactly what `npm run generate` produces from proto/ today.
 * We regenerate into a temp directory with the repo's own buf.gen.yaml (only `out` changed) and compare bytes.
 */
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { tempDirs } from "./helpers/temp-dir.ts";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const binDir = join(repoRoot, "node_modules", ".bin");
const genDir = join(repoRoot, "src", "gen");

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe("generated code", () => {
  const tempDir = tempDirs("all");

  it("src/gen is up to date with proto/ (run npm run generate if this fails)", async () => {
    const tmp = tempDir("gen-stale-");
    const template = parse(await readFile(join(repoRoot, "buf.gen.yaml"), "utf8")) as {
      plugins: { out: string }[];
      clean?: boolean;
    };
    expect(template.plugins.length).toBeGreaterThan(0);
    for (const plugin of template.plugins) plugin.out = join(tmp, plugin.out);
    template.clean = false;

    await promisify(execFile)(join(binDir, "buf"), ["generate", "--template", JSON.stringify(template)], {
      cwd: repoRoot,
      env: { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ""}` },
    });

    const fresh = join(tmp, "src", "gen");
    const [want, have] = await Promise.all([listFiles(fresh), listFiles(genDir)]);
    expect(want.length).toBeGreaterThan(0);
    const stale: string[] = [];
    for (const f of want) {
      if (!have.includes(f)) stale.push(`${f} (missing)`);
      else if (!(await readFile(join(fresh, f))).equals(await readFile(join(genDir, f)))) stale.push(`${f} (differs)`);
    }
    for (const f of have) if (!want.includes(f)) stale.push(`${f} (no longer generated)`);
    expect(stale, `src/gen is stale; run npm run generate. Stale files:\n  ${stale.join("\n  ")}`).toEqual([]);
  });
});
