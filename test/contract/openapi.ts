/**
 * An OpenAPI 3.0 contract checker over Datadog's official v2 spec. It reads the committed contract
 * (datadog-contract.json beside this file: the operations the connector and the simulator use, with their
 * schemas, generated from ../shared/datadog/openapi-v2.yaml by `npm run contracts`), so it runs in a fresh
 * clone; committed-contract.test.ts fails when that file is stale. It answers two questions about an exchange:
 *   - checkRequest: is this a documented operation (method + path template), with documented query parameters
 *     whose values fit their schemas, and a body that validates against the operation's requestBody schema?
 *   - checkResponse: does the body validate against the response schema documented for that status?
 * Schemas are converted from OpenAPI 3.0 to JSON Schema by @openapi-contrib/openapi-schema-to-json-schema and
 * validated by Ajv; nothing here validates by hand. Validators are compiled lazily, one per operation and
 * status, so a test pays only for what it touches.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { openapiSchemaToJsonSchema } from "@openapi-contrib/openapi-schema-to-json-schema";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { parse } from "yaml";

/** Datadog's full spec, beside the repository: the source of the committed contract (absent in a fresh clone). */
export const SPEC_PATH = fileURLToPath(new URL("../../../shared/datadog/openapi-v2.yaml", import.meta.url));
/** The committed contract, what `loadSpec()` reads. Regenerate it with `npm run contracts`. */
export const CONTRACT_PATH = fileURLToPath(new URL("./datadog-contract.json", import.meta.url));

/**
 * Calls the connector makes that Datadog documents outside this v2 spec file. They are not failures, but they
 * are not checked either, so the checkers report them apart (see `classifyRequest` and check-exchanges.ts)
 * instead of letting them pass unnoticed. Keep this list to what the spec file truly lacks.
 */
export const UNDOCUMENTED_IN_V2_SPEC: readonly UndocumentedOperation[] = [
  {
    method: "GET",
    pathTemplate: "/api/v1/validate",
    // The API-key check is a v1 operation (Datadog's v1 spec, "Validate API key"); the v2 spec has no v1 paths.
    reason: "v1 operation (Validate API key); this file is the v2 spec only",
  },
  {
    method: "POST",
    pathTemplate: "/api/v2/delegated-token",
    // Cloud-provider (delegated) authentication is a preview API that Datadog has not published in the spec.
    reason: "preview API (delegated cloud-provider authentication) not yet in Datadog's published spec",
  },
];

/**
 * Where real Datadog answers differ from the spec, and the simulator answers like Datadog: team and on-call error
 * answers are JSON:API error objects (`{"errors":[{"status":"409","title":"Conflict","detail":"…"}]}`), where the
 * spec documents APIErrorResponse (`{"errors":["…"]}`). Such an error answer is checked against this schema
 * (the spec's JSONAPIErrorResponse, in short) instead; any other answer on those paths against the spec.
 */
export const OBSERVED_ERROR_OBJECTS = {
  paths: /^\/api\/v2\/(team|on-call)(\/|$)/,
  schema: {
    type: "object",
    required: ["errors"],
    properties: {
      errors: {
        type: "array",
        items: {
          type: "object",
          required: ["detail"],
          properties: { status: { type: "string" }, title: { type: "string" }, detail: { type: "string" }, meta: { type: "object" } },
        },
      },
    },
  },
} as const;

export interface UndocumentedOperation {
  method: string;
  pathTemplate: string;
  reason: string;
}

export interface OperationMatch {
  operationId: string;
  pathTemplate: string;
}

export interface RequestToCheck {
  method: string;
  /** Absolute URL or path with query, e.g. "/api/v2/users?page[size]=100". */
  url: string;
  /** The parsed JSON body; undefined means no body. Ignored when `bodyText` is given. */
  body?: unknown;
  /** The raw body as sent ("" for none); parsed here, so a body that is not JSON is reported. */
  bodyText?: string;
  contentType?: string;
}

