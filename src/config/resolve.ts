/**
 * Resolves a config definition against its sources with precedence
 * overrides > flags > env (BATON_*) > YAML file > default, then validates each field and the constraints.
 * Every secret value found in any source is registered with the log redactor before anything is validated,
 * so no message produced here or later can print it.
 */
import { registerSecret } from "../log/secrets.ts";
import type { ConfigDefinition, ConstraintDecl } from "./define.ts";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import type { ConfigFile } from "./file.ts";
import type { FieldDecl, FieldMap, ValuesOf } from "./fields.ts";
import { envName, fieldLabel as envAndFlagLabel, flagName, kebabName, snakeName } from "./names.ts";
import { didYouMean } from "./suggest.ts";

/** A value as a source delivers it before coercion to the field's kind. */
export type RawValue = string | boolean | number | readonly unknown[] | null | undefined;

export interface ConfigSources {
  /** Parsed command-line flags by config key. */
  flags?: Readonly<Record<string, RawValue>>;
  /** The process environment (only BATON_* names of declared fields are read). */
  env?: Readonly<Record<string, string | undefined>>;
  /** The parsed YAML file, if any. */
  file?: ConfigFile;
  /** Values set by code (e.g. `demo` pointing the connector at its simulator); highest precedence. */
  overrides?: Readonly<Record<string, RawValue>>;
}

export interface ResolveOptions {
  /** Only these keys are resolved and validated; the others are left undefined (still known to the file check). */
  only?: (key: string, decl: FieldDecl) => boolean;
  /** Skip required-ness and constraints (for commands that do not talk to the service, e.g. `capabilities`). */
  lenient?: boolean;
  /** Command-line only (a subcommand's own flags): no env vars, no file, messages name the flag alone. */
  cliOnly?: boolean;
}

export type Origin = "override" | "flag" | "env" | "file" | "default";

export interface ResolvedConfig<F extends FieldMap> {
  values: ValuesOf<F>;
  /** Where each resolved key's value came from. */
  origins: Record<string, Origin>;
  /** The secret values in the resolved config (already registered for redaction). */
  secrets: string[];
}

const TRUE_WORDS = new Set(["true", "1", "yes", "y", "on", "t"]);
const FALSE_WORDS = new Set(["false", "0", "no", "n", "off", "f"]);

type Coerced = { ok: true; value: unknown } | { ok: false; message: string };

/** Turns a raw source value into the field's kind. Messages never include the value (the caller adds it when safe). */
function coerce(decl: FieldDecl, raw: Exclude<RawValue, null | undefined>): Coerced {
  switch (decl.kind) {
    case "string":
      if (typeof raw === "string") return { ok: true, value: raw };
      if (typeof raw === "number" || typeof raw === "boolean") return { ok: true, value: String(raw) };
      return { ok: false, message: "expected a string" };
    case "bool":
      if (typeof raw === "boolean") return { ok: true, value: raw };
      if (typeof raw === "string") {
        const word = raw.trim().toLowerCase();
        if (TRUE_WORDS.has(word)) return { ok: true, value: true };
        if (FALSE_WORDS.has(word)) return { ok: true, value: false };
      }
      return { ok: false, message: "expected true or false" };
    case "int": {
      if (typeof raw === "number" && Number.isSafeInteger(raw)) return { ok: true, value: raw };
      if (typeof raw === "string" && /^\s*[+-]?\d+\s*$/.test(raw)) {
        const n = Number(raw);
        if (Number.isSafeInteger(n)) return { ok: true, value: n };
      }
      return { ok: false, message: "expected an integer" };
    }
    case "stringList": {
      const parts: unknown[] = typeof raw === "string" ? raw.split(",") : Array.isArray(raw) ? raw : [raw];
      const out: string[] = [];
      for (const part of parts) {
        if (typeof part === "string") {
          // Each element may itself be a comma-separated list (repeated flags, env, YAML strings).
          for (const piece of part.split(",")) if (piece.trim() !== "") out.push(piece.trim());
        } else if (typeof part === "number" || typeof part === "boolean") out.push(String(part));
        else return { ok: false, message: "expected a list of strings" };
      }
      return { ok: true, value: out };
    }
  }
}

function describeOrigin(origin: Origin, key: string, file?: ConfigFile): string {
  switch (origin) {
    case "flag":
      return `from ${flagName(key)}`;
    case "env":
      return `from ${envName(key)}`;
    case "file":
      return `from ${file?.path ?? "the config file"}`;
    case "override":
      return "set by the program";
    case "default":
      return "as the default";
  }
}

