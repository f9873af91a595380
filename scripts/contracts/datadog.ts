/**
 * The committed Datadog contract: the part of Datadog's OpenAPI v2 spec (4 MB of YAML, not in the repository)
 * that the connector and the simulator use, so that the contract tests run in a fresh clone.
 *
 * Kept, for each used operation: operationId, parameters (path-level and operation-level), requestBody and every
 * documented response, with their schemas whole (B's random answers and the checkers need `included` arrays and
 * their item schemas), plus every component they reach through `$ref`, transitively (discriminator mappings
 * included). Dropped: prose (description, summary, title, example(s), externalDocs), `x-*` tooling extensions,
 * tags, security and servers. Schemas keep every validation keyword and their component names, so the checkers'
 * messages still point into the spec ("[schema #/components/schemas/UserTeam/required]").
 *
 * The spec's other operations on templates that a URL could match together with a kept one are listed by
 * method and operationId only (`x-other-operations`), so that path matching stays what it is over the whole
 * spec: without them, GET /api/v2/team/connections (a literal template of its own) would match
 * /api/v2/team/{team_id} and be checked as GetTeam, and PUT on a kept template would not say which methods
 * Datadog documents there. Operations on templates no kept one overlaps are left out entirely.
 */
import { parse } from "yaml";
import { jsonLines } from "./json-lines.ts";

export const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

export interface OperationRef {
  /** Upper-case HTTP method. */
  method: string;
  /** The spec's path template, e.g. /api/v2/users/{user_id}. */
  path: string;
}

export interface DatadogContract {
  /** The file's text, as committed. */
  text: string;
  /** Used operations the spec does not document (reported, not written). */
  missing: OperationRef[];
  operations: number;
  components: number;
}

type Json = Record<string, unknown>;

const PROSE = new Set(["description", "summary", "title", "example", "examples", "externalDocs"]);
const isDropped = (key: string) => PROSE.has(key) || key.startsWith("x-");
const COMPONENT_KINDS = ["parameters", "requestBodies", "responses", "schemas"] as const;
type ComponentKind = (typeof COMPONENT_KINDS)[number];

const isObject = (value: unknown): value is Json => !!value && typeof value === "object" && !Array.isArray(value);

/** Collects the components reached through `$ref`s while the kept parts are copied. */
class Refs {
  readonly seen = new Set<string>();
  readonly queue: string[] = [];