export interface ResponseToCheck {
  method: string;
  url: string;
  status: number;
  /** The parsed JSON body; undefined means an empty body. Ignored when `bodyText` is given. */
  body?: unknown;
  /** The raw body as received ("" for none); parsed here, so a body that is not JSON is reported. */
  bodyText?: string;
  contentType?: string;
}

export type RequestClass =
  | { kind: "documented"; match: OperationMatch }
  | { kind: "allow-listed"; entry: UndocumentedOperation }
  | { kind: "unknown"; reason: string };

// ---------------------------------------------------------------------------------------------------------
// The spec document (only the parts we read)

type Json = Record<string, unknown>;
interface Reference {
  $ref: string;
}
interface Parameter {
  name: string;
  in: "query" | "path" | "header" | "cookie";
  required?: boolean;
  style?: string;
  explode?: boolean;
  schema?: Json;
}
interface MediaType {
  schema?: Json;
}
interface RequestBody {
  required?: boolean;
  content?: Record<string, MediaType>;
}
interface ResponseObject {
  content?: Record<string, MediaType>;
}
interface Operation {
  operationId?: string;
  parameters?: (Parameter | Reference)[];
  requestBody?: RequestBody | Reference;
  responses?: Record<string, ResponseObject | Reference>;
}
type PathItem = Partial<Record<HttpMethod, Operation>> & { parameters?: (Parameter | Reference)[] };
interface OpenApiDocument {
  openapi: string;
  paths: Record<string, PathItem>;
  components: { schemas?: Record<string, Json>; responses?: Record<string, unknown>; parameters?: Record<string, unknown> };
  /** In the committed contract: template → method → operationId of the spec's operations it leaves out. */
  "x-other-operations"?: Record<string, Partial<Record<HttpMethod, string>>>;
}

const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;
type HttpMethod = (typeof HTTP_METHODS)[number];

// ---------------------------------------------------------------------------------------------------------
// Path templates: a segment tree where literal segments are tried before parameters, so that
// /api/v2/team/connections is the literal template and not /api/v2/team/{team_id}.

interface PathNode {
  literal: Map<string, PathNode>;
  /** Parameter segments ("{team_id}", "{super_team_id}", or patterns like "{id}.json"), in spec order. */
  params: { pattern: RegExp; node: PathNode }[];
  template?: string;
}

const newNode = (): PathNode => ({ literal: new Map(), params: [] });

