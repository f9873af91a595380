/**
 * Connectors reach the SDK only through its public entry points (src/index.ts, src/messages.ts), so an SDK
 * refactor behind them cannot break a connector. Any other import of src/ from connectors/ fails here, naming
 * the file and line.
 */
import { readFileSync, globSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDirs } from "../helpers/temp-dir.ts";

const tempDir = tempDirs();
const ROOT = join(import.meta.dirname, "../..");
// src/runner.ts: the light one a main and its config declaration use; src/api-client.ts: the one an API client
// is built on, without the rest (issue 14: start-up).
const ENTRY_POINTS = new Set(["src/index.ts", "src/messages.ts", "src/runner.ts", "src/api-client.ts"]);

// Static imports and re-exports (`from "..."`, also spread over lines), side-effect imports and dynamic import().
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)(["'])([^"']+)\1/g;

export function deepImports(root: string, files: readonly string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    const text = readFileSync(join(root, file), "utf8");
    for (const m of text.matchAll(SPECIFIER)) {
      const spec = m[2]!;
      if (!spec.startsWith(".") && !spec.startsWith("/")) continue;
      const target = relative(root, normalize(join(root, dirname(file), spec))).replaceAll("\\", "/");
      if (!target.startsWith("src/") || ENTRY_POINTS.has(target)) continue;
      const line = text.slice(0, m.index).split("\n").length;
      found.push(`${file}:${line}: imports ${spec} (use src/index.ts or src/messages.ts)`);
    }
  }
  return found;
}

describe("the SDK's public API is the only door", () => {
  const files = globSync("connectors/**/*.ts", { cwd: ROOT }).map((f) => f.replaceAll("\\", "/"));

  it("scans every connector source and test", () => {
    expect(files).toContain("connectors/datadog/main.ts");
    expect(files).toContain("connectors/file/main.ts");
    expect(files.length).toBeGreaterThan(50);
  });

  it("no file under connectors/ imports src/ other than through src/index.ts and src/messages.ts", () => {
    expect(deepImports(ROOT, files)).toEqual([]);
  });

  it("the scan catches deep imports, multi-line ones and dynamic import() included", async () => {
    const root = tempDir("public-api-");
    mkdirSync(join(root, "connectors/x/sub"), { recursive: true });
    writeFileSync(
      join(root, "connectors/x/sub/a.ts"),
      [
        `import { ok } from "../../../src/index.ts";`,
        `import type { Resource } from "../../../src/messages.ts";`,
        `import {`,
        `  ConnectorError,`,
        `} from "../../../src/connector/errors.ts";`,
        `export * from '../../../src/gen/c1/connector/v2/resource_pb.js';`,
        `const m = await import("../../../src/sync/engine.ts");`,
        `import "./local.ts";`,
      ].join("\n"),
    );
    expect(deepImports(root, ["connectors/x/sub/a.ts"])).toEqual([
      "connectors/x/sub/a.ts:5: imports ../../../src/connector/errors.ts (use src/index.ts or src/messages.ts)",
      "connectors/x/sub/a.ts:6: imports ../../../src/gen/c1/connector/v2/resource_pb.js (use src/index.ts or src/messages.ts)",
      "connectors/x/sub/a.ts:7: imports ../../../src/sync/engine.ts (use src/index.ts or src/messages.ts)",
    ]);
  });

  it("the entry points load and export what a connector's main needs", async () => {
    const sdk = await import("../../src/index.ts");
    const messages = await import("../../src/messages.ts");
    for (const name of ["runConnectorCliMain", "runConnectorCli", "defineConfig", "field", "ConnectorError", "Code", "userResource", "groupResource", "entitlement", "grant", "runSync", "createConnectorService", "connectorCapabilities", "SyncStore", "HttpClient"]) {
      expect(typeof (sdk as Record<string, unknown>)[name], name).not.toBe("undefined");
    }
    expect(messages.ResourceType_Trait.USER).toBeGreaterThan(0);
    const datadog = await import("../../connectors/datadog/index.ts");
    expect(typeof datadog.main).toBe("function");
    expect(typeof datadog.startSimulator).toBe("function");
  });
});
