/**
 * The process-wide registry of secret values. Config secrets are registered when the config is resolved;
 * values obtained later (access tokens, rotated keys, proofs) are registered by the module that obtains them.
 * Every log line and every error message the CLI prints goes through `redactText`, so a registered value
 * cannot reach stderr even when it is buried in a nested object or an exception message.
 */

export const REDACTED = "[REDACTED]";

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

function rebuild(): void {
  const forms = new Set<string>();
  for (const s of secrets) for (const form of variants(s)) forms.add(form);
  // Longest first so that a secret containing another secret is replaced whole.
  const sorted = [...forms].sort((a, b) => b.length - a.length);
  pattern = sorted.length === 0 ? undefined : new RegExp(sorted.map(escapeRegExp).join("|"), "g");
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
