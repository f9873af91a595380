/**
 * The platform's invoker (HOSTED-LAMBDA.md §4, §6), on the generated protos with protobuf-es only — independent of
 * the runtime's envelope codec, which it therefore cross-checks. Builds a c1.transport.v1.Request for a gRPC
 * method, encodes it as the invoker does (legacy protojson, the v2 dual form protojson + `v`/`frame`, or the
 * frame alone), sends it to an in-process handler (with Lambda's JSON round trip of event and result) or through
 * the Runtime API emulator, and decodes whichever form the function answered in.
 */
import { randomUUID } from "node:crypto";
import {
  create,
  fromBinary,
  fromJson,
  toBinary,
  toJson,
  type DescMessage,
  type DescMethod,
  type JsonObject,
  type JsonValue,
  type Message,
} from "@bufbuild/protobuf";
import { anyPack, anyUnpack } from "@bufbuild/protobuf/wkt";
import { RequestSchema, ResponseSchema, type Response } from "../../../src/gen/c1/transport/v1/transport_pb.js";
import { StatusSchema } from "../../../src/gen/google/rpc/status_pb.js";
import { invokerRegistry } from "./registry.ts";
import type { FunctionError, RuntimeApiEmulator } from "./runtime-api-emulator.ts";

/** A nodejs24.x handler as exported: `handler(event, context)`. */
export type LambdaHandler = (event: unknown, context: unknown) => Promise<unknown>;
export type InvokeTarget = LambdaHandler | RuntimeApiEmulator;

export type Encoding = "legacy" | "v2" | "frame-only";

export interface InvokeOptions {
  /** legacy protojson; v2 = the dual form the Go invoker sends (default); frame-only = `{v:2, frame}` alone. */
  encoding?: Encoding;
  /** Invocation JWT, sent as `authorization: Bearer <jwt>`. */
  jwt?: string;
  /** Sent as x-baton-connector-config-version. */
  configVersion?: string;
  /** Sent as grpc-timeout (`<ms>m`), as the Go client does from its deadline. */
  timeoutMs?: number;
  /** The Lambda function timeout (default 30 s): the in-process handler's context and the emulator's deadline. */
  lambdaTimeoutMs?: number;
  /** More request headers (values as lists, as the Struct carries them). */
  headers?: Record<string, string | string[]>;
}

export interface InvokeStatus {
  code: number;
  message: string;
  details?: unknown[];
}

export interface InvokeResult<M extends Message = Message> {
  status: InvokeStatus;
  /** The unpacked response message (status OK only). */
  response?: M;
  /** Response headers/trailers as §4.3 reads them; undefined when the response had none (error responses). */
  headers?: Record<string, string[]>;
  trailers?: Record<string, string[]>;
  /** The form the function answered in ("none" when it failed or answered something undecodable). */
  encoding: "legacy" | "v2" | "none";
  /** The function's result as it came back (after Lambda's JSON round trip). */
  raw: unknown;
  /** Set when the function failed (threw, timed out, init error). */
  functionError?: FunctionError & { kind: string };
  durationMs: number;
}

const STATUS_TYPE_URL = "type.googleapis.com/google.rpc.Status";
const MAX_DUAL_BYTES = 5 * 1024 * 1024;
// gRPC status codes the invoker itself produces.
const INTERNAL = 13;
const UNKNOWN = 2;
const DEADLINE_EXCEEDED = 4;
const RESOURCE_EXHAUSTED = 8;

/** §4.3 reading (protobuf-es holds a Struct field as a JSON object): keys lower-cased, non-list values ignored, empty strings dropped. */
export function readHeaderStruct(struct: JsonObject | undefined): Record<string, string[]> | undefined {
  if (!struct) return undefined;
  const out: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(struct)) {
    if (!Array.isArray(value)) continue;
    const values = value.flatMap((v) => (typeof v === "string" && v !== "" ? [v] : []));
    (out[key.toLowerCase()] ??= []).push(...values);
  }
  return out;
}