/** Maps the YAML file's keys (kebab or snake) to config keys, reporting unknown and duplicate keys. */
function fileValuesByKey(def: { fields: FieldMap }, file: ConfigFile | undefined, issues: ConfigIssue[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (file === undefined) return out;
  const names = new Map<string, string>();
  for (const key of Object.keys(def.fields)) {
    names.set(kebabName(key), key);
    names.set(snakeName(key), key);
  }
  for (const [name, value] of Object.entries(file.values)) {
    const key = names.get(name);
    if (key === undefined) {
      const known = Object.keys(def.fields).map(kebabName);
      issues.push({ label: file.path, message: `unknown key "${name}"${didYouMean(name, known)}` });
      continue;
    }
    if (out.has(key)) {
      issues.push({ key, label: file.path, message: `"${kebabName(key)}" is set twice (kebab and snake spelling)` });
      continue;
    }
    out.set(key, value);
  }
  return out;
}

/** "got "x" " for messages about non-secret values; nothing for values too long to be useful. */
function echoValue(raw: unknown): string {
  const text = typeof raw === "string" ? JSON.stringify(raw) : typeof raw === "number" || typeof raw === "boolean" ? String(raw) : "";
  return text === "" || text.length > 200 ? "" : `got ${text} `;
}

function isSet(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  return true;
}

function checkConstraint(c: ConstraintDecl, setKeys: Set<string>, fieldLabel: (key: string) => string): string | undefined {
  const label = (keys: readonly string[]) => keys.map(fieldLabel).join(", ");
  const present = c.fields.filter((k) => setKeys.has(k));
  switch (c.kind) {
    case "requiredTogether": {
      if (present.length === 0 || present.length === c.fields.length) return undefined;
      const missing = c.fields.filter((k) => !setKeys.has(k));
      return `${label(present)} also need${present.length === 1 ? "s" : ""} ${label(missing)}`;
    }
    case "atLeastOne":
      return present.length > 0 ? undefined : `set at least one of ${label(c.fields)}`;
    case "mutuallyExclusive":
      return present.length <= 1 ? undefined : `${label(present)} cannot be used together`;
    case "dependentOn": {
      if (present.length === 0) return undefined;
      const missing = c.dependsOn.filter((k) => !setKeys.has(k));
      return missing.length === 0 ? undefined : `${label(present)} also need${present.length === 1 ? "s" : ""} ${label(missing)}`;
    }
  }
}

export function resolveConfig<F extends FieldMap>(
  def: ConfigDefinition<F>,
  sources: ConfigSources,
  options: ResolveOptions = {},
): ResolvedConfig<F> {
  const issues: ConfigIssue[] = [];
  const env = options.cliOnly ? {} : (sources.env ?? {});
  const fileValues = fileValuesByKey(def, options.cliOnly ? undefined : sources.file, issues);
  const fieldLabel = options.cliOnly ? flagName : envAndFlagLabel;
  const values: Record<string, unknown> = {};
  const origins: Record<string, Origin> = {};
  const secrets: string[] = [];

  const candidates = (key: string): [Origin, RawValue][] => [
    ["override", sources.overrides?.[key]],
    ["flag", sources.flags?.[key]],
    // An empty variable counts as unset, as in viper: `BATON_SITE=` does not clear a YAML value.
    ["env", env[envName(key)] === "" ? undefined : env[envName(key)]],
    ["file", fileValues.get(key) as RawValue],
  ];

  // Register every secret from every source first: nothing below may print one.
  for (const [key, decl] of Object.entries(def.fields)) {
    if (!decl.secret) continue;
    for (const [, raw] of candidates(key)) {
      if (typeof raw === "string") registerSecret(raw);
      else if (Array.isArray(raw)) for (const item of raw) if (typeof item === "string") registerSecret(item);
    }
  }

  for (const [key, decl] of Object.entries(def.fields)) {
    if (options.only && !options.only(key, decl)) continue;
    const found = candidates(key).find(([, raw]) => raw !== undefined && raw !== null);
    let value: unknown;
    let origin: Origin = "default";
    if (found) {
      origin = found[0];
      const coerced = coerce(decl, found[1] as Exclude<RawValue, null | undefined>);
      if (!coerced.ok) {
        const echo = decl.secret ? "" : echoValue(found[1]);
        issues.push({ key, label: fieldLabel(key), message: `${coerced.message} (${echo}${describeOrigin(origin, key, sources.file)})` });
        continue;
      }
      value = coerced.value;
    } else {
      value = Array.isArray(decl.defaultValue) ? [...decl.defaultValue] : decl.defaultValue;
    }
    values[key] = value;
    origins[key] = origin;

    const unset = value === undefined || value === "" || (Array.isArray(value) && value.length === 0);
    if (decl.required && unset) {
      if (!options.lenient) issues.push({ key, label: fieldLabel(key), message: "is required" });
      continue;
    }
    if (value === undefined) continue;
    if (options.lenient && unset) continue;
    const result = decl.schema.safeParse(value);
    if (!result.success) {
      const reason = result.error.issues[0]?.message ?? "is invalid";
      // For a secret the reason is kept only when it cannot contain the value (the redactor also runs).
      const shown = decl.secret ? reason.replace(String(value), "[REDACTED]") : reason;
      const echo = decl.secret ? "" : echoValue(found?.[1] ?? value);
      issues.push({ key, label: fieldLabel(key), message: `${shown} (${echo}${describeOrigin(origin, key, sources.file)})` });
      continue;
    }
    values[key] = result.data;
    if (decl.secret) {
      if (typeof result.data === "string" && result.data !== "") secrets.push(result.data);
      if (Array.isArray(result.data)) secrets.push(...result.data.filter((s): s is string => typeof s === "string" && s !== ""));
    }
  }

  if (!options.lenient && issues.length === 0) {
    const setKeys = new Set(Object.keys(values).filter((k) => origins[k] !== "default" && isSet(values[k])));
    for (const c of def.constraints) {
      if (options.only && !c.fields.every((k) => options.only!(k, def.fields[k]!))) continue;
      const problem = checkConstraint(c, setKeys, fieldLabel);
      if (problem !== undefined) issues.push({ label: "", message: c.helpText ? `${problem} (${c.helpText})` : problem });
    }
  }

  if (issues.length > 0) throw new ConfigError(issues);
  return { values: values as ValuesOf<F>, origins, secrets };
}
