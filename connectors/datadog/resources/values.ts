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
  for (const [key, value] of Object.entries(fields)) if (value !== undefined && value !== null) out[key] = value;
  return out;
}

export function nonEmpty(value: string | null | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}