/** The gRPC method of a full name (`/pkg.Service/Method`), when the registry knows it. */
export function findMethod(fullMethod: string): DescMethod | undefined {
  const path = fullMethod.replace(/^\//, "");
  const slash = path.lastIndexOf("/");
  if (slash < 0) return undefined;
  return invokerRegistry.getService(path.slice(0, slash))?.methods.find((m) => m.name === path.slice(slash + 1));
}

/** The Lambda event for one call, in the chosen encoding. */
export function buildEvent(method: string, request: Message, opts: InvokeOptions = {}): JsonObject {
  const schema = invokerRegistry.getMessage(request.$typeName);
  if (!schema) throw new Error(`invoker: ${request.$typeName} is not a generated Baton message`);
  const headers: Record<string, string[]> = {};
  if (opts.jwt !== undefined) headers.authorization = [`Bearer ${opts.jwt}`];
  if (opts.configVersion !== undefined) headers["x-baton-connector-config-version"] = [opts.configVersion];
  if (opts.timeoutMs !== undefined) headers["grpc-timeout"] = [`${Math.max(0, Math.round(opts.timeoutMs))}m`];
  for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k] = Array.isArray(v) ? v : [v];
  const message = create(RequestSchema, { method, req: anyPack(schema, request), headers: headers as JsonObject });
  const frame = Buffer.from(toBinary(RequestSchema, message)).toString("base64");
  const encoding = opts.encoding ?? "v2";
  if (encoding === "frame-only") return { v: 2, frame };
  const legacy = toJson(RequestSchema, message, { registry: invokerRegistry }) as JsonObject;
  if (encoding === "legacy") return legacy;
  const dual = { ...legacy, v: 2, frame };
  // As the Go invoker: a dual payload past 5 MiB goes as legacy protojson alone (§4.2).
  return Buffer.byteLength(JSON.stringify(dual)) > MAX_DUAL_BYTES ? legacy : dual;
}

/** The @type's message name of an annotation element, undefined when it has none that parses. */
function annotationType(element: unknown): string | undefined {
  if (element === null || typeof element !== "object" || Array.isArray(element)) return undefined;
  const url = (element as Record<string, unknown>)["@type"];
  if (typeof url !== "string") return undefined;
  const name = url.slice(url.lastIndexOf("/") + 1);
  return name || undefined;
}

/**
 * §4.2's retry, as the Go invoker does it on a legacy answer: in every array under a key named `annotations`, at
 * any depth, drop the elements whose @type this registry does not know (elements without a usable @type are
 * dropped only when some element of that array has one). Returns how many were dropped.
 */
export function pruneAnnotations(value: JsonValue, depth = 0): { value: JsonValue; dropped: number } {
  if (depth > 100 || value === null || typeof value !== "object") return { value, dropped: 0 };
  let dropped = 0;
  if (Array.isArray(value)) {
    const items = value.map((v) => {
      const r = pruneAnnotations(v, depth + 1);
      dropped += r.dropped;
      return r.value;
    });
    return { value: items, dropped };
  }
  const out: Record<string, JsonValue> = {};
  for (const [key, v] of Object.entries(value)) {
    let child = v;
    if (key === "annotations" && Array.isArray(v)) {
      const anyTyped = v.some((e) => annotationType(e) !== undefined);
      child = v.filter((e) => {
        const name = annotationType(e);
        const keep = name === undefined ? !anyTyped : invokerRegistry.getMessage(name) !== undefined;
        if (!keep) dropped++;
        return keep;
      });
    }
    const r = pruneAnnotations(child, depth + 1);
    dropped += r.dropped;
    out[key] = r.value;
  }
  return { value: out, dropped };
}

function decodeLegacyResponse(json: JsonValue): Response {
  const options = { registry: invokerRegistry, ignoreUnknownFields: true };
  try {
    return fromJson(ResponseSchema, json, options);
  } catch (first) {
    const { value, dropped } = pruneAnnotations(json);
    if (dropped === 0) throw first;
    return fromJson(ResponseSchema, value, options);
  }
}

