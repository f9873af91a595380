/**
 * Command-line parsing in the style of cobra/pflag (what Baton connectors use): the SDK's and the connector's
 * flags may appear anywhere; a subcommand's own flags only after its name. `--name value`, `--name=value`,
 * `-f value`, `-fvalue`; bools take no separate value (`--flag`, `--flag=false`); list flags repeat or take
 * commas; `--` ends the flags.
 */
import type { FieldKind, FieldMap } from "../config/fields.ts";
import { kebabName } from "../config/names.ts";
import { didYouMean } from "../config/suggest.ts";
import { UsageError } from "./errors.ts";

export type FlagValue = string | boolean | string[];

export interface FlagSpec {
  key: string;
  kind: FieldKind;
}

/** The flags of one scope (global or one command), by long and short name. */
export class FlagTable {
  readonly long = new Map<string, FlagSpec>();
  readonly short = new Map<string, FlagSpec>();

  static of(...maps: FieldMap[]): FlagTable {
    const table = new FlagTable();
    for (const map of maps) table.add(map);
    return table;
  }

  add(fields: FieldMap): this {
    for (const [key, decl] of Object.entries(fields)) {
      const spec = { key, kind: decl.kind };
      const name = kebabName(key);
      if (this.long.has(name)) throw new Error(`flag --${name} is declared twice`);
      this.long.set(name, spec);
      if (decl.short !== undefined) {
        if (this.short.has(decl.short)) throw new Error(`flag -${decl.short} is declared twice`);
        this.short.set(decl.short, spec);
      }
    }
    return this;
  }

  merged(other: FlagTable): FlagTable {
    const table = new FlagTable();
    for (const [name, spec] of [...this.long, ...other.long]) table.long.set(name, spec);
    for (const [name, spec] of [...this.short, ...other.short]) table.short.set(name, spec);
    return table;
  }
}

/** A usage error found while a subcommand's flags were being read names that command (for a pointer to its help). */
export interface CommandUsageError extends UsageError {
  command?: string;
}

function commandError(err: UsageError, command: string | undefined): CommandUsageError {
  return command === undefined ? err : Object.assign(err, { command });
}

export interface ParsedArgv {
  /** The subcommand (the first positional, when it names one), or undefined for the default command. */
  command: string | undefined;
  /** Positionals after the subcommand (or all of them when there is none). */
  args: string[];
  /** Flag values by config key, uncoerced (the config resolver coerces them). */
  flags: Record<string, FlagValue>;
  help: boolean;
  version: boolean;
}

/**
 * Parses argv. `commandFlags(name)` returns the flag table of a known command (undefined when `name` is not a
 * command); from the command's position on, its flags are accepted too.
 */
export function parseArgv(
  argv: readonly string[],
  globalFlags: FlagTable,
  commandFlags: (name: string) => FlagTable | undefined,
  /** Names the commands that do have a flag the current scope lacks, for a better error. */
  ownersOf: (flag: string) => string[] = () => [],
): ParsedArgv {
  let table = globalFlags;
  let command: string | undefined;
  const args: string[] = [];
  const flags: Record<string, FlagValue> = {};
  let help = false;
  let version = false;

  const set = (spec: FlagSpec, value: FlagValue) => {
    if (spec.kind === "stringList") {
      const previous = flags[spec.key];
      flags[spec.key] = [...(Array.isArray(previous) ? previous : []), ...(Array.isArray(value) ? value : [String(value)])];
    } else {
      flags[spec.key] = value;
    }
  };

  const positional = (token: string) => {
    if (command === undefined && args.length === 0) {
      const scoped = commandFlags(token);
      if (scoped !== undefined) {
        command = token;
        table = globalFlags.merged(scoped);
        return;
      }
    }
    args.push(token);
  };

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") {
      for (const rest of argv.slice(i + 1)) positional(rest);
      break;
    }
    if (token === "-" || !token.startsWith("-") || /^-\d/.test(token)) {
      positional(token);
      continue;
    }

    const isLong = token.startsWith("--");
    const body = isLong ? token.slice(2) : token.slice(1);
    const eq = body.indexOf("=");
    // For short flags, `-fvalue` carries its value without "=".
    const name = isLong ? (eq === -1 ? body : body.slice(0, eq)) : body.charAt(0);
    let inline: string | undefined = isLong ? (eq === -1 ? undefined : body.slice(eq + 1)) : body.length > 1 ? body.slice(1) : undefined;
    if (!isLong && inline?.startsWith("=")) inline = inline.slice(1);
    const display = isLong ? `--${name}` : `-${name}`;

    if ((isLong && name === "help") || (!isLong && name === "h" && inline === undefined)) {
      help = true;
      continue;
    }
    if ((isLong && name === "version") || (!isLong && name === "v" && inline === undefined)) {
      version = true;
      continue;
    }

    const spec = isLong ? table.long.get(name) : table.short.get(name);
    if (spec === undefined) {
      const candidates = [...table.long.keys()].map((n) => `--${n}`);
      const hint = command === undefined ? "" : ` for ${command}`;
      const owners = isLong ? ownersOf(name).filter((c) => c !== command) : [];
      const where = owners.length > 0 ? ` (it is a flag of: ${owners.join(", ")})` : didYouMean(display, candidates);
      // Only the flag's name is echoed: whatever follows "=" may be a secret.
      throw commandError(new UsageError(`unknown flag ${display}${hint}${where}`), command);
    }

    if (spec.kind === "bool") {
      set(spec, inline === undefined ? true : inline);
      continue;
    }
    if (inline !== undefined) {
      set(spec, inline);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || (next.startsWith("--") && next.length > 2)) {
      throw commandError(new UsageError(`flag ${display} needs a value`), command);
    }
    set(spec, next);
    i++;
  }

  return { command, args, flags, help, version };
}
