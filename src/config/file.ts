/**
 * The optional YAML config file: `$BATON_CONFIG_PATH` if set, else `.baton.yaml` in the working directory.
 * Keys are the flag names without the leading `--` (`api-key: ...`, as Baton/viper files use); the snake_case
 * spelling (`api_key`) is accepted too. Values use YAML types (true, 3, lists) or the strings the env accepts.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { isAbsolute, resolve } from "node:path";
import { ConfigError } from "./errors.ts";

export const CONFIG_PATH_ENV = "BATON_CONFIG_PATH";
export const DEFAULT_CONFIG_FILE = ".baton.yaml";

export interface ConfigFile {
  path: string;
  values: Record<string, unknown>;
}

/** Reads the config file if there is one. A missing `.baton.yaml` is fine; a missing `$BATON_CONFIG_PATH` is not. */
export function loadConfigFile(env: Readonly<Record<string, string | undefined>>, cwd: string): ConfigFile | undefined {
  const explicit = env[CONFIG_PATH_ENV];
  const path = explicit ? (isAbsolute(explicit) ? explicit : resolve(cwd, explicit)) : resolve(cwd, DEFAULT_CONFIG_FILE);
  if (!existsSync(path)) {
    if (explicit) {
      throw new ConfigError([{ label: CONFIG_PATH_ENV, message: `config file ${path} does not exist` }]);
    }
    return undefined;
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "read error";
    throw new ConfigError([{ label: path, message: `cannot read the config file (${code})` }]);
  }
  // The YAML parser (72 modules) loads only when there is a file to parse: most runs have none.
  const { parse, YAMLError } = createRequire(import.meta.url)("yaml") as typeof import("yaml");
  let parsed: unknown;
  try {
    parsed = parse(text);
  } catch (err) {
    // The parser's own message quotes the offending line, which may hold a secret: report the position only.
    if (err instanceof YAMLError) {
      const at = err.linePos?.[0];
      const where = at ? ` at line ${at.line}, column ${at.col}` : "";
      throw new ConfigError([{ label: path, message: `invalid YAML${where} (${err.code})` }]);
    }
    throw new ConfigError([{ label: path, message: "invalid YAML" }]);
  }
  if (parsed === null || parsed === undefined) return { path, values: {} };
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError([{ label: path, message: "the config file must be a mapping of keys to values, e.g. `site: US1`" }]);
  }
  return { path, values: parsed as Record<string, unknown> };
}