  add(ref: unknown): void {
    if (typeof ref !== "string") return;
    if (!/^#\/components\/[^/]+\/[^/]+$/.test(ref)) throw new Error(`unsupported reference ${ref}: only #/components/<kind>/<name>`);
    if (!this.seen.has(ref)) {
      this.seen.add(ref);
      this.queue.push(ref);
    }
  }
}

/** A Schema Object without prose. Walks only schema positions, so a property named "description" stays. */
function schema(value: unknown, refs: Refs): unknown {
  if (!isObject(value)) return value;
  const out: Json = {};
  for (const [key, sub] of Object.entries(value)) {
    if (isDropped(key)) continue;
    if (key === "$ref") refs.add(sub);
    if (key === "items" || key === "not" || (key === "additionalProperties" && isObject(sub))) out[key] = schema(sub, refs);
    else if ((key === "allOf" || key === "oneOf" || key === "anyOf") && Array.isArray(sub)) out[key] = sub.map((s) => schema(s, refs));
    else if (key === "properties" && isObject(sub)) out[key] = Object.fromEntries(Object.entries(sub).map(([name, s]) => [name, schema(s, refs)]));
    else {
      if (key === "discriminator" && isObject(sub) && isObject(sub.mapping)) for (const target of Object.values(sub.mapping)) refs.add(target);
      // enum, default and the like are values, copied as they are.
      out[key] = sub;
    }
  }
  return out;
}

function content(value: unknown, refs: Refs): Json | undefined {
  if (!isObject(value)) return undefined;
  return Object.fromEntries(Object.entries(value).map(([type, media]) => [type, isObject(media) && "schema" in media ? { schema: schema(media.schema, refs) } : {}]));
}

function reference(value: Json, refs: Refs): Json | undefined {
  if (typeof value.$ref !== "string") return undefined;
  refs.add(value.$ref);
  return { $ref: value.$ref };
}

function parameter(value: unknown, refs: Refs): Json {
  if (!isObject(value)) throw new Error("a parameter is not an object");
  const ref = reference(value, refs);
  if (ref) return ref;
  const out: Json = {};
  for (const [key, sub] of Object.entries(value)) {
    if (isDropped(key)) continue;
    out[key] = key === "schema" ? schema(sub, refs) : key === "content" ? content(sub, refs) : sub;
  }
  return out;
}

function requestBody(value: unknown, refs: Refs): Json {
  if (!isObject(value)) throw new Error("a requestBody is not an object");
  const ref = reference(value, refs);
  if (ref) return ref;
  const out: Json = {};
  if (value.required !== undefined) out.required = value.required;
  const media = content(value.content, refs);
  if (media) out.content = media;
  return out;
}

function response(value: unknown, refs: Refs): Json {
  if (!isObject(value)) throw new Error("a response is not an object");
  const ref = reference(value, refs);
  if (ref) return ref;
  const media = content(value.content, refs);
  return media ? { content: media } : {};
}

function operation(value: Json, refs: Refs): Json {
  const out: Json = { operationId: value.operationId };
  if (value.deprecated !== undefined) out.deprecated = value.deprecated;
  if (Array.isArray(value.parameters)) out.parameters = value.parameters.map((p) => parameter(p, refs));
  if (value.requestBody !== undefined) out.requestBody = requestBody(value.requestBody, refs);
  out.responses = Object.fromEntries(Object.entries(isObject(value.responses) ? value.responses : {}).map(([status, r]) => [status, response(r, refs)]));
  return out;
}

/** Whether some URL path matches both templates (a parameter segment matches any non-empty segment). */
function overlaps(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((segment, i) => segment === b[i] || segment.includes("{") || b[i].includes("{"));
}

const COPY_COMPONENT: Record<ComponentKind, (value: unknown, refs: Refs) => unknown> = {
  parameters: parameter,
  requestBodies: requestBody,
  responses: response,
  schemas: schema,
};

/** Builds the committed contract from the spec's text, for the operations `used` names. */
export function extractDatadogContract(specText: string, used: readonly OperationRef[]): DatadogContract {
  const spec = parse(specText) as Json;
  const paths = spec.paths as Record<string, Json> | undefined;
  const components = spec.components as Record<string, Json> | undefined;
  if (!isObject(paths) || !isObject(components)) throw new Error("not an OpenAPI document: expected top-level `paths` and `components`");
  if (!String(spec.openapi).startsWith("3.0")) throw new Error(`expected an OpenAPI 3.0.x document, got openapi: ${String(spec.openapi)}`);

  const wanted = new Set(used.map((u) => `${u.method.toLowerCase()} ${u.path}`));
  const refs = new Refs();
  const kept: Record<string, Json> = {};
  const others: Record<string, Record<string, string>> = {};
  const missing: OperationRef[] = [];
  let operations = 0;

  for (const template of Object.keys(paths).sort()) {
    const item = paths[template];
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      if (!wanted.has(`${method} ${template}`)) {
        (others[template] ??= {})[method] = String(op.operationId ?? "");
        continue;
      }
      const out = (kept[template] ??= {});
      if (!out.parameters && Array.isArray(item.parameters)) out.parameters = item.parameters.map((p) => parameter(p, refs));
      out[method] = operation(op, refs);
      operations++;
    }
  }
  const keptSegments = Object.keys(kept).map((t) => t.split("/"));
  for (const template of Object.keys(others)) {
    if (!keptSegments.some((segments) => overlaps(segments, template.split("/")))) delete others[template];
  }
  for (const u of used) {
    if (!isObject(paths[u.path]?.[u.method.toLowerCase()])) missing.push(u);
  }

  const found: Partial<Record<ComponentKind, Json>> = {};
  while (refs.queue.length > 0) {
    const ref = refs.queue.shift()!;
    const [, , kind, name] = ref.split("/");
    if (!(COMPONENT_KINDS as readonly string[]).includes(kind)) throw new Error(`unsupported reference ${ref}`);
    const source = components[kind]?.[name];
    if (source === undefined) throw new Error(`unresolvable reference ${ref}`);
    (found[kind as ComponentKind] ??= {})[name] = COPY_COMPONENT[kind as ComponentKind](source, refs);
  }
  const sortedComponents: Json = {};
  let componentCount = 0;
  for (const kind of COMPONENT_KINDS) {
    const entries = Object.entries(found[kind] ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (entries.length === 0) continue;
    sortedComponents[kind] = Object.fromEntries(entries);
    componentCount += entries.length;
  }

  const info = isObject(spec.info) ? spec.info : {};
  const document = {
    "x-generated": "by `npm run contracts` from Datadog's openapi-v2.yaml (../shared/datadog); do not edit",
    openapi: spec.openapi,
    info: { title: info.title, version: info.version },
    paths: kept,
    components: sortedComponents,
    "x-other-operations": others,
  };
  // One line per operation, per component and per other path.
  const text = jsonLines(document, (path) => path.length >= 3 || (path[0] === "x-other-operations" && path.length === 2) || path[0] === "info");
  return { text, missing, operations, components: componentCount };
}
