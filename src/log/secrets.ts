/**
 * The process-wide registry of secret values. Config secrets are registered when the config is resolved;
 * values obtained later (access tokens, rotated keys, proofs) are registered by the module that obtains them.
 * Every log line and every error message the CLI prints goes through `redactText`, so a registered value
 * cannot reach stderr even when it is buried in a nested object or an exception message.
 *
 * Matching is by whole value. A value of at least MIN_SUBSTRING_SECRET_LENGTH characters is replaced wherever
 * it appears, also inside a longer token (a URL, a header, a JSON string): such a value does not occur in
 * unrelated text by chance. A shorter value (a placeholder key like "x", a test password) is replaced only
 * where it stands as a token of its own, so that "x" does not turn "syncId" into "s[REDACTED]ncId".
 */

export const REDACTED = "[REDACTED]";

/** Values this long or longer are scrubbed in any position. Every real credential is far longer (Datadog: 32+). */
export const MIN_SUBSTRING_SECRET_LENGTH = 8;

/** Characters that make a short value part of a longer word rather than a token of its own. */
const WORD_CHAR = "A-Za-z0-9_\\-";

const secrets = new Set<string>();
let pattern: RegExp | undefined;

/** The forms a secret can take in output: raw, JSON-escaped (inside a JSON log line), URL-encoded. */
function variants(value: string): string[] {
  const forms = new Set<string>([value]);
  forms.add(JSON.stringify(value).slice(1, -1));
  try {
    forms.add(encodeURIComponent(value));
  } catch {
    // lone surrogates cannot be URI-encoded; the raw form is still covered
  }
  return [...forms];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * One global pattern for `values` (in every printable form): long values anywhere, short values only between
 * non-word characters (or the text's ends). Undefined when there is nothing to match.
 */
export function secretPattern(values: Iterable<string>): RegExp | undefined {
  const long = new Set<string>();
  const short = new Set<string>();
  for (const value of values) {
    if (value.length === 0) continue;
    for (const form of variants(value)) (value.length >= MIN_SUBSTRING_SECRET_LENGTH ? long : short).add(form);
  }
  // Longest first so that a secret containing another secret is replaced whole.
  const byLength = (a: string, b: string) => b.length - a.length;
  const alternatives = [...long].sort(byLength).map(escapeRegExp);
  if (short.size > 0) {
    const words = [...short].sort(byLength).map(escapeRegExp).join("|");
    alternatives.push(`(?<![${WORD_CHAR}])(?:${words})(?![${WORD_CHAR}])`);
  }
  return alternatives.length === 0 ? undefined : new RegExp(alternatives.join("|"), "g");
}

function rebuild(): void {
  pattern = secretPattern(secrets);
}

/**
 * Adds a value that must never be printed. Empty values are ignored (an empty string is not a secret and
 * would match everywhere). Whitespace around the value is also registered trimmed, since config values are
 * often pasted with a trailing newline.
 */
export function registerSecret(value: string | undefined | null): void {
  if (typeof value !== "string" || value.length === 0) return;
  const before = secrets.size;
  secrets.add(value);
  const trimmed = value.trim();
  if (trimmed.length > 0) secrets.add(trimmed);
  if (secrets.size !== before) rebuild();
}

/** Replaces every registered secret (in any of its printable forms) with "[REDACTED]". */
export function redactText(text: string): string {
  if (pattern === undefined || text.length === 0) return text;
  return text.replace(pattern, REDACTED);
}

/** Replaces `values` (not the registry's) in `text` by the same whole-value rule as `redactText`. */
export function redactValues(text: string, values: Iterable<string>): string {
  const own = secretPattern(values);
  return own === undefined || text.length === 0 ? text : text.replace(own, REDACTED);
}

/** True when `text` contains a registered secret. Useful in tests and as a last-line assertion. */
export function containsSecret(text: string): boolean {
  if (pattern === undefined) return false;
  pattern.lastIndex = 0;
  const found = pattern.test(text);
  pattern.lastIndex = 0;
  return found;
}

export function registeredSecretCount(): number {
  return secrets.size;
}

/** Forgets every registered secret. Only tests need this: a real process keeps its secrets until it exits. */
export function clearSecretsForTests(): void {
  secrets.clear();
  pattern = undefined;
}
