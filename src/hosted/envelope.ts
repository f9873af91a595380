/**
 * The Lambda payload of a hosted invocation (HOSTED-LAMBDA.md §4.2, §4.3, §7): a c1.transport.v1 Request in, a
 * Response out, each either legacy protojson or the v2 frame `{"v":2,"frame":"<base64 of the binary message>"}`.
 * The answer uses the request's encoding. Events that cannot be decoded throw EnvelopeError: the Go handler
 * reports those as a function error, not as a Response.
 */
import { create, fromBinary, toBinary, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { RequestSchema, ResponseSchema, type Request, type Response } from "../gen/c1/transport/v1/transport_pb.js";
import { decodeProtoJson, encodeProtoJson } from "./protojson.ts";

export type Encoding = "legacy" | "v2";

export const WIRE_FRAME_VERSION = 2;
/** Lambda's synchronous invoke payload is at most 6 MiB; a header map this large is not a header map. */
export const MAX_HEADER_VALUES = 1024;

/** An event that is not a transport Request in either encoding (Go: a function error). */
export class EnvelopeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "EnvelopeError";
  }
}

export type HeaderMap = ReadonlyMap<string, readonly string[]>;

export interface DecodedEvent {
  encoding: Encoding;
  request: Request;
}

/** Go's encoding/json matches keys case-insensitively, preferring an exact match. */
function field(obj: Record<string, unknown>, name: string): { present: boolean; value: unknown } {
  if (Object.hasOwn(obj, name)) return { present: true, value: obj[name] };
  for (const key of Object.keys(obj)) if (key.toLowerCase() === name) return { present: true, value: obj[key] };
  return { present: false, value: undefined };
}

/** Standard base64 with padding, CR/LF ignored (Go's []byte decoding); undefined when it is not that. */
function strictBase64(text: string): Uint8Array | undefined {
  const s = text.replace(/[\r\n]/g, "");
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  const bytes = Buffer.from(s, "base64");
  // Non-canonical trailing bits decode silently in Node; re-encoding catches them (Go rejects them too).
  if (bytes.toString("base64") !== s) return undefined;
  return bytes;
}

/**
 * The v2 frame of `event` if it carries one (§7's detection), else undefined (legacy). Throws EnvelopeError for
 * a frame with a version other than 2 (an absent or null `v` counts as 0).
 */
function wireFrame(event: unknown): Uint8Array | undefined {
  if (event === null || typeof event !== "object" || Array.isArray(event)) return undefined;
  const obj = event as Record<string, unknown>;
  const frame = field(obj, "frame");
  const v = field(obj, "v");
  if (typeof frame.value !== "string") return undefined; // absent, null or not a string: legacy
  const bytes = strictBase64(frame.value);
  if (bytes === undefined) return undefined; // Go's JSON decode into []byte fails: legacy
  if (v.value !== undefined && v.value !== null && !(typeof v.value === "number" && Number.isInteger(v.value))) return undefined;
  if (bytes.length === 0) return undefined;
  const version = typeof v.value === "number" ? v.value : 0;
  if (version !== WIRE_FRAME_VERSION) throw new EnvelopeError(`transport: unsupported wire frame version ${version}`);
  return bytes;
}

export function decodeEvent(event: unknown): DecodedEvent {
  const frame = wireFrame(event);
  if (frame !== undefined) {
    try {
      return { encoding: "v2", request: fromBinary(RequestSchema, frame) };
    } catch (err) {
      throw new EnvelopeError(`transport: invalid wire frame: ${(err as Error).message}`, { cause: err });
    }
  }
  if (event === null || typeof event !== "object" || Array.isArray(event)) {
    throw new EnvelopeError(`transport: the event is not a transport request (got ${Array.isArray(event) ? "an array" : event === null ? "null" : typeof event})`);
  }
  try {
    return { encoding: "legacy", request: decodeProtoJson(RequestSchema, event) };
  } catch (err) {
    throw new EnvelopeError(`transport: failed to unmarshal request: ${(err as Error).message}`, { cause: err });
  }
}

/** The Lambda result for `response` in `encoding`: an object (nodejs24.x serialises it), never a string. */
export function encodeResponse(response: Response, encoding: Encoding): { v: number; frame: string } | JsonValue {
  if (encoding === "v2") {
    return { v: WIRE_FRAME_VERSION, frame: Buffer.from(toBinary(ResponseSchema, response)).toString("base64") };
  }
  return encodeProtoJson(ResponseSchema, response);
}


/** A header Struct (a JSON object in protobuf-es) as a map (§4.3): keys lower-cased, only list values, empty strings dropped. */
export function readHeaders(struct: JsonObject | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!struct) return out;
  let count = 0;
  for (const [key, value] of Object.entries(struct)) {
    if (!Array.isArray(value)) continue;
    const name = key.toLowerCase();
    const values = out.get(name) ?? [];
    for (const item of value) {
      if (typeof item !== "string" || item === "") continue;
      if (++count > MAX_HEADER_VALUES) break;
      values.push(item);
    }
    if (values.length > 0) out.set(name, values);
  }
  return out;
}

/** The first value of a header, the way the SDK reads its headers. */
export function firstHeader(headers: HeaderMap, name: string): string | undefined {
  return headers.get(name.toLowerCase())?.[0];
}

/** A header map as the Struct of lists of strings the envelope carries. */
export function headerStruct(headers: HeaderMap = new Map()): JsonObject {
  const struct: JsonObject = {};
  for (const [name, values] of headers) struct[name] = [...values];
  return struct;
}

export function response(init: Partial<Pick<Response, "resp" | "status" | "headers" | "trailers">>): Response {
  return create(ResponseSchema, init);
}
