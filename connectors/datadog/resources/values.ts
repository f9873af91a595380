/** Small conversions from Datadog's JSON (nullable strings, ISO dates) to what the builders take. */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

/** A Date for an ISO 8601 string; undefined for null, absent or unparsable values. */
export function dateOf(value: string | null | undefined): Date | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** Copies `fields` into a Struct-compatible object, leaving out undefined and null values. */
export function profileOf(fields: Record<string, JsonValue | null | undefined>): JsonObject {
  const out: JsonObject = {};
  // Object.keys, not entries: a profile per user and per membership, and entries allocates a pair per field.
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (value !== undefined && value !== null) out[key] = value;
  }
  return out;
}

export function nonEmpty(value: string | null | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}

/**
 * A Date for a timestamp whose type an answer does not document: an ISO 8601 string, or epoch seconds or
 * milliseconds (as a number or a string of digits; values above 1e11 are taken as milliseconds).
 */
export function instantOf(value: unknown): Date | undefined {
  let n: number | undefined;
  if (typeof value === "number") n = value;
  else if (typeof value === "string" && /^\d+(\.\d+)?$/.test(value.trim())) n = Number(value);
  else if (typeof value === "string") return dateOf(value);
  if (n === undefined || !Number.isFinite(n) || n <= 0) return undefined;
  const date = new Date(n > 1e11 ? n : n * 1000);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** The later of some dates (undefined ones ignored). */
export function latest(...dates: (Date | undefined)[]): Date | undefined {
  let out: Date | undefined;
  for (const d of dates) if (d && (!out || d.getTime() > out.getTime())) out = d;
  return out;
}
