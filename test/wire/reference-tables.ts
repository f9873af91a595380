/**
 * The tables of Baton's public protobuf API (file, package, messages with field numbers and types, enums,
 * services) from Baton's wire reference. Tests compare our generated descriptors against them.
 * `loadWireReference()` reads the committed facts (wire-reference.json beside this file, generated from
 * ../shared/baton/wire-reference.md by `npm run contracts` with `parseWireReference`), so the wire tests run in a
 * fresh clone; reference.test.ts fails when that file is stale.
 */
import { readFileSync } from "node:fs";

export type RefField = {
  name: string;
  number: number;
  /** Type as written in the .proto (unqualified names resolve in the file's package); for maps, the value type. */
  type: string;
  label: "repeated" | "optional" | "map" | "singular";
  mapKey?: string;
  oneof?: string;
  deprecated: boolean;
};

/** A message; `name` is the dotted path inside the package, e.g. `UserTrait.Status`. */
export type RefMessage = { name: string; fields: RefField[]; reserved: string };
export type RefEnum = { name: string; values: { name: string; number: number }[] };
export type RefMethod = {
  name: string;
  input: string;
  output: string;
  clientStreaming: boolean;
  serverStreaming: boolean;
};
export type RefService = { name: string; methods: RefMethod[] };
export type RefFile = {
  path: string;
  package: string;
  imports: string[];
  messages: RefMessage[];
  enums: RefEnum[];
  services: RefService[];
};

/** Baton's wire reference beside the repository: the source of the committed facts (absent in a fresh clone). */
export const wireReferenceUrl = new URL("../../../shared/baton/wire-reference.md", import.meta.url);
/** The committed facts, what `loadWireReference()` reads. */
export const committedWireReferenceUrl = new URL("./wire-reference.json", import.meta.url);

export function loadWireReference(): Map<string, RefFile> {
  return readWireReference(readFileSync(committedWireReferenceUrl, "utf8"));
}

/** The committed JSON (fields and messages leave out the values of its `defaults`) as the parser's tables. */
export function readWireReference(json: string): Map<string, RefFile> {
  const document = JSON.parse(json) as { defaults?: { label: RefField["label"]; deprecated: boolean; reserved: string }; files?: RefFile[] };
  const defaults = document.defaults;
  if (!defaults || !Array.isArray(document.files)) {
    throw new Error(`${committedWireReferenceUrl.pathname}: expected \`defaults\` and \`files\`; regenerate it with \`npm run contracts\``);
  }
  const files = document.files.map((file) => ({
    ...file,
    messages: file.messages.map((m) => ({
      name: m.name,
      fields: m.fields.map((f) => ({ ...f, label: f.label ?? defaults.label, deprecated: f.deprecated ?? defaults.deprecated })),
      reserved: m.reserved ?? defaults.reserved,
    })),
  }));
  return new Map(files.map((f) => [f.path, f]));
}

export function parseWireReference(text: string): Map<string, RefFile> {
  const files = new Map<string, RefFile>();
  let file: RefFile | undefined;
  let service: RefService | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^### `([^`]+)`\s+\(package `([^`]+)`\)$/))) {
      file = { path: m[1], package: m[2], imports: [], messages: [], enums: [], services: [] };
      files.set(file.path, file);
      service = undefined;
      continue;
    }
    if (!file) continue;
    if ((m = line.match(/^imports: (.*)$/))) {
      file.imports = m[1].split(",").map((s) => s.trim());
    } else if ((m = line.match(/^\*\*service ([\w.]+)\*\*$/))) {
      const name = m[1].slice(file.package.length + 1);
      service = { name, methods: [] };
      file.services.push(service);
    } else if ((m = line.match(/^- rpc `(\w+)\((stream )?([\w.]+)\) → (stream )?([\w.]+)`$/))) {
      if (!service) throw new Error(`rpc outside a service: ${line}`);
      service.methods.push({
        name: m[1],
        clientStreaming: m[2] !== undefined,
        input: m[3],
        serverStreaming: m[4] !== undefined,
        output: m[5],
      });
    } else if ((m = line.match(/^- msg `([\w.]+)` \{(.*)\}(?: reserved:(.*))?$/))) {
      file.messages.push({ name: m[1], fields: parseFields(m[2], line), reserved: m[3]?.trim() ?? "" });
    } else if ((m = line.match(/^- enum `([\w.]+)` \{(.*)\}$/))) {
      const values = m[2]
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
        .map((v) => {
          const vm = v.match(/^(\w+)=(-?\d+)$/);
          if (!vm) throw new Error(`bad enum value "${v}" in: ${line}`);
          return { name: vm[1], number: Number(vm[2]) };
        });
      file.enums.push({ name: m[1], values });
    } else if (line.startsWith("- ")) {
      throw new Error(`unrecognised wire-reference line: ${line}`);
    }
  }
  return files;
}

function parseFields(body: string, line: string): RefField[] {
  return body
    .split(";")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((f) => {
      const fm = f.match(/^(\w+)=(\d+):(.+?)((?: \[[^\]]+\])*)$/);
      if (!fm) throw new Error(`bad field "${f}" in: ${line}`);
      const flags = [...fm[4].matchAll(/\[([^\]]+)\]/g)].map((x) => x[1]);
      const field: RefField = {
        name: fm[1],
        number: Number(fm[2]),
        type: fm[3],
        label: "singular",
        deprecated: flags.includes("deprecated"),
      };
      const oneof = flags.find((x) => x.startsWith("oneof "));
      if (oneof) field.oneof = oneof.slice("oneof ".length);
      let tm: RegExpMatchArray | null;
      if ((tm = fm[3].match(/^map<(\w+),([\w.]+)>$/))) {
        field.label = "map";
        field.mapKey = tm[1];
        field.type = tm[2];
      } else if ((tm = fm[3].match(/^(repeated|optional) ([\w.]+)$/))) {
        field.label = tm[1] as "repeated" | "optional";
        field.type = tm[2];
      } else if (!/^[\w.]+$/.test(fm[3])) {
        throw new Error(`bad field type "${fm[3]}" in: ${line}`);
      }
      return field;
    });
}

export const scalarTypeNames = new Set([
  "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
  "fixed32", "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes",
]);

export type ReferenceIndex = {
  messages: Map<string, RefMessage>;
  enums: Map<string, RefEnum>;
  /** Resolves a type name as written in a .proto with protobuf's scoping (innermost scope first). */
  resolve(written: string, scope: string): string;
};

/** Indexes every message and enum of the reference by fully qualified name. */
export function indexReference(files: Map<string, RefFile>): ReferenceIndex {
  const messages = new Map<string, RefMessage>();
  const enums = new Map<string, RefEnum>();
  for (const f of files.values()) {
    for (const m of f.messages) messages.set(`${f.package}.${m.name}`, m);
    for (const e of f.enums) enums.set(`${f.package}.${e.name}`, e);
  }
  const resolve = (written: string, scope: string): string => {
    if (scalarTypeNames.has(written)) return written;
    const parts = scope.split(".");
    for (let i = parts.length; i >= 0; i--) {
      const candidate = [...parts.slice(0, i), written].join(".");
      if (messages.has(candidate) || enums.has(candidate)) return candidate;
    }
    if (written.startsWith("google.")) return written; // well-known types are not in the tables
    return `<unresolved ${written}>`;
  };
  return { messages, enums, resolve };
}
