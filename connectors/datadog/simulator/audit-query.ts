/**
 * The part of Datadog's Audit Trail search syntax the simulator understands: attribute terms ANDed together,
 * `@path:value`, `@path:"quoted value"`, `@path:(a OR b OR "c d")`, `@path:*` (the attribute exists), a leading
 * `-` to negate a term, and `*` or nothing for every event. Anything else is a 400 naming the part not
 * understood, so a test never passes on a query the simulator silently ignored.
 */
import { badRequest } from "./errors.ts";

interface Term {
  readonly path: readonly string[];
  /** null: the attribute exists. */
  readonly values: readonly string[] | null;
  readonly negated: boolean;
}

export type AuditPredicate = (attributes: Record<string, unknown>) => boolean;

const MAX_QUERY = 2000;
const TERM = /^(-?)@([A-Za-z0-9_.]+):/;

export function parseAuditQuery(raw: string | null | undefined): AuditPredicate {
  const query = (raw ?? "").trim();
  if (query.length > MAX_QUERY) throw badRequest(`filter[query] is longer than ${MAX_QUERY} characters`);
  if (query === "" || query === "*") return () => true;
  const terms: Term[] = [];
  let rest = query;
  while (rest.length > 0) {
    const head = TERM.exec(rest);
    if (!head) throw badRequest(`filter[query]: cannot read "${rest.slice(0, 40)}" (the simulator understands @attribute:value terms)`);
    rest = rest.slice(head[0].length);
    const { values, remaining } = readValues(rest);
    rest = remaining.replace(/^\s+(AND\s+)?/, "");
    terms.push({ path: head[2].split("."), values, negated: head[1] === "-" });
  }
  return (attributes) => terms.every((term) => matches(term, attributes) !== term.negated);
}

function readValues(input: string): { values: readonly string[] | null; remaining: string } {
  if (input.startsWith("*") && (input.length === 1 || /^\*[\s)]/.test(input))) return { values: null, remaining: input.slice(1) };
  if (!input.startsWith("(")) {
    const one = readValue(input);
    return { values: [one.value], remaining: one.remaining };
  }
  const values: string[] = [];
  let rest = input.slice(1).trimStart();
  for (;;) {
    const one = readValue(rest);
    values.push(one.value);
    rest = one.remaining.trimStart();
    if (rest.startsWith(")")) return { values, remaining: rest.slice(1) };
    const or = /^OR\s+/.exec(rest);
    if (!or) throw badRequest(`filter[query]: expected OR or ")" at "${rest.slice(0, 40)}"`);
    rest = rest.slice(or[0].length);
  }
}

function readValue(input: string): { value: string; remaining: string } {
  if (input.startsWith('"')) {
    const end = input.indexOf('"', 1);
    if (end < 0) throw badRequest("filter[query]: a quoted value is not closed");
    return { value: input.slice(1, end), remaining: input.slice(end + 1) };
  }
  const bare = /^[^\s()"]+/.exec(input);
  if (!bare) throw badRequest(`filter[query]: expected a value at "${input.slice(0, 40)}"`);
  return { value: bare[0], remaining: input.slice(bare[0].length) };
}

function matches(term: Term, attributes: Record<string, unknown>): boolean {
  let node: unknown = attributes;
  for (const key of term.path) {
    if (node === null || typeof node !== "object") return false;
    node = (node as Record<string, unknown>)[key];
  }
  if (term.values === null) return node !== undefined && node !== null;
  if (typeof node !== "string" && typeof node !== "number" && typeof node !== "boolean") return false;
  return term.values.includes(String(node));
}
