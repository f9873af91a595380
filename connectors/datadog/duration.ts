/**
 * Durations in settings: Go-style (`30s`, `2m`, `1m30s`, `500ms`) as Baton's Go connectors accept them, or a
 * plain number of seconds (`45`), which is what people type into an env var.
 */

export const DEFAULT_HTTP_TIMEOUT = "60s";
export const MIN_DURATION_MS = 100;
export const MAX_DURATION_MS = 60 * 60 * 1000;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PLAIN_SECONDS = /^\d+(\.\d+)?$/;
const GO_DURATION = /^(\d+(\.\d+)?(ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const t = text.trim();
  if (PLAIN_SECONDS.test(t)) return Math.round(Number.parseFloat(t) * 1000);
  if (!GO_DURATION.test(t)) return undefined;
  let ms = 0;
  for (const m of t.matchAll(PART)) ms += Number.parseFloat(m[1]!) * UNIT_MS[m[2]!]!;
  return Math.round(ms);
}

/** A sentence saying what is wrong with `text` as a timeout, or undefined when it is fine. */
export function durationProblem(text: string): string | undefined {
  const ms = parseDurationMs(text);
  if (ms === undefined) return "must be a duration such as 30s, 2m or 1m30s, or a number of seconds";
  if (ms < MIN_DURATION_MS || ms > MAX_DURATION_MS) return `must be between ${MIN_DURATION_MS}ms and 1h`;
  return undefined;
}