function segmentPattern(segment: string): RegExp {
  const source = segment
    .split(/(\{[^}]+\})/)
    .map((part) => (/^\{[^}]+\}$/.test(part) ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`);
}

function buildTree(paths: Iterable<string>): PathNode {
  const root = newNode();
  for (const template of paths) {
    let node = root;
    for (const segment of template.split("/").slice(1)) {
      if (!segment.includes("{")) {
        let next = node.literal.get(segment);
        if (!next) node.literal.set(segment, (next = newNode()));
        node = next;
      } else {
        let entry = node.params.find((p) => p.pattern.source === segmentPattern(segment).source);
        if (!entry) node.params.push((entry = { pattern: segmentPattern(segment), node: newNode() }));
        node = entry.node;
      }
    }
    node.template = template;
  }
  return root;
}

function findTemplate(node: PathNode, segments: readonly string[], at: number): string | undefined {
  if (at === segments.length) return node.template;
  const segment = segments[at];
  const literal = node.literal.get(segment);
  if (literal) {
    const found = findTemplate(literal, segments, at + 1);
    if (found) return found;
  }
  if (segment === "") return undefined;
  for (const param of node.params) {
    if (!param.pattern.test(segment)) continue;
    const found = findTemplate(param.node, segments, at + 1);
    if (found) return found;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Schema conversion

type Mode = "request" | "response";
const ROOT_ID: Record<Mode, string> = { request: "datadog-v2-request.json", response: "datadog-v2-response.json" };

/** Schema keywords whose value is a schema, an array of schemas, or a map of schemas (OpenAPI 3.0 subset). */
const SUBSCHEMA = ["items", "additionalProperties", "not"] as const;
const SUBSCHEMA_ARRAYS = ["allOf", "oneOf", "anyOf"] as const;
const SUBSCHEMA_MAPS = ["properties"] as const;
/** Kept on the outside when a schema is wrapped, so that readOnly/writeOnly removal still sees them. */
const OUTER_KEYS = new Set(["readOnly", "writeOnly", "description", "deprecated"]);

/**
 * OpenAPI 3.0 puts `nullable: true` beside `$ref`, `oneOf` and the like (Datadog does, e.g.
 * RoutingRuleRelationshipsPolicy.data), where the converter only honours it beside `type`. Datadog's own client
 * generators read it as "or null", so we do too: such a schema becomes anyOf [schema, null].
 */
function wrapTypelessNullable(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(wrapTypelessNullable);
  if (!schema || typeof schema !== "object") return schema;
  const out: Json = { ...(schema as Json) };
  for (const key of SUBSCHEMA) if (key in out && typeof out[key] === "object") out[key] = wrapTypelessNullable(out[key]);
  for (const key of SUBSCHEMA_ARRAYS) if (Array.isArray(out[key])) out[key] = (out[key] as unknown[]).map(wrapTypelessNullable);
  for (const key of SUBSCHEMA_MAPS) {
    const map = out[key];
    if (map && typeof map === "object") {
      out[key] = Object.fromEntries(Object.entries(map as Json).map(([name, sub]) => [name, wrapTypelessNullable(sub)]));
    }
  }
  if (out.nullable !== true || "type" in out) return out;
  const outer: Json = {};
  const inner: Json = {};
  for (const [key, value] of Object.entries(out)) {
    if (key === "nullable") continue;
    (OUTER_KEYS.has(key) ? outer : inner)[key] = value;
  }
  return { ...outer, anyOf: [inner, { type: "null" }] };
}

/** Drops the converter's per-schema `$schema` and points local refs at the shared root document. */
function finish(schema: unknown, rootId: string): unknown {
  if (Array.isArray(schema)) return schema.map((s) => finish(s, rootId));
  if (!schema || typeof schema !== "object") return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema as Json)) {
    if (key === "$schema") continue;
    out[key] = key === "$ref" && typeof value === "string" && value.startsWith("#/") ? `${rootId}${value}` : finish(value, rootId);
  }
  return out;
}

function convert(schema: Json, mode: Mode): unknown {
  return openapiSchemaToJsonSchema(wrapTypelessNullable(schema) as Json, {
    cloneSchema: true,
    // OpenAPI 3.0 Schema Object: readOnly properties are not sent in requests, writeOnly ones not returned.
    removeReadOnly: mode === "request",
    removeWriteOnly: mode === "response",
  });
}

function newAjv(): Ajv {
  // strict: false because OpenAPI schemas carry keywords Ajv does not know (example, x-*, discriminator).
  // verbose: errors carry their parentSchema, which we map back to a location in the spec (see #pointers).
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true, verbose: true });
  const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv) => void;
  addFormats(ajv);
  // OpenAPI's numeric formats (JSON Schema leaves them open; the spec means these ranges).
  ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat("float", { type: "number", validate: () => true });
  ajv.addFormat("double", { type: "number", validate: () => true });
  ajv.addFormat("binary", true);
  ajv.addFormat("byte", true);
  ajv.addFormat("password", true);
  return ajv;
}

// ---------------------------------------------------------------------------------------------------------
// The spec

export class Spec {
  readonly document: OpenApiDocument;
  readonly #tree: PathNode;
  readonly #ajv = new Map<Mode, Ajv>();
  readonly #validators = new Map<string, ValidateFunction>();
  /** Converted schema object → its JSON pointer in the spec (e.g. #/components/schemas/UserTeam). */
  readonly #pointers = new WeakMap<object, string>();

  constructor(document: OpenApiDocument) {
    if (!document || typeof document.paths !== "object" || typeof document.components !== "object") {
      throw new Error("not an OpenAPI document: expected top-level `paths` and `components`");
    }
    if (!String(document.openapi).startsWith("3.0")) {
      throw new Error(`expected an OpenAPI 3.0.x document, got openapi: ${String(document.openapi)}`);
    }
    this.document = document;
    // The left-out operations' templates take part in matching, so that a literal template of the spec
    // (/api/v2/team/connections) is never mistaken for a parameter one of the contract (/api/v2/team/{team_id}).
    this.#tree = buildTree(new Set([...Object.keys(document.paths), ...Object.keys(document["x-other-operations"] ?? {})]));
  }

  /** The template whose segments match `pathname` (literal segments preferred), whatever its methods. */
  templateFor(pathname: string): string | undefined {
    return findTemplate(this.#tree, pathname.split("/").slice(1), 0);
  }

  operation(template: string, method: string): Operation | undefined {
    const m = method.toLowerCase() as HttpMethod;
    return HTTP_METHODS.includes(m) ? this.document.paths[template]?.[m] : undefined;
  }

  /**
   * The operationId of an operation the spec documents but the committed contract leaves out (no parameters
   * or schemas to check it against); undefined for the contract's own operations and for undocumented ones.
   */
  leftOut(template: string, method: string): string | undefined {
    const m = method.toLowerCase() as HttpMethod;
    return this.document["x-other-operations"]?.[template]?.[m];
  }

  methodsOf(template: string): string[] {
    const item = this.document.paths[template] ?? {};
    const other = this.document["x-other-operations"]?.[template] ?? {};
    return HTTP_METHODS.filter((m) => item[m] || other[m]).map((m) => m.toUpperCase());
  }

  /** Follows a local `$ref` ("#/components/...") until it reaches a non-reference object. */
  deref<T>(value: T | Reference): T {
    let current: unknown = value;
    for (let hops = 0; current && typeof current === "object" && "$ref" in current; hops++) {
      if (hops > 20) throw new Error(`reference loop at ${(value as Reference).$ref}`);
      current = this.pointer((current as Reference).$ref);
    }
    return current as T;
  }

  pointer(ref: string): unknown {
    if (!ref.startsWith("#/")) throw new Error(`only local references are supported, got ${ref}`);
    let node: unknown = this.document;
    for (const raw of ref.slice(2).split("/")) {
      const key = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
      node = node && typeof node === "object" ? (node as Json)[key] : undefined;
      if (node === undefined) throw new Error(`unresolvable reference ${ref}`);
    }
    return node;
  }

  /** Parameters of an operation, path-level ones overridden by operation-level ones of the same name and place. */
  parameters(template: string, operation: Operation): Parameter[] {
    const byKey = new Map<string, Parameter>();
    for (const raw of [...(this.document.paths[template]?.parameters ?? []), ...(operation.parameters ?? [])]) {
      const p = this.deref<Parameter>(raw);
      byKey.set(`${p.in}:${p.name}`, p);
    }
    return [...byKey.values()];
  }

  /** A compiled validator for an OpenAPI schema object, cached by `cacheKey`. */
  validator(cacheKey: string, schema: Json, mode: Mode): ValidateFunction {
    const key = `${mode}|${cacheKey}`;
    let validate = this.#validators.get(key);
    if (!validate) {
      const ajv = this.#ajvFor(mode);
      const rootId = ROOT_ID[mode];
      const ref = typeof schema.$ref === "string" && Object.keys(schema).length === 1 ? schema.$ref : undefined;
      validate = ajv.compile(ref?.startsWith("#/") ? { $ref: `${rootId}${ref}` } : (finish(convert(schema, mode), rootId) as Json));
      this.#validators.set(key, validate);
    }
    return validate;
  }

  /** Where in the spec a converted schema object comes from, when known. */
  locate(schema: unknown): string | undefined {
    return schema && typeof schema === "object" ? this.#pointers.get(schema) : undefined;
  }

  #index(node: unknown, pointer: string): void {
    if (!node || typeof node !== "object") return;
    if (!Array.isArray(node)) this.#pointers.set(node, pointer);
    for (const [key, value] of Object.entries(node)) this.#index(value, `${pointer}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`);
  }

  #ajvFor(mode: Mode): Ajv {
    let ajv = this.#ajv.get(mode);
    if (!ajv) {
      ajv = newAjv();
      const schemas: Json = {};
      for (const [name, schema] of Object.entries(this.document.components.schemas ?? {})) {
        schemas[name] = finish(convert(schema, mode), ROOT_ID[mode]);
      }
      ajv.addSchema({ $id: ROOT_ID[mode], components: { schemas } });
      this.#index(schemas, "#/components/schemas");
      this.#ajv.set(mode, ajv);
    }
    return ajv;
  }
}

let cached: Promise<Spec> | undefined;

/**
 * The committed contract, read once per process. Another path (the full YAML spec, or a contract JSON) is read
 * afresh on every call.
 */
export function loadSpec(path: string = CONTRACT_PATH): Promise<Spec> {
  if (path !== CONTRACT_PATH) return readSpec(path);
  cached ??= readSpec(path).catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

async function readSpec(path: string): Promise<Spec> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const hint = path === CONTRACT_PATH ? "it is committed; regenerate it with `npm run contracts`" : "give the path of an OpenAPI 3.0 YAML or JSON file";
    throw new Error(`cannot read Datadog's OpenAPI contract at ${path} (${hint}): ${(error as Error).message}`);
  }
  // YAML is a superset of JSON, but JSON.parse is ten times faster on the committed file.
  return new Spec((path.endsWith(".json") ? JSON.parse(text) : parse(text)) as OpenApiDocument);
}

