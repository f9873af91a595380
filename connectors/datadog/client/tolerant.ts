/**
 * The tolerant reader of listing answers: each entry of `data` (and of `included`, for the types the connector
 * reads) is checked on its own, so one sparse entry does not fail a whole sync.
 *
 *   - An entry the connector cannot use is skipped and counted: it lacks a field the spec leaves optional but
 *     the connector needs (a user without an email, a role without a name, an entry without an id), or its id
 *     is not of its kind's shape (ids.ts: it could not be put into a request path later).
 *   - An entry that breaks the spec is an error, as before: a field of the wrong type or null where the spec
 *     says string, a field the spec requires missing. Those mean the answer is broken, not sparse.
 *   - `included` entries of types the connector does not read are not looked at.
 *
 * The skips of one answer are reported in one warning (SkipTally.warn), never per entry.
 */
import type { Logger } from "pino";
import type { z } from "zod";
import { ID_KINDS, isValidId, type IdKind } from "./ids.ts";
import { formatPath, parseResponse } from "./parse.ts";

export interface EntryRule {
  /** The kind of the entry's own `id` (checked when given). */
  idKind?: IdKind;
  /**
   * Field paths (as formatPath writes them, relative to the entry) that the spec leaves optional but the
   * connector needs: their absence makes the entry unusable, not the answer invalid. "*" means every field.
   */
  sparse: readonly string[];
  /** Further ids in the entry that the connector uses later, with their kind (e.g. a membership's user). */
  refs?: (entry: never) => readonly { kind: IdKind; id: string | undefined; what: string }[];
}

/** Why entries of one answer were skipped, with counts. */
export class SkipTally {
  readonly #reasons = new Map<string, number>();
  #seen = 0;
  #refs = 0;

