/**
 * The committed wire facts: what test/wire/reference-tables.ts parses from Baton's wire reference
 * (../shared/baton/wire-reference.md, not in the repository) — files, packages, imports, messages with field
 * names, numbers, types, labels, oneofs and reserved ranges, enums and services — as data, without the prose.
 */
import { parseWireReference, type RefField, type RefFile } from "../../test/wire/reference-tables.ts";
import { jsonLines } from "./json-lines.ts";

export interface WireFacts {
  text: string;
  files: number;
  messages: number;
  enums: number;
  services: number;
}

/** Left out of each field and message where they hold, and put back by `loadWireReference`. */
export const FIELD_DEFAULTS = { label: "singular", deprecated: false, reserved: "" } as const;

function compactFile(file: RefFile): unknown {
  return {
    ...file,
    messages: file.messages.map(({ name, fields, reserved }) => ({
      name,
      fields: fields.map(compactField),
      ...(reserved === FIELD_DEFAULTS.reserved ? {} : { reserved }),
    })),
  };
}

function compactField(field: RefField): Partial<RefField> {
  const out: Partial<RefField> = { ...field };
  if (out.label === FIELD_DEFAULTS.label) delete out.label;
  if (out.deprecated === FIELD_DEFAULTS.deprecated) delete out.deprecated;
  return out;
}

export function extractWireReference(markdown: string): WireFacts {
  const files = [...parseWireReference(markdown).values()];
  if (files.length === 0) throw new Error("no `### file (package ...)` tables found: is this Baton's wire-reference.md?");
  const document = {
    "x-generated": "by `npm run contracts` from Baton's wire-reference.md (../shared/baton); do not edit",
    defaults: FIELD_DEFAULTS,
    files: files.map(compactFile),
  };
  // One line per message, enum and service: files (1) → file (2) → messages (3) → message (4).
  const text = jsonLines(document, (path) => path.length >= 4 || (path.length === 3 && path[2] === "imports"));
  const count = (pick: (f: (typeof files)[number]) => unknown[]) => files.reduce((n, f) => n + pick(f).length, 0);
  return { text, files: files.length, messages: count((f) => f.messages), enums: count((f) => f.enums), services: count((f) => f.services) };
}