// ---------------------------------------------------------------------------------------------------------
// Matching and checking

function splitUrl(url: string): URL {
  return new URL(url, "http://spec.invalid");
}

export function matchOperation(spec: Spec, method: string, url: string): OperationMatch | undefined {
  const template = spec.templateFor(splitUrl(url).pathname);
  if (!template) return undefined;
  const operation = spec.operation(template, method);
  if (!operation) {
    const leftOut = spec.leftOut(template, method);
    return leftOut === undefined ? undefined : { operationId: leftOut || `${method.toUpperCase()} ${template}`, pathTemplate: template };
  }
  return { operationId: operation.operationId ?? `${method.toUpperCase()} ${template}`, pathTemplate: template };
}

function matchesTemplate(template: string, pathname: string): boolean {
  const want = template.split("/");
  const got = pathname.split("/");
  return want.length === got.length && want.every((seg, i) => (seg.includes("{") ? segmentPattern(seg).test(got[i]) && got[i] !== "" : seg === got[i]));
}

/** Documented, on the explicit allow-list of operations missing from this spec file, or unknown (with why). */
export function classifyRequest(spec: Spec, method: string, url: string): RequestClass {
  const upper = method.toUpperCase();
  const { pathname } = splitUrl(url);
  const match = matchOperation(spec, upper, url);
  if (match) return { kind: "documented", match };
  const entry = UNDOCUMENTED_IN_V2_SPEC.find((e) => e.method === upper && matchesTemplate(e.pathTemplate, pathname));
  if (entry) return { kind: "allow-listed", entry };
  const template = spec.templateFor(pathname);
  return {
    kind: "unknown",
    reason: template
      ? `${upper} ${pathname}: no documented operation (path matches ${template}, which documents ${spec.methodsOf(template).join(", ")})`
      : `${upper} ${pathname}: no documented operation (no path template matches)`,
  };
}

