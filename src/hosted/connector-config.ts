/**
 * From the decrypted config object to the connector's typed config (HOSTED-LAMBDA.md §3.3): the keys are the
 * connector's config field names (`api-key`), validated by the same definition the CLI and config_schema.json
 * use, laid over the function's own BATON_* settings. The SDK keys the hosted runtime reads (provisioning, the
 * log level and its debug expiry) are taken out first; other keys are ignored and named (never their values).
 */
import type { ConfigDefinition } from "../config/define.ts";
import { ConfigError } from "../config/errors.ts";
import { kebabName, snakeName } from "../config/names.ts";
import { resolveConfig, type RawValue } from "../config/resolve.ts";
import { HostedConfigError } from "./config-fetch.ts";
import type { LogLevelConfig } from "./log-level.ts";
import { parseLogLevel, parseTimestamp } from "./settings.ts";

export interface HostedConnectorConfig<C> {
  config: C;
  provisioning: boolean;
  logLevel: LogLevelConfig;
  /** Keys of the config object that are neither the connector's fields nor SDK keys. */
  ignoredKeys: string[];
}

/** SDK keys the platform may send that the hosted runtime has no use for (Go reads them for other features). */
const SDK_KEYS_IGNORED = new Set(["auth-method", "sync-resource-types", "log-format", "otel-collector-endpoint"]);
const TRUE_WORDS = new Set(["true", "1", "yes", "y", "on", "t"]);
const FALSE_WORDS = new Set(["false", "0", "no", "n", "off", "f", ""]);

function asRaw(value: unknown): RawValue {
  // A non-string object (Go's StringMap fields) travels on as its JSON text.
  if (value !== null && typeof value === "object" && !Array.isArray(value)) return JSON.stringify(value);
  return value as RawValue;
}

function parseBool(value: unknown, label: string): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "string" && TRUE_WORDS.has(value.trim().toLowerCase())) return true;
  if (typeof value === "string" && FALSE_WORDS.has(value.trim().toLowerCase())) return false;
  throw new HostedConfigError(`failed to validate config: "${label}" must be true or false`);
}

export function connectorConfigFrom<C>(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any connector's field map
  def: ConfigDefinition<any>,
  values: Record<string, unknown>,
  base: { env: NodeJS.ProcessEnv; logLevel: LogLevelConfig },
): HostedConnectorConfig<C> {
  const byName = new Map<string, string>();
  for (const key of Object.keys(def.fields)) {
    byName.set(kebabName(key), key);
    byName.set(snakeName(key), key);
  }
  const overrides: Record<string, RawValue> = {};
  const ignoredKeys: string[] = [];
  let provisioning = parseBool(base.env.BATON_PROVISIONING ?? false, "BATON_PROVISIONING");
  let level = base.logLevel.level;
  let debugExpiresAt = base.logLevel.debugExpiresAt;
  for (const [name, value] of Object.entries(values)) {
    const key = byName.get(name);
    if (key !== undefined) {
      if (value !== null && value !== undefined) overrides[key] = asRaw(value);
      continue;
    }
    if (name === "provisioning") provisioning = parseBool(value, name);
    else if (name === "log-level") {
      const parsed = typeof value === "string" ? parseLogLevel(value) : undefined;
      if (parsed === undefined) throw new HostedConfigError(`failed to apply log level: the config's "log-level" must be debug, info, warn or error`);
      level = parsed;
    } else if (name === "log-level-debug-expires-at") {
      const parsed = typeof value === "string" ? (value.trim() === "" ? undefined : parseTimestamp(value)) : undefined;
      if (parsed === undefined && !(typeof value === "string" && value.trim() === "")) {
        throw new HostedConfigError(`failed to apply log level: the config's "log-level-debug-expires-at" is not an RFC 3339 timestamp`);
      }
      debugExpiresAt = parsed;
    } else if (!SDK_KEYS_IGNORED.has(name)) ignoredKeys.push(name.slice(0, 80));
  }
  let config: unknown;
  try {
    config = resolveConfig(def, { overrides, env: base.env }).values;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const text = err.issues
      .map((i) => {
        // The platform's config names fields by their config names, not by flag and env var.
        const message = i.message
          .replace(/set by the program/g, "from the platform's config")
          .replace(/--([a-z0-9-]+) \/ BATON_[A-Z0-9_]+/g, '"$1"');
        return i.key ? `"${kebabName(i.key)}" ${message}` : message;
      })
      .join("; ");
    throw new HostedConfigError(`failed to validate config: ${text}`, { cause: err });
  }
  return { config: config as C, provisioning, logLevel: { level, debugExpiresAt }, ignoredKeys };
}
