/** How one camelCase config key is spelled in each place it appears (Baton's conventions, PROTOCOL.md §4). */

/** `apiKey` → `api-key`; `baseURL` → `base-url`. */
export function kebabName(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1-$2")
    .toLowerCase();
}

/** `apiKey` → `api_key` (accepted as a YAML key alias). */
export function snakeName(key: string): string {
  return kebabName(key).replace(/-/g, "_");
}

/** `apiKey` → `--api-key`. */
export function flagName(key: string): string {
  return `--${kebabName(key)}`;
}

/** `apiKey` → `BATON_API_KEY`. */
export function envName(key: string): string {
  return `BATON_${snakeName(key).toUpperCase()}`;
}

/** `apiKey` → `Api Key`: the display name when a field does not give one. */
export function titleName(key: string): string {
  return kebabName(key)
    .split("-")
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join(" ");
}

/** "--api-key / BATON_API_KEY": how every message names a field, so the user can fix it either way. */
export function fieldLabel(key: string): string {
  return `${flagName(key)} / ${envName(key)}`;
}
