/**
 * A stand-in for Datadog that answers every documented request with random data valid under Datadog's own
 * response schemas (the role Prism plays with dynamic examples), made adversarial within the schema: optional
 * fields left out, `included` lists holding whatever types the schema allows, empty strings wherever no
 * minLength forbids them, ids that are UUIDs or not, totals far larger or smaller than the answer's content.
 * Ids inside `included` and `relationships` are drawn from a few per answer, so that references and the objects
 * they name meet now and then (a policy's steps and their targets, a schedule's layers and members).
 *
 * Seeded and reproducible: the answer to a request depends only on the seed, the method, the path and the
 * query, never on the order of requests (a concurrent sync asks in a different order every run). Every answer
 * is checked against the spec before it is sent (checkResponse); one that is not valid is drawn again from the
 * next sub-seed, and `stats.invalid` counts answers that never became valid, so a test can insist on zero.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { checkResponse, matchOperation, type Spec } from "./openapi.ts";
import { hash32 } from "../../connectors/datadog/simulator/prng.ts";
import { seededRandom } from "../helpers/seeded-random.ts";

type Json = Record<string, unknown>;

export interface RandomAnswersOptions {
  spec: Spec;
  seed: number;
  /** Totals (total_count, total_filtered_count, pagination.total) are drawn up to this (default 10^7). */
  maxTotal?: number;
  /** Tries per answer before it is served invalid and counted (default 40). */
  attempts?: number;
}

export interface RandomAnswersStats {
  requests: number;
  /** Answers by "METHOD /template". */
  byOperation: Record<string, number>;
  /** Draws thrown away because they did not validate (then drawn again from the next sub-seed). */
  redraws: number;
  /** The first problem of a few thrown-away draws, to see what the generator gets wrong. */
  redrawExamples: string[];
  /** Answers that never validated (each is served anyway, so the count is what a test checks). */
  invalid: number;
  invalidExamples: string[];
  /** Requests no documented operation matches (answered 404). */
  undocumented: string[];
  /** Entries in `data` of each answer, by request URL (path and query), for counting what a client kept. */
  dataEntries: Map<string, number>;
}

export interface RandomAnswers {
  baseUrl: string;
  stats: RandomAnswersStats;
  close(): Promise<void>;
}

// ---- a seeded source -----------------------------------------------------------------------------------------

class Draw {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = seededRandom(seed);
  }
  float(): number {
    return this.#next();
  }
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  hex(n: number): string {
    let out = "";
    for (let i = 0; i < n; i++) out += "0123456789abcdef"[this.int(16)];
    return out;
  }
  uuid(): string {
    return `${this.hex(8)}-${this.hex(4)}-4${this.hex(3)}-${"89ab"[this.int(4)]}${this.hex(3)}-${this.hex(12)}`;
  }
  word(n: number): string {
    let out = "";
    for (let i = 0; i < n; i++) out += "abcdefghijklmnopqrstuvwxyz0123456789"[this.int(36)];
    return out;
  }
}

// ---- values from schemas -------------------------------------------------------------------------------------

const TOTALS = new Set(["total_count", "total_filtered_count", "total"]);
/** Strings that are valid wherever a plain string is, and that a careless client would put into a path. */
const HOSTILE_IDS = ["", "..", ".", "a/b", "%2e%2e", "x".repeat(300)];
const MAX_DEPTH = 11;

interface Context {
  spec: Spec;
  draw: Draw;
  maxTotal: number;
  depth: number;
  /** The property name this value is for (ids and totals are drawn specially). */
  name?: string;
  /** Inside `included` or a `relationships` object: ids come from the answer's small pool, so references meet. */
  linked?: boolean;
  /** A few UUIDs per answer: references and included objects drawn from it point at each other. */
  pool: string[];
}

function resolve(spec: Spec, schema: unknown): Json {
  return spec.deref<Json>((schema ?? {}) as Json);
}

/** allOf flattened into one object schema (properties and required merged). */
function flatten(spec: Spec, schema: Json): Json {
  if (!Array.isArray(schema.allOf)) return schema;
  const out: Json = { ...schema, allOf: undefined, properties: { ...((schema.properties as Json) ?? {}) }, required: [...((schema.required as string[]) ?? [])] };
  for (const part of schema.allOf as unknown[]) {
    const p = flatten(spec, resolve(spec, part));
    Object.assign(out.properties as Json, (p.properties as Json) ?? {});
    (out.required as string[]).push(...((p.required as string[]) ?? []));
    if (p.type && !out.type) out.type = p.type;
  }
  return out;
}

