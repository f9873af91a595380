/**
 * The README's "Write a connector" example is the second connector's code, not a sketch of it: every TypeScript
 * block in that section must appear, line for line (indentation aside), in a file under connectors/file/.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README has no "## ${heading}" section`);
  const end = markdown.indexOf("\n## ", start + heading.length + 4);
  return markdown.slice(start, end < 0 ? undefined : end);
}

function tsBlocks(text: string): string[][] {
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!.split("\n").map((l) => l.trim()).filter((l) => l !== ""));
}

function containsRun(haystack: string[], run: string[]): boolean {
  for (let i = 0; i + run.length <= haystack.length; i++) {
    if (run.every((line, j) => haystack[i + j] === line)) return true;
  }
  return false;
}

describe("README: Write a connector", () => {
  const blocks = tsBlocks(section(readFileSync(join(ROOT, "README.md"), "utf8"), "Write a connector"));
  const dir = join(ROOT, "connectors", "file");
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .map((f) => ({ name: f, lines: readFileSync(join(dir, f), "utf8").split("\n").map((l) => l.trim()).filter((l) => l !== "") }));

  it("has examples", () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  it.each(blocks.map((b, i) => [i + 1, b] as const))("TypeScript block %i is code from connectors/file/", (_n, block) => {
    const home = files.find((f) => containsRun(f.lines, block));
    expect(home?.name, `not found in connectors/file/*.ts:\n${block.join("\n")}`).toBeDefined();
  });
});
