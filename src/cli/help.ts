/** `--help` text, generated from the same declarations the parser uses. */
import type { FieldDecl, FieldMap } from "../config/fields.ts";
import { envName, kebabName } from "../config/names.ts";
import type { CommandSpec } from "./spec.ts";

function valueHint(decl: FieldDecl): string {
  switch (decl.kind) {
    case "bool":
      return "";
    case "int":
      return " int";
    case "stringList":
      return " strings";
    case "string":
      return decl.options ? ` ${decl.options.join("|")}` : " string";
  }
}

function defaultHint(decl: FieldDecl): string {
  const d = decl.defaultValue;
  if (d === undefined || d === false || d === "" || (Array.isArray(d) && d.length === 0)) return "";
  return ` (default ${Array.isArray(d) ? d.join(",") : String(d)})`;
}

/** One line per visible flag: `  -f, --file string   The path ... (default sync.c1z) [$BATON_FILE]`. */
export function flagLines(fields: FieldMap, options: { env: boolean }): string[] {
  const rows: [string, string][] = [];
  for (const [key, decl] of Object.entries(fields)) {
    if (decl.hidden) continue;
    const short = decl.short ? `-${decl.short}, ` : "    ";
    const left = `  ${short}--${kebabName(key)}${valueHint(decl)}`;
    const marks = [decl.required ? "required" : "", decl.secret ? "secret" : ""].filter(Boolean);
    const right =
      decl.description +
      (marks.length ? ` (${marks.join(", ")})` : "") +
      defaultHint(decl) +
      (options.env ? ` [$${envName(key)}]` : "");
    rows.push([left, right]);
  }
  const width = Math.min(48, Math.max(0, ...rows.map(([l]) => l.length)));
  return rows.map(([l, r]) => (l.length > width ? `${l}\n${" ".repeat(width + 3)}${r}` : `${l.padEnd(width)}   ${r}`));
}

export interface HelpInput {
  name: string;
  description: string;
  connectorFields: FieldMap;
  sdkFields: FieldMap;
  commands: readonly CommandSpec<any, any>[];
}

export function mainHelp(h: HelpInput): string {
  const commands = h.commands.filter((c) => !c.hidden);
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `${h.name}: ${h.description}`,
    "",
    "Usage:",
    `  ${h.name} [flags]               sync to --file; with a provisioning flag, run that operation;`,
    `  ${" ".repeat(h.name.length)}                       with --client-id and --client-secret, run as a service`,
    `  ${h.name} <command> [flags]`,
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}   ${c.description}`),
    "",
    "Connector flags:",
    ...flagLines(h.connectorFields, { env: true }),
    "",
    "SDK flags:",
    ...flagLines(h.sdkFields, { env: true }),
    "  -h, --help      Show help",
    "  -v, --version   Print the version",
    "",
    "Every flag can also be set with its BATON_* environment variable or in a YAML file (.baton.yaml in the",
    "working directory, or the file named by BATON_CONFIG_PATH) under its flag name, e.g. `log-level: debug`.",
    "Precedence: flags > environment > YAML file > defaults.",
    `Run '${h.name} <command> --help' for a command's own flags.`,
    "",
  ].join("\n");
}

export function commandHelp(name: string, command: CommandSpec<any, any>): string {
  const own = flagLines(command.flags ?? {}, { env: false });
  return [
    `${name} ${command.name}: ${command.description}`,
    "",
    "Usage:",
    `  ${name} ${command.name}${command.args ? ` ${command.args}` : ""} [flags]`,
    "",
    ...(own.length ? ["Flags:", ...own, ""] : []),
    `The SDK and connector flags (see '${name} --help') apply too.`,
    "",
  ].join("\n");
}
