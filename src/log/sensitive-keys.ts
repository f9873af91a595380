/**
 * Key-based redaction: values stored under these key names are replaced whatever they contain, at any depth.
 * This catches secrets that were never registered (a header the connector did not know about); the value
 * registry in secrets.ts catches registered secrets wherever they appear.
 */
import { REDACTED, redactText } from "./secrets.ts";

/** Key names compared case-insensitively with "-" and "_" removed, so `dd-api-key`, `DD_API_KEY`, `ddApiKey` match. */
export const SENSITIVE_KEYS: readonly string[] = [
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "apiKey",
  "appKey",
  "applicationKey",
  "dd-api-key",
  "dd-application-key",
  "clientSecret",
  "clientAssertion",
  "client_assertion",
  "token",
  "accessToken",
  "refreshToken",
  "idToken",
  "bearerToken",
  "password",
  "passwd",
  "secret",
  "secretKey",
  "secretAccessKey",
  "sessionToken",
  "privateKey",
  "proof",
  "plaintext",
];

export function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, "");
}

const sensitive = new Set(SENSITIVE_KEYS.map(normalizeKey));

export function isSensitiveKey(key: string): boolean {
  return sensitive.has(normalizeKey(key));
}

/**
 * pino `redact` paths for the known key names at the top level and one level down (e.g. `headers.authorization`).
 * Deeper nesting is handled by `redactObject`, which the logger applies to every log object.
 */
export function pinoRedactPaths(): string[] {
  const paths: string[] = [];
  for (const key of SENSITIVE_KEYS) {
    if (/^[A-Za-z_$][\w$]*$/.test(key)) paths.push(key, `*.${key}`);
    else paths.push(`["${key}"]`, `*["${key}"]`);
  }
  return paths;
}

const MAX_DEPTH = 10;

/**
 * Returns `value` with sensitive keys censored and registered secrets removed from strings, at any depth.
 * Copies only what changes; leaves the input untouched. Errors become plain objects (message, stack, code)
 * so that their text is scrubbed too.
 */
export function redactObject<T>(value: T, options: { keepErrors?: boolean } = {}): T {
  return walk(value, 0, new WeakSet(), options.keepErrors === true) as T;
}

function walk(value: unknown, depth: number, seen: WeakSet<object>, keepErrors: boolean): unknown {
  if (typeof value === "string") return redactText(value);
  if (value === null || typeof value !== "object") return value;
  if (depth > MAX_DEPTH || seen.has(value)) return value;
  seen.add(value);
  if (value instanceof Error) {
    // The logger serializes errors itself (and scrubs the result); elsewhere they become plain objects.
    if (keepErrors) return value;
    const out: Record<string, unknown> = { type: value.name, message: redactText(value.message) };
    if (value.stack) out.stack = redactText(value.stack);
    for (const [k, v] of Object.entries(value)) out[k] = isSensitiveKey(k) ? REDACTED : walk(v, depth + 1, seen, keepErrors);
    if (value.cause !== undefined) out.cause = walk(value.cause, depth + 1, seen, keepErrors);
    return out;
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const next = walk(value[i], depth + 1, seen, keepErrors);
      if (next !== value[i]) {
        copy ??= value.slice();
        copy[i] = next;
      }
    }
    return copy ?? value;
  }
  // Only plain objects are rebuilt; class instances (Buffers, Dates, protobuf messages) are left as they are
  // and their serialized text is still scrubbed by value at the output stage.
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value)) {
    const next = isSensitiveKey(k) && v !== undefined && v !== null && v !== "" ? REDACTED : walk(v, depth + 1, seen, keepErrors);
    if (next !== v) {
      copy ??= { ...(value as Record<string, unknown>) };
      copy[k] = next;
    }
  }
  return copy ?? value;
}