function stringFor(schema: Json, ctx: Context): string {
  const { draw } = ctx;
  if (Array.isArray(schema.enum)) return String(draw.pick(schema.enum as unknown[]));
  const min = typeof schema.minLength === "number" ? schema.minLength : 0;
  const max = typeof schema.maxLength === "number" ? schema.maxLength : 40;
  const fit = (s: string) => (s.length > max ? s.slice(0, max) : s.length < min ? s.padEnd(min, "x") : s);
  if (typeof schema.pattern === "string" && typeof schema.example === "string") return schema.example;
  // Ids: mostly UUIDs (so that the client follows them), sometimes anything a string may be (unless a format says).
  if (ctx.name === "id" || ctx.name?.endsWith("_id")) {
    if (ctx.linked && draw.chance(0.8)) return draw.pick(ctx.pool);
    if (schema.format === "uuid" || draw.chance(0.8)) return draw.uuid();
    return fit(draw.pick(HOSTILE_IDS));
  }
  switch (schema.format) {
    case "date-time":
      return new Date(Date.UTC(2015 + draw.int(15), draw.int(12), 1 + draw.int(28), draw.int(24), draw.int(60))).toISOString();
    case "date":
      return `20${10 + draw.int(20)}-0${1 + draw.int(9)}-1${draw.int(10)}`;
    case "email":
      return `${draw.word(6)}@example.com`;
    case "uuid":
      return draw.uuid();
    case "uri":
    case "url":
      return `https://example.com/${draw.word(5)}`;
  }
  if (min === 0 && draw.chance(0.15)) return "";
  return fit(`${draw.word(1 + draw.int(12))}${draw.chance(0.2) ? " ü✓" : ""}`);
}

function numberFor(schema: Json, ctx: Context, integer: boolean): number {
  const { draw } = ctx;
  if (Array.isArray(schema.enum)) return draw.pick(schema.enum as number[]);
  let lo = typeof schema.minimum === "number" ? schema.minimum : 0;
  let hi = typeof schema.maximum === "number" ? schema.maximum : 1000;
  if (schema.format === "int32") hi = Math.min(hi, 2 ** 31 - 1);
  if (ctx.name && TOTALS.has(ctx.name)) {
    // Totals that disagree with the content, both ways, up to the plausible bound.
    hi = Math.min(Math.max(hi, ctx.maxTotal), ctx.maxTotal);
    lo = Math.max(lo, 0);
    const value = draw.pick([0, 1, 3, 100, 101, 12_345, 1_000_000, hi, lo + draw.int(hi - lo)]);
    return Math.min(Math.max(value, lo), hi);
  }
  if (schema.exclusiveMinimum === true) lo += integer ? 1 : 1e-6;
  if (schema.exclusiveMaximum === true) hi -= integer ? 1 : 1e-6;
  if (hi < lo) hi = lo;
  const value = lo + draw.float() * (hi - lo);
  return integer ? Math.floor(value) : value;
}

function valueFor(raw: unknown, ctx: Context): unknown {
  const { spec, draw } = ctx;
  let schema = flatten(spec, resolve(spec, raw));
  if (schema.nullable === true && draw.chance(0.1)) return null;
  const alternatives = (schema.oneOf ?? schema.anyOf) as unknown[] | undefined;
  if (Array.isArray(alternatives) && alternatives.length > 0) {
    schema = flatten(spec, resolve(spec, draw.pick(alternatives)));
  }
  const type = schema.type ?? (schema.properties ? "object" : schema.items ? "array" : undefined);
  switch (type) {
    case "object":
      return objectFor(schema, ctx);
    case "array": {
      const min = typeof schema.minItems === "number" ? schema.minItems : 0;
      // Primary and `included` lists are longer: more entries to skip or keep, and the objects references name are
      // often among them.
      const wanted = ctx.depth === 1 && (ctx.name === "included" || ctx.name === "data") ? 8 : 4;
      const max = Math.min(typeof schema.maxItems === "number" ? schema.maxItems : wanted, ctx.depth > 8 ? min : wanted);
      const n = min + draw.int(Math.max(0, max - min) + 1);
      return Array.from({ length: n }, () => valueFor(schema.items, { ...ctx, depth: ctx.depth + 1, name: undefined }));
    }
    case "string":
      return stringFor(schema, ctx);
    case "integer":
      return numberFor(schema, ctx, true);
    case "number":
      return numberFor(schema, ctx, false);
    case "boolean":
      return draw.chance(0.5);
    default:
      return Array.isArray(schema.enum) ? draw.pick(schema.enum as unknown[]) : draw.word(4);
  }
}

