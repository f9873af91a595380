/**
 * The store's modules by concern (store.ts's header): none of them imports the SyncStore facade, so a sync's
 * --file runs one way (engine → store.ts → database-files.ts → format/defensive/schema), and database-files.ts
 * is the only one that moves bytes through format.ts (store.ts takes only a type from it).
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { importsOf } from "../helpers/static-imports.ts";

const STORE = join(import.meta.dirname, "../../src/store");
/** Built on the facade: they use a SyncStore (its `database` for set-wise SQL) rather than being part of it. */
const ON_THE_FACADE = new Set(["compact.ts", "diff.ts", "sync-flags.ts"]);

const imports = (file: string) => importsOf(join(STORE, file));

const modules = readdirSync(STORE).filter((f) => f.endsWith(".ts"));

it("no module of the store but those built on it imports store.ts", () => {
  const offenders = modules.filter((f) => f !== "store.ts" && !ON_THE_FACADE.has(f) && imports(f).some((i) => i.from === "./store.ts"));
  expect(offenders).toEqual([]);
});

it("only database-files.ts calls format.ts (store.ts imports a type)", () => {
  const callers = modules.filter((f) => imports(f).some((i) => i.from === "./format.ts" && !i.typeOnly));
  expect(callers).toEqual(["database-files.ts"]);
  expect(imports("store.ts").filter((i) => i.from === "./format.ts").every((i) => i.typeOnly)).toBe(true);
});

it("store.ts composes the concern modules", () => {
  const from = new Set(imports("store.ts").map((i) => i.from));
  for (const m of ["./connection.ts", "./database-files.ts", "./run-log.ts", "./object-writes.ts", "./object-reads.ts", "./write-buffer.ts", "./indexes.ts"]) {
    expect(from.has(m), m).toBe(true);
  }
});