/** Decodes a function result: the v2 frame when it has one, else legacy protojson (the invoker accepts both). */
export function decodeResult(raw: unknown, expectedOutput?: DescMessage): Omit<InvokeResult, "raw" | "durationMs"> {
  let response: Response;
  let encoding: "legacy" | "v2";
  try {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new Error("the result is not a JSON object");
    const frameKey = Object.keys(raw).find((k) => k.toLowerCase() === "frame");
    const frame = frameKey === undefined ? undefined : (raw as Record<string, unknown>)[frameKey];
    if (typeof frame === "string" && frame.length > 0) {
      const vKey = Object.keys(raw).find((k) => k.toLowerCase() === "v");
      const v = vKey === undefined ? undefined : (raw as Record<string, unknown>)[vKey];
      if (v !== 2) throw new Error(`unsupported wire frame version ${JSON.stringify(v)}`);
      response = fromBinary(ResponseSchema, Buffer.from(frame, "base64"));
      encoding = "v2";
    } else {
      response = decodeLegacyResponse(raw as JsonValue);
      encoding = "legacy";
    }
  } catch (err) {
    return { status: { code: INTERNAL, message: `lambda_transport: failed to unmarshal response: ${(err as Error).message}` }, encoding: "none" };
  }
  const headers = readHeaderStruct(response.headers);
  const trailers = readHeaderStruct(response.trailers);
  if (!response.status) return { status: { code: INTERNAL, message: "response status not set" }, encoding, headers, trailers };
  if (response.status.typeUrl !== STATUS_TYPE_URL) {
    return { status: { code: INTERNAL, message: `status is a ${response.status.typeUrl}, not google.rpc.Status` }, encoding, headers, trailers };
  }
  const status = anyUnpack(response.status, StatusSchema)!;
  const details = status.details.map((d) => anyUnpack(d, invokerRegistry) ?? d);
  const result = { status: { code: status.code, message: status.message, details }, encoding, headers, trailers };
  if (status.code !== 0) return result;
  if (!response.resp) return { ...result, status: { code: INTERNAL, message: "OK status without a response message" } };
  const message = anyUnpack(response.resp, invokerRegistry);
  if (!message) return { ...result, status: { code: INTERNAL, message: `response of unknown type ${response.resp.typeUrl}` } };
  if (expectedOutput && message.$typeName !== expectedOutput.typeName) {
    return { ...result, status: { code: INTERNAL, message: `response is a ${message.$typeName}, expected ${expectedOutput.typeName}` } };
  }
  return { ...result, response: message };
}

/** Lambda's context object for an in-process call. */
function lambdaContext(deadline: number) {
  const requestId = randomUUID();
  return {
    awsRequestId: requestId,
    functionName: "baton-datadog-test",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-west-2:123456789012:function:baton-datadog-test",
    memoryLimitInMB: "512",
    logGroupName: "/aws/lambda/baton-datadog-test",
    logStreamName: "test",
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

export type RawOutcome = { ok: true; payload: unknown; durationMs: number } | { ok: false; error: FunctionError & { kind: string }; durationMs: number };

/** Sends one event as it is (e.g. a malformed frame) and returns what the function did. */
export async function invokeRaw(target: InvokeTarget, event: unknown, opts: { lambdaTimeoutMs?: number } = {}): Promise<RawOutcome> {
  const timeoutMs = opts.lambdaTimeoutMs ?? 30_000;
  if (typeof target !== "function") {
    const r = await target.invoke(event, { timeoutMs });
    return r.ok ? { ok: true, payload: r.payload, durationMs: r.durationMs } : { ok: false, error: { ...r.error, kind: r.kind }, durationMs: r.durationMs };
  }
  const started = Date.now();
  // Lambda hands the handler a parsed copy of the JSON event and serialises what it returns.
  const parsedEvent = JSON.parse(JSON.stringify(event) ?? "null") as unknown;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const returned = await Promise.race([target(parsedEvent, lambdaContext(started + timeoutMs)), timedOut]);
    if (returned === "timeout") {
      return { ok: false, error: { kind: "timeout", errorType: "Sandbox.Timedout", errorMessage: `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds` }, durationMs: Date.now() - started };
    }
    const text = JSON.stringify(returned);
    return { ok: true, payload: text === undefined ? null : JSON.parse(text), durationMs: Date.now() - started };
  } catch (err) {
    const e = err as Error;
    return { ok: false, error: { kind: "error", errorType: e?.name ?? "Error", errorMessage: e?.message ?? String(err) }, durationMs: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

/** One gRPC call through the function: builds the event, invokes, decodes. */
export async function invoke<M extends Message = Message>(
  target: InvokeTarget,
  method: string,
  request: Message,
  opts: InvokeOptions = {},
): Promise<InvokeResult<M>> {
  const event = buildEvent(method, request, opts);
  const outcome = await invokeRaw(target, event, { lambdaTimeoutMs: opts.lambdaTimeoutMs });
  if (!outcome.ok) {
    // §6: timeouts are DEADLINE_EXCEEDED, out-of-memory RESOURCE_EXHAUSTED, every other function error UNKNOWN.
    const code = outcome.error.kind === "timeout" ? DEADLINE_EXCEEDED : outcome.error.errorType === "Runtime.OutOfMemory" ? RESOURCE_EXHAUSTED : UNKNOWN;
    return {
      status: { code, message: `lambda_transport: ${outcome.error.kind} (${outcome.error.errorType}): ${outcome.error.errorMessage}; logSummary: ` },
      encoding: "none",
      raw: undefined,
      functionError: outcome.error,
      durationMs: outcome.durationMs,
    };
  }
  const decoded = decodeResult(outcome.payload, findMethod(method)?.output);
  return { ...decoded, response: decoded.response as M | undefined, raw: outcome.payload, durationMs: outcome.durationMs };
}
