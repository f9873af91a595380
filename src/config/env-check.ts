/**
 * BATON_* variables that no setting reads. A misspelt one (BATON_SYNC_SCHEDULE for BATON_SYNC_SCHEDULES) would
 * otherwise be ignored without a word; it is named once, with the closest known name. Nothing is rejected:
 * other tools (Go Baton connectors sharing an environment, the platform's runtimes) set BATON_* names too.
 */
import { CONFIG_PATH_ENV } from "./file.ts";
import type { FieldMap } from "./fields.ts";
import { envName } from "./names.ts";
import { closest } from "./suggest.ts";

const PREFIX = "BATON_";

/**
 * Read straight from the environment by the SDK, outside the declared fields (service mode; the sync's heap
 * growth, src/sync/heap-growth.ts, which the launcher reads before any configuration exists).
 */
const READ_DIRECTLY = [CONFIG_PATH_ENV, "BATON_C1_API_HOST", "BATON_HOST_ID", "BATON_HEAP_GROWING_PERCENT"];

/**
 * Names Go baton-sdk v0.25 reads that this SDK does not (so a shared environment or a Go connector's manifest
 * does not warn): its OpenTelemetry and Lambda settings by prefix, and the settings named in PROTOCOL.md,
 * PROTOCOL-2.md and HOSTED-LAMBDA.md that have no field here. Names of declared fields never need to be here.
 */
const GO_SDK_PREFIXES = ["BATON_OTEL_", "BATON_LAMBDA_", "BATON_EVENT_FEED", "BATON_INVOKE_ACTION", "BATON_INVOKE_RESOURCE_ACTION", "BATON_LIST_ACTION_SCHEMAS"];
const GO_SDK_NAMES = [
  "BATON_LOG_LEVEL_DEBUG_EXPIRES_AT",
  "BATON_SESSION_STORE_MAXIMUM_SIZE",
  "BATON_KEEP_SYNC_COUNT",
  "BATON_SKIP_CLEANUP",
  "BATON_STORAGE_ENGINE",
  "BATON_TICKETING",
  "BATON_LIST_RESOURCE_ACTIONS",
];

export interface UnknownVariable {
  name: string;
  /** The closest name a setting reads, when one is close. */
  suggestion?: string;
}

/** The BATON_* names in `env` that neither a field of `fields` nor anything else here reads. Values are never looked at. */
export function unknownBatonVariables(env: Readonly<Record<string, string | undefined>>, fields: FieldMap): UnknownVariable[] {
  const ours = [...Object.keys(fields).map(envName), ...READ_DIRECTLY];
  const known = new Set([...ours, ...GO_SDK_NAMES]);
  const unknown: UnknownVariable[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(PREFIX) || env[name] === undefined || known.has(name)) continue;
    if (GO_SDK_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    // Compared without the shared prefix, which would make any two names look alike.
    const match = closest(name.slice(PREFIX.length), ours.map((n) => n.slice(PREFIX.length)));
    unknown.push(match === undefined ? { name } : { name, suggestion: PREFIX + match });
  }
  return unknown;
}

/** One line for all of them, e.g. `BATON_SYNC_SCHEDULE is not a setting (did you mean BATON_SYNC_SCHEDULES?); ignored`. */
export function unknownVariablesWarning(unknown: readonly UnknownVariable[]): string | undefined {
  if (unknown.length === 0) return undefined;
  // A hostile or messy environment may hold thousands; name a few.
  const shown = unknown.slice(0, 10).map((u) => (u.suggestion ? `${u.name} (did you mean ${u.suggestion}?)` : u.name));
  const more = unknown.length > shown.length ? ` and ${unknown.length - shown.length} more` : "";
  const verb = unknown.length === 1 ? "is not a setting of this connector" : "are not settings of this connector";
  return `${shown.join(", ")}${more} ${verb}; ignored`;
}