const label = (method: string, match: OperationMatch) => `${method.toUpperCase()} ${match.pathTemplate} (${match.operationId})`;

/** Datadog documents it, but the committed contract holds only what the client and the simulator use. */
const leftOutProblem = (where: string) =>
  `${where}: documented by Datadog but not in the committed contract (test/contract/datadog-contract.json holds the operations of the client's OPERATIONS and the simulator's routes); after adding it there, run \`npm run contracts\``;

function formatErrors(spec: Spec, prefix: string, errors: ErrorObject[] | null | undefined): string[] {
  const lines = new Set<string>();
  for (const e of errors ?? []) {
    const params = e.keyword === "additionalProperties" ? ` "${(e.params as { additionalProperty: string }).additionalProperty}"` : "";
    const allowed = e.keyword === "enum" ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(", ")})` : "";
    // Only paths and messages: never the offending value, which may be a secret (a key in a create answer).
    const location = spec.locate(e.parentSchema);
    const schemaAt = location ? `${location}/${e.keyword}` : e.schemaPath;
    lines.add(`${prefix}: ${e.instancePath || "(root)"} ${e.message}${params}${allowed} [schema ${schemaAt}]`);
  }
  return [...lines];
}

type Parsed = { ok: true; value: unknown } | { ok: false; problem: string };

function readBody(body: unknown, bodyText: string | undefined): Parsed {
  if (bodyText === undefined) return { ok: true, value: body };
  if (bodyText.trim() === "") return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(bodyText) };
  } catch {
    return { ok: false, problem: "body is not valid JSON" };
  }
}

const isJsonType = (contentType: string | undefined) => !contentType || /^application\/([\w.+-]*\+)?json\b/i.test(contentType.trim());

/** A query value as the JSON value its schema describes (query strings carry only text). */
function coerceQueryValue(spec: Spec, schema: Json, raw: string): unknown {
  const resolved = spec.deref<Json>(schema);
  const type = resolved.type;
  // An unexploded array: "a,b,c".
  if (type === "array") {
    const items = (resolved.items as Json | undefined) ?? {};
    return raw.split(",").map((part) => coerceQueryValue(spec, items, part));
  }
  if ((type === "integer" || type === "number") && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(raw)) return Number(raw);
  if (type === "boolean" && (raw === "true" || raw === "false")) return raw === "true";
  return raw;
}

export function checkRequest(spec: Spec, request: RequestToCheck): string[] {
  const method = request.method.toUpperCase();
  const cls = classifyRequest(spec, method, request.url);
  if (cls.kind === "unknown") return [cls.reason];
  // Allow-listed operations are reported apart by the caller (classifyRequest), not as problems here.
  if (cls.kind === "allow-listed") return [];
  const { match } = cls;
  const where = label(method, match);
  const operation = spec.operation(match.pathTemplate, method);
  if (!operation) return [leftOutProblem(where)];
  const problems: string[] = [];

  const params = spec.parameters(match.pathTemplate, operation);
  const query = splitUrl(request.url).searchParams;
  const queryParams = params.filter((p) => p.in === "query");
  for (const name of new Set(query.keys())) {
    const param = queryParams.find((p) => p.name === name);
    if (!param) {
      const deep = queryParams.find((p) => p.style === "deepObject" && name.startsWith(`${p.name}[`));
      if (!deep) {
        const documented = queryParams.map((p) => p.name).join(", ") || "none";
        problems.push(`${where}: query parameter "${name}" is not documented (documented: ${documented})`);
      }
      continue;
    }
    if (!param.schema) continue;
    const values = query.getAll(name);
    const validate = spec.validator(`${match.operationId} query ${name}`, param.schema, "request");
    const isArray = spec.deref<Json>(param.schema).type === "array";
    // Query parameters are style "form"; arrays explode (repeat the name) unless `explode: false` (comma list).
    const explode = param.explode ?? (param.style ?? "form") === "form";
    let candidates: unknown[];
    if (isArray && explode) {
      const items = (spec.deref<Json>(param.schema).items as Json | undefined) ?? {};
      candidates = [values.map((v) => coerceQueryValue(spec, items, v))];
    } else {
      if (values.length > 1) problems.push(`${where}: query parameter "${name}" is repeated ${values.length} times`);
      candidates = values.map((v) => coerceQueryValue(spec, param.schema!, v));
    }
    for (const value of candidates) {
      if (!validate(value)) problems.push(...formatErrors(spec, `${where}: query parameter "${name}"`, validate.errors));
    }
  }
  for (const param of queryParams) {
    if (param.required && !query.has(param.name)) problems.push(`${where}: required query parameter "${param.name}" is missing`);
  }

  const parsed = readBody(request.body, request.bodyText);
  const requestBody = operation.requestBody ? spec.deref<RequestBody>(operation.requestBody) : undefined;
  if (!parsed.ok) {
    problems.push(`${where}: request ${parsed.problem}`);
  } else if (parsed.value === undefined) {
    if (requestBody?.required) problems.push(`${where}: request body is required`);
  } else if (!requestBody) {
    problems.push(`${where}: sends a request body, but the operation documents none`);
  } else {
    const schema = requestBody.content?.["application/json"]?.schema;
    if (!schema) {
      problems.push(`${where}: sends a JSON body, but the operation documents only ${Object.keys(requestBody.content ?? {}).join(", ")}`);
    } else {
      if (!isJsonType(request.contentType)) problems.push(`${where}: request Content-Type is ${request.contentType}, expected application/json`);
      const validate = spec.validator(`${match.operationId} requestBody`, schema, "request");
      if (!validate(parsed.value)) problems.push(...formatErrors(spec, `${where}: request body`, validate.errors));
    }
  }
  return problems;
}

let errorObjectsValidator: ValidateFunction | undefined;
function errorObjects(value: unknown): boolean {
  errorObjectsValidator ??= new Ajv({ strict: false }).compile(OBSERVED_ERROR_OBJECTS.schema);
  return errorObjectsValidator(value) === true;
}

export function checkResponse(spec: Spec, response: ResponseToCheck): string[] {
  const method = response.method.toUpperCase();
  const cls = classifyRequest(spec, method, response.url);
  if (cls.kind === "unknown") return [cls.reason];
  if (cls.kind === "allow-listed") return [];
  const { match } = cls;
  const where = `${label(method, match)} → ${response.status}`;
  const operation = spec.operation(match.pathTemplate, method);
  if (!operation) return [leftOutProblem(label(method, match))];
  const responses = operation.responses ?? {};
  const status = String(response.status);
  const documented = responses[status] ?? responses[`${status[0]}XX`] ?? responses.default;
  if (!documented) return [`${where}: status ${status} is not documented (documented: ${Object.keys(responses).join(", ")})`];
  const responseObject = spec.deref<ResponseObject>(documented);

  const parsed = readBody(response.body, response.bodyText);
  if (!parsed.ok) return [`${where}: response ${parsed.problem}`];
  const content = responseObject.content ?? {};
  const schema = content["application/json"]?.schema;
  if (!schema) {
    if (Object.keys(content).length === 0 && parsed.value !== undefined) return [`${where}: documents no response body, but one was sent`];
    return [];
  }
  if (parsed.value === undefined) return [`${where}: response body is empty; the spec documents an application/json body`];
  const problems: string[] = [];
  if (!isJsonType(response.contentType)) problems.push(`${where}: response Content-Type is ${response.contentType}, expected application/json`);
  const validate = spec.validator(`${match.operationId} ${status}`, schema, "response");
  if (!validate(parsed.value)) {
    const observed = response.status >= 400 && OBSERVED_ERROR_OBJECTS.paths.test(match.pathTemplate) && errorObjects(parsed.value);
    if (!observed) problems.push(...formatErrors(spec, `${where}: response body`, validate.errors));
  }
  return problems;
}
