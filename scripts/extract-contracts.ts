/**
 * `npm run contracts`: regenerates the committed reference files the tests read, from the reference documents
 * beside the repository (../shared, which a fresh clone does not have):
 *   - test/contract/datadog-contract.json from ../shared/datadog/openapi-v2.yaml (scripts/contracts/datadog.ts);
 *   - test/wire/wire-reference.json from ../shared/baton/wire-reference.md (scripts/contracts/wire.ts).
 * The output is deterministic: run it again and nothing changes. Each file is written whole (temp file, rename).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CONTRACT_PATH, SPEC_PATH, UNDOCUMENTED_IN_V2_SPEC } from "../test/contract/openapi.ts";
import { committedWireReferenceUrl, wireReferenceUrl } from "../test/wire/reference-tables.ts";
import { extractDatadogContract } from "./contracts/datadog.ts";
import { usedOperations } from "./contracts/used-operations.ts";
import { extractWireReference } from "./contracts/wire.ts";

function readSource(path: string, what: string): string {
  if (!existsSync(path)) {
    throw new Error(`${what} not found at ${path}: the committed files are generated from ../shared beside the repository; put it there, then run again`);
  }
  return readFileSync(path, "utf8");
}

function writeWhole(path: string, text: string): void {
  const temp = `${path}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, path);
}

async function main(): Promise<void> {
  const wirePath = fileURLToPath(wireReferenceUrl);
  const specText = readSource(SPEC_PATH, "Datadog's OpenAPI v2 spec");
  const wireText = readSource(wirePath, "Baton's wire reference");

  const used = await usedOperations();
  const contract = extractDatadogContract(specText, used);
  const allowListed = new Set(UNDOCUMENTED_IN_V2_SPEC.map((e) => `${e.method} ${e.pathTemplate}`));
  const missing = contract.missing.filter((m) => !allowListed.has(`${m.method} ${m.path}`));
  const wire = extractWireReference(wireText);

  writeWhole(CONTRACT_PATH, contract.text);
  writeWhole(fileURLToPath(committedWireReferenceUrl), wire.text);
  console.log(
    `wrote ${CONTRACT_PATH}: ${contract.operations} operations, ${contract.components} components, ${Buffer.byteLength(contract.text)} bytes ` +
      `(from ${Buffer.byteLength(specText)} bytes of spec)`,
  );
  console.log(
    `wrote ${fileURLToPath(committedWireReferenceUrl)}: ${wire.files} files, ${wire.messages} messages, ${wire.enums} enums, ` +
      `${wire.services} services, ${Buffer.byteLength(wire.text)} bytes`,
  );
  if (missing.length > 0) {
    // Not fatal: the contract tests name these calls as undocumented, which is where they must be fixed.
    console.error(`warning: used but not in the spec (nor in UNDOCUMENTED_IN_V2_SPEC): ${missing.map((m) => `${m.method} ${m.path}`).join(", ")}`);
  }
}

main().catch((error: unknown) => {
  console.error(`contracts: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