function objectFor(schema: Json, ctx: Context): Json {
  const out: Json = {};
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const properties = (schema.properties as Json | undefined) ?? {};
  for (const [name, sub] of Object.entries(properties)) {
    const resolved = resolve(ctx.spec, sub);
    if (resolved.writeOnly === true) continue;
    // Optional fields are often absent; deep down, only what is required (keeps answers small and finite).
    // A `type` is kept more often: without it a oneOf of JSON:API objects rarely matches exactly one.
    // The primary `data` of an answer is kept: the spec leaves it optional, but an answer without it is broken for
    // any client (the connector fails it on purpose, with a clear message).
    const keep =
      required.has(name) || (ctx.depth === 0 && name === "data") || (ctx.depth < MAX_DEPTH && ctx.draw.chance(name === "type" ? 0.9 : 0.75));
    if (!keep) continue;
    const linked = ctx.linked || name === "relationships" || (ctx.depth === 0 && name === "included");
    out[name] = valueFor(sub, { ...ctx, depth: ctx.depth + 1, name, linked });
  }
  return out;
}

// ---- the server ------------------------------------------------------------------------------------------------

function successOf(spec: Spec, template: string, method: string): { status: number; schema: unknown } | undefined {
  const operation = spec.operation(template, method) as { responses?: Record<string, unknown> } | undefined;
  for (const [status, raw] of Object.entries(operation?.responses ?? {})) {
    if (!/^2\d\d$/.test(status)) continue;
    const response = spec.deref<{ content?: Record<string, { schema?: unknown }> }>(raw as Json);
    return { status: Number(status), schema: response.content?.["application/json"]?.schema };
  }
  return undefined;
}

function requestKey(method: string, url: URL): string {
  const query = [...url.searchParams].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${method} ${url.pathname}?${new URLSearchParams(query).toString()}`;
}

export async function startRandomAnswers(options: RandomAnswersOptions): Promise<RandomAnswers> {
  const { spec, seed } = options;
  const maxTotal = options.maxTotal ?? 10_000_000;
  const attempts = options.attempts ?? 40;
  const stats: RandomAnswersStats = { requests: 0, byOperation: {}, redraws: 0, redrawExamples: [], invalid: 0, invalidExamples: [], undocumented: [], dataEntries: new Map() };

  const answer = (req: IncomingMessage, res: ServerResponse, body: string) => {
    void body;
    stats.requests++;
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const send = (status: number, payload?: unknown) => {
      const text = payload === undefined ? "" : JSON.stringify(payload);
      res.writeHead(status, payload === undefined ? {} : { "content-type": "application/json" });
      res.end(text);
    };
    // The v1 key check is not in the v2 spec; it answers as Datadog does.
    if (method === "GET" && url.pathname === "/api/v1/validate") return send(200, { valid: true });
    const match = matchOperation(spec, method, url.pathname + url.search);
    const success = match ? successOf(spec, match.pathTemplate, method) : undefined;
    if (!match || !success) {
      stats.undocumented.push(`${method} ${url.pathname}`);
      return send(404, { errors: ["not documented in the spec"] });
    }
    const label = `${method} ${match.pathTemplate}`;
    stats.byOperation[label] = (stats.byOperation[label] ?? 0) + 1;
    if (success.schema === undefined) return send(success.status);

    const key = requestKey(method, url);
    let value: unknown;
    let problems: string[] = [];
    for (let attempt = 0; attempt < attempts; attempt++) {
      const draw = new Draw(hash32(`${seed}|${attempt}|${key}`));
      const pool = Array.from({ length: 2 }, () => draw.uuid());
      value = valueFor(success.schema, { spec, draw, maxTotal, depth: 0, pool });
      problems = checkResponse(spec, { method, url: url.pathname + url.search, status: success.status, body: value });
      if (problems.length === 0) break;
      stats.redraws++;
      if (stats.redrawExamples.length < 10) stats.redrawExamples.push(`${label}: ${problems[0]}`);
    }
    if (problems.length > 0) {
      stats.invalid++;
      if (stats.invalidExamples.length < 5) stats.invalidExamples.push(`${key}: ${problems[0]}`);
    }
    const data = (value as { data?: unknown } | undefined)?.data;
    if (Array.isArray(data)) stats.dataEntries.set(key, data.length);
    send(success.status, value);
  };

  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => answer(req, res, body));
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    stats,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