  get skipped(): number {
    let n = 0;
    for (const count of this.#reasons.values()) n += count;
    return n;
  }

  get seen(): number {
    return this.#seen;
  }

  /** References (relationship data) dropped inside kept entries. */
  get droppedRefs(): number {
    return this.#refs;
  }

  dropRefs(count: number): void {
    this.#refs += count;
  }

  saw(count = 1): void {
    this.#seen += count;
  }

  skip(reason: string): void {
    this.#reasons.set(reason, (this.#reasons.get(reason) ?? 0) + 1);
  }

  reasons(): Record<string, number> {
    return Object.fromEntries(this.#reasons);
  }

  /** One warning for the whole answer; nothing when nothing was skipped. */
  warn(logger: Logger | undefined, operation: string, listing: string): void {
    const skipped = this.skipped;
    if ((skipped === 0 && this.#refs === 0) || !logger) return;
    const why = [...this.#reasons].map(([reason, n]) => `${n} ${reason}`).join(", ");
    const parts: string[] = [];
    if (skipped > 0) parts.push(`skipped ${skipped} of ${this.#seen} entries of GET ${listing} that the connector cannot use (${why})`);
    if (this.#refs > 0) parts.push(`${skipped > 0 ? "dropped" : `GET ${listing}: dropped`} ${this.#refs} references without an id or type`);
    logger.warn(
      { operation, listing, skipped, seen: this.#seen, reasons: this.reasons(), droppedRefs: this.#refs },
      `${operation}: ${parts.join("; ")}`,
    );
  }
}

// References dropped while one entry is parsed (parsing is synchronous, so one counter serves every parse).
let holes = 0;

function isHole(ref: unknown): boolean {
  if (ref === null || typeof ref !== "object" || Array.isArray(ref)) return false;
  const { id, type } = ref as { id?: unknown; type?: unknown };
  return id === undefined || type === undefined;
}

/** zod preprocessing of a to-many relationship: references without an id or type are dropped (and counted). */
export function withoutHoles(refs: unknown): unknown {
  if (!Array.isArray(refs)) return refs;
  const kept = refs.filter((ref) => !isHole(ref));
  holes += refs.length - kept.length;
  return kept;
}

/** zod preprocessing of a to-one relationship: a reference without an id or type is no reference. */
export function holeToNull(ref: unknown): unknown {
  if (!isHole(ref)) return ref;
  holes++;
  return null;
}

/** The value at `path` in `input`, or undefined when it (or a parent) is absent. */
function at(input: unknown, path: readonly PropertyKey[]): unknown {
  let node = input;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[key as string];
  }
  return node;
}

function idProblem(kind: IdKind, value: string): string {
  return value === "" ? "with an empty id" : `with an id that is not ${ID_KINDS[kind].shape.replace(/ \(.*\)$/, "")} (not a ${ID_KINDS[kind].label})`;
}

/**
 * Parses one entry: the parsed value, or undefined when it was skipped (counted in `tally`). Throws the usual
 * ResponseShapeError (path from `prefix`) when the entry breaks the spec.
 */
export function readEntry<S extends z.ZodType>(
  operation: string,
  schema: S,
  entry: unknown,
  rule: EntryRule,
  tally: SkipTally,
  prefix: readonly PropertyKey[],
): z.output<S> | undefined {
  tally.saw();
  holes = 0;
  const result = schema.safeParse(entry);
  const dropped = holes;
  if (!result.success) {
    const missing = result.error.issues.filter((issue) => at(entry, issue.path) === undefined && entry !== null && typeof entry === "object");
    const sparse = (path: string) => rule.sparse.includes("*") || rule.sparse.includes(path);
    if (missing.length === result.error.issues.length && missing.every((issue) => sparse(formatPath(issue.path)))) {
      tally.skip(`without ${formatPath(missing[0].path)}`);
      return undefined;
    }
    // Not sparse: broken. The usual message, with the path into the answer.
    return parseResponse(operation, schema, entry, prefix);
  }
  const value = result.data as { id?: unknown };
  if (rule.idKind && typeof value.id === "string" && !isValidId(rule.idKind, value.id)) {
    tally.skip(idProblem(rule.idKind, value.id));
    return undefined;
  }
  for (const ref of rule.refs?.(value as never) ?? []) {
    if (ref.id !== undefined && !isValidId(ref.kind, ref.id)) {
      tally.skip(`whose ${ref.what} has ${ref.id === "" ? "an empty id" : `an id that is not a ${ID_KINDS[ref.kind].label}`}`);
      return undefined;
    }
  }
  tally.dropRefs(dropped);
  return result.data;
}

/** Every usable entry of a listing's `data` (an array, checked by the answer's schema). */
export function readEntries<S extends z.ZodType>(
  operation: string,
  schema: S,
  entries: readonly unknown[],
  rule: EntryRule,
  tally: SkipTally,
): z.output<S>[] {
  const out: z.output<S>[] = [];
  for (let i = 0; i < entries.length; i++) {
    const value = readEntry(operation, schema, entries[i], rule, tally, ["data", i]);
    if (value !== undefined) out.push(value);
  }
  return out;
}

/**
 * The usable `included` entries of one type. Entries of other types are not looked at; an entry without a
 * type (the spec does not always require one) cannot be placed and is counted.
 */
export function readIncluded<S extends z.ZodType>(
  operation: string,
  included: readonly unknown[] | null | undefined,
  type: string,
  schema: S,
  rule: EntryRule,
  tally: SkipTally,
): z.output<S>[] {
  const out: z.output<S>[] = [];
  if (!included) return out;
  for (let i = 0; i < included.length; i++) {
    const entry = included[i];
    const entryType = entry !== null && typeof entry === "object" ? (entry as { type?: unknown }).type : undefined;
    if (entryType !== type) continue;
    const value = readEntry(operation, schema, entry, rule, tally, ["included", i]);
    if (value !== undefined) out.push(value);
  }
  return out;
}

/** Counts the `included` entries that carry no type: nothing can be done with them. */
export function countUntyped(included: readonly unknown[] | null | undefined, tally: SkipTally): void {
  for (const entry of included ?? []) {
    const type = entry !== null && typeof entry === "object" ? (entry as { type?: unknown }).type : undefined;
    if (typeof type !== "string") {
      tally.saw();
      tally.skip("included without a type");
    }
  }
}
