/**
 * Deterministic JSON for committed, generated files: the outer levels one key per line (so a diff names the
 * operation, schema or message that changed), everything deeper on that key's line (so the file stays compact).
 */

/** Whether the value at `path` (keys and array indexes from the root) is written on one line. */
export type InlineRule = (path: readonly (string | number)[]) => boolean;

export function jsonLines(value: unknown, inline: InlineRule): string {
  return `${write(value, [], inline)}\n`;
}

function write(value: unknown, path: (string | number)[], inline: InlineRule): string {
  if (value === null || typeof value !== "object" || inline(path)) return JSON.stringify(value);
  const pad = "  ".repeat(path.length + 1);
  const close = "  ".repeat(path.length);
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const items = value.map((item, i) => pad + write(item, [...path, i], inline));
    return `[\n${items.join(",\n")}\n${close}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return "{}";
  const items = entries.map(([key, item]) => `${pad}${JSON.stringify(key)}: ${write(item, [...path, key], inline)}`);
  return `{\n${items.join(",\n")}\n${close}}`;
}
