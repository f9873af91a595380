// The package as `npm pack` would see it, built into a temporary directory rather than the checkout's dist/:
// test files run in parallel (and other work may be using dist/), so each stage is private. The build is the
// one `npm run build` does (package.json's script): tsc with tsconfig.build.json, then src/gen copied, then the CLI bundle.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");

/** A directory holding package.json, README.md, bin/ and a fresh dist/, ready for `npm pack`. */
export function stagePackage(): string {
  const dir = mkdtempSync(join(tmpdir(), "baton-package-"));
  const script = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts.build;
  // Keep this copy of the build honest: it must be the steps package.json's build script runs.
  if (!script.includes("tsc -p tsconfig.build.json") || !script.includes("cpSync('src/gen','dist/src/gen'") || !script.includes("node scripts/bundle-cli.ts")) {
    throw new Error(`package.json's build script changed (${script}): update test/package/stage.ts to match`);
  }
  execFileSync(process.execPath, [TSC, "-p", join(ROOT, "tsconfig.build.json"), "--outDir", join(dir, "dist")], { cwd: ROOT, stdio: "pipe" });
  cpSync(join(ROOT, "src", "gen"), join(dir, "dist", "src", "gen"), { recursive: true });
  // The build's last step: the CLI bundle in dist/cli/ (issue 14), which the launcher runs when it is there.
  execFileSync(process.execPath, [join(ROOT, "scripts", "bundle-cli.ts"), "--dist", join(dir, "dist")], { cwd: ROOT, stdio: "pipe" });
  for (const f of ["package.json", "README.md", "bin"]) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
  return dir;
}
