/**
 * The runner every connector's binary calls: parses argv into a command and config, sets up logging, and
 * dispatches through one table of commands. The default command (no subcommand) is a one-shot sync to
 * --file, or a provisioning operation when one of Baton's one-shot flags is set, or service mode when
 * --client-id and --client-secret are set. Exit codes: 0 done, 1 failed, 2 bad usage or config; every failure
 * prints one redacted line on stderr.
 */
import { resolve } from "node:path";
import type { Logger } from "pino";
import { ConnectorError } from "../connector/errors.ts";
import { defineConfig, mergeConfigs, type ConfigDefinition, type ConfigOf } from "../config/define.ts";
import { ConfigError } from "../config/errors.ts";
import { assertParentDirectory } from "../config/paths.ts";
import { unknownBatonVariables, unknownVariablesWarning } from "../config/env-check.ts";
import { resolveConfig, type ConfigSources } from "../config/resolve.ts";
import { sdkConfig, type SdkConfig } from "../config/sdk-fields.ts";
import { didYouMean } from "../config/suggest.ts";
import type { LogFormat } from "../log/logger.ts";
import { redactText } from "../log/secrets.ts";
import { FlagTable, parseArgv, type CommandUsageError, type ParsedArgv } from "./argv.ts";
import { ExitCode, UsageError } from "./errors.ts";
import { commandHelp, mainHelp } from "./help.ts";
import { inspectionCommands } from "./inspect.ts";
import { formatSummary, ProgressReporter, TerminalStatus, type SyncSummary } from "./progress.ts";
import { provisioningOperation } from "./provisioning.ts";
import { oneShotSyncScope } from "../sync/scope.ts";
import { runSyncFileOperation, syncFileOperation } from "./sync-files.ts";
import type { BaseContext, CliIo, CommandContext, CommandSpec, ConnectorCliSpec, RunContext } from "./spec.ts";

export interface RunOptions {
  /** Install SIGINT/SIGTERM handlers that abort `ctx.signal` (default true). */
  handleSignals?: boolean;
}

/**
 * SQLite's own words for a full disk ("database or disk is full") name neither the file nor the way out; a sync
 * whose working database cannot grow keeps what it committed, so the same command resumes once there is room.
 */
function storageHint(err: unknown): string {
  const e = err as { code?: unknown; errcode?: unknown } | null;
  if (e?.code !== "ERR_SQLITE_ERROR") return "";
  const primary = Number(e.errcode) & 0xff;
  // SQLITE_FULL (13), SQLITE_IOERR (10): what ENOSPC, EFBIG or a quota look like from inside SQLite.
  if (primary !== 13 && primary !== 10) return "";
  return " (the disk is full or a file-size limit was reached: free space or raise the limit, then run the same command again; a sync resumes where it stopped)";
}

/** The one line printed for a failure, and its exit code. */
export function describeFailure(err: unknown): { code: ExitCode; message: string } {
  const code = err instanceof UsageError || err instanceof ConfigError ? ExitCode.USAGE : ExitCode.FAILED;
  let message: string;
  if (err instanceof ConnectorError) message = err.toString();
  else if (err instanceof Error) message = err.message || err.name;
  else message = String(err);
  message += storageHint(err);
  message = redactText(message).replace(/\s*[\r\n]+\s*/g, " ").trim() || "failed";
  // A URL's user:password is a credential even in a field that is not secret (e.g. a --base-url echoed back).
  message = message.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"']+@/gi, "$1[REDACTED]@");
  return { code, message };
}

function builtinCommands(spec: AnySpec): CommandSpec<unknown, any>[] {
  return [
    {
      name: "capabilities",
      description: "Print the connector's capabilities (protojson of Any(ConnectorCapabilities))",
      run: async (ctx) => {
        const { capabilitiesJson, prettyJson } = await import("./json.ts");
        ctx.io.stdout.write(prettyJson(capabilitiesJson(await spec.run.capabilities(ctx))));
      },
    },
    {
      name: "config",
      description: "Print the connector's config schema (protojson of c1.config.v1.Configuration)",
      run: async (ctx) => {
        const [{ prettyJson }, { configurationJson }] = await Promise.all([import("./json.ts"), import("../config/proto.ts")]);
        ctx.io.stdout.write(prettyJson(configurationJson(spec.config, spec.configMeta)));
      },
    },
    ...inspectionCommands,
    { name: "help", description: "Show help for the connector or a command", args: "[command]", run: () => undefined },
  ];
}

function watchSignals(controller: AbortController, logger: () => Logger | undefined): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    logger()?.warn({ signal }, `${signal} received: stopping (send it again to stop at once)`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
}

/** Internals work on any connector's spec; the public entry point keeps the connector's own types. */
type AnySpec = ConnectorCliSpec<ConfigDefinition<any>>;
type AnyConfig = ConfigOf<ConfigDefinition<any>>;

interface CommandTable {
  all: ConfigDefinition<any>;
  commands: Map<string, CommandSpec<any, any>>;
  globalFlags: FlagTable;
  commandFlags: Map<string, FlagTable>;
}

/** Built-in and connector commands with their flag tables; clashes are programming errors, thrown at start. */
function commandTable(spec: AnySpec): CommandTable {
  const all = mergeConfigs(sdkConfig, spec.config);
  const commands = new Map<string, CommandSpec<any, any>>();
  for (const command of [...builtinCommands(spec), ...(spec.commands ?? [])]) {
    if (commands.has(command.name)) throw new Error(`command ${command.name} is declared twice`);
    commands.set(command.name, command);
  }
  const globalFlags = FlagTable.of(all.fields);
  if (globalFlags.short.has("h") || globalFlags.short.has("v")) throw new Error("-h and -v are reserved for --help and --version");
  const commandFlags = new Map([...commands].map(([name, c]) => [name, FlagTable.of(c.flags ?? {})]));
  for (const [name, table] of commandFlags) {
    for (const flag of table.long.keys()) if (globalFlags.long.has(flag)) throw new Error(`command ${name}: flag --${flag} is already a global flag`);
    for (const flag of table.short.keys()) if (globalFlags.short.has(flag)) throw new Error(`command ${name}: flag -${flag} is already a global flag`);
  }
  return { all, commands, globalFlags, commandFlags };
}

/** Help or version output, when asked for; undefined otherwise. */
function helpOrVersion(spec: AnySpec, table: CommandTable, parsed: ParsedArgv): string | undefined {
  if (parsed.version) return `${spec.name} ${spec.version}\n`;
  const target = parsed.command === "help" ? (parsed.args[0] ?? "") : parsed.help ? (parsed.command ?? "") : undefined;
  if (target === undefined) return undefined;
  if (target === "") {
    const commands = [...table.commands.values()];
    return mainHelp({ name: spec.name, description: spec.description, connectorFields: spec.config.fields, sdkFields: sdkConfig.fields, commands });
  }
  const command = table.commands.get(target);
  if (!command) throw new UsageError(`unknown command "${target}"${didYouMean(target, table.commands.keys())}`);
  return commandHelp(spec.name, command);
}

/** Everything a command needs once argv and the SDK settings are resolved. */
interface Session<C> {
  base: BaseContext;
  status: TerminalStatus;
  logFormat: LogFormat;
  loadConfig(overrides?: Partial<C>): C;
}

async function runSyncFlow(spec: AnySpec, session: Session<AnyConfig>, config: AnyConfig): Promise<SyncSummary> {
  const { base, status } = session;
  assertParentDirectory("file", base.sdk.file);
  // Checked before anything is built or contacted: a bad resource id is a usage problem.
  const syncScope = oneShotSyncScope(base.sdk);
  if (base.sdk.skipFullSync) base.logger.warn("--skip-full-sync only applies in service mode; this one-shot sync runs as usual");
  const progress = new ProgressReporter({ status });
  progress.start();
  let result;
  try {
    result = await spec.run.sync({ ...base, config, progress, syncScope });
  } finally {
    progress.stop();
  }
  const summary = progress.summary({ file: base.sdk.file, ...(result ?? {}) });
  base.io.stdout.write(formatSummary(summary) + runLine(result));
  // Machines reading JSON logs get the summary as a log line; people on a console already see it on stdout.
  const fields = { syncId: summary.syncId, counts: summary.counts, requests: summary.requests, durationMs: Math.round(summary.durationMs) };
  if (session.logFormat === "json") base.logger.info(fields, "sync finished");
  else base.logger.debug(fields, "sync finished");
  return summary;
}

/** Says which kind of run a narrowed sync wrote (a full run needs no line), e.g. "Run:     partial (parent 2k…)". */
function runLine(result: unknown): string {
  const r = result as { syncType?: unknown; parentSyncId?: unknown } | undefined;
  if (typeof r?.syncType !== "string" || r.syncType === "full") return "";
  const parent = r.syncType === "partial" ? (r.parentSyncId ? ` (parent: full run ${String(r.parentSyncId)})` : " (no full run in the file to be its parent)") : "";
  return `Run:     ${r.syncType}${parent}\n`;
}

/** No subcommand: a provisioning operation, service mode, or a one-shot sync. */
async function runDefault(spec: AnySpec, session: Session<AnyConfig>): Promise<number> {
  const { base } = session;
  const fileOperation = syncFileOperation(base.sdk);
  if (fileOperation) {
    // Local work on c1z files: the connector is not called, so its config is not needed.
    await runSyncFileOperation(fileOperation, base);
    return ExitCode.OK;
  }
  if (base.sdk.listActionSchemas || base.sdk.invokeAction || base.sdk.eventFeed) {
    const { localOperation, runLocalOperation } = await import("./actions-events.ts");
    const local = localOperation(base.sdk);
    if (local) {
      if (provisioningOperation(base.sdk)) throw new UsageError("an action or event-feed flag cannot be combined with a provisioning operation");
      if (!spec.run.withRpc) throw new UsageError(`${spec.name} does not support --list-action-schemas, --invoke-action or --event-feed`);
      await spec.run.withRpc(session.loadConfig(), base.logger, base.sdk.provisioning, (rpc) => runLocalOperation(local, rpc, base.io, base.signal));
      return ExitCode.OK;
    }
  }
  const operation = provisioningOperation(base.sdk);
  const config = session.loadConfig();
  const ctx: RunContext<AnyConfig> = { ...base, config, progress: new ProgressReporter({ status: session.status }) };
  if (operation) {
    if (!spec.run.provision) throw new UsageError(`${spec.name} does not support one-shot provisioning`);
    if (operation.kind === "rotateCredentials" && operation.printPlaintext && base.io.stdout.isTTY !== true) {
      // A plaintext credential must not land in a pipe, a file or a CI log.
      throw new UsageError("--rotate-credentials-print-plaintext only works when stdout is a terminal");
    }
    await spec.run.provision(operation, ctx);
    return ExitCode.OK;
  }
  if (base.sdk.clientId && base.sdk.clientSecret) {
    if (!spec.run.service) throw new UsageError(`${spec.name} does not support service mode`);
    await spec.run.service(ctx);
    return ExitCode.OK;
  }
  await runSyncFlow(spec, session, config);
  return ExitCode.OK;
}

async function runCommand(spec: AnySpec, session: Session<AnyConfig>, command: CommandSpec<any, any>, parsed: ParsedArgv): Promise<number> {
  if (parsed.args.length > 0 && !command.args) throw new UsageError(`${command.name} takes no arguments (got "${parsed.args[0]}")`);
  const own = Object.keys(command.flags ?? {}).filter((k) => k in parsed.flags);
  const options = resolveConfig(defineConfig(command.flags ?? {}), { flags: Object.fromEntries(own.map((k) => [k, parsed.flags[k]!])) }, { cliOnly: true }).values;
  const ctx: CommandContext<AnyConfig> = {
    ...session.base,
    options,
    args: parsed.args,
    loadConfig: session.loadConfig,
    runSync: (overrides) => runSyncFlow(spec, session, session.loadConfig(overrides)),
  };
  const code = await command.run(ctx);
  return typeof code === "number" ? code : ExitCode.OK;
}

/**
 * Runs the CLI and returns its exit code (it does not exit the process; see `runConnectorCliMain`).
 * `io` replaces the process's streams, env and cwd (tests run the CLI in-process this way).
 */
export async function runConnectorCli<D extends ConfigDefinition<any>>(
  spec: ConnectorCliSpec<D>,
  argv: readonly string[] = process.argv.slice(2),
  io: Partial<CliIo> = {},
  options: RunOptions = {},
): Promise<number> {
  const anySpec = spec as AnySpec;
  const cli: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), ...io };
  const status = new TerminalStatus(cli.stderr);
  const controller = new AbortController();
  let logger: Logger | undefined;
  /** The subcommand, once known: a usage error points at its own help. */
  let commandName: string | undefined;
  const unwatch = options.handleSignals === false ? () => {} : watchSignals(controller, () => logger);

  try {
    const table = commandTable(anySpec);
    const ownersOf = (flag: string) =>
      [...table.commandFlags].filter(([name, t]) => t.long.has(flag) && !table.commands.get(name)!.hidden).map(([name]) => name);
    const parsed = parseArgv(argv, table.globalFlags, (name) => table.commandFlags.get(name), ownersOf);
    commandName = parsed.command;
    const text = helpOrVersion(anySpec, table, parsed);
    if (text !== undefined) {
      cli.stdout.write(text);
      return ExitCode.OK;
    }
    const command = parsed.command === undefined ? undefined : table.commands.get(parsed.command)!;
    if (command === undefined && parsed.args.length > 0) {
      const word = parsed.args[0]!;
      const visible = [...table.commands.values()].filter((c) => !c.hidden).map((c) => c.name);
      throw new UsageError(`unknown command "${word}"${didYouMean(word, visible)}`);
    }

    // Loaded past --help and --version, which need neither a config file nor a logger (see issue 14: start-up).
    const [{ loadConfigFile }, { createLogger }] = await Promise.all([import("../config/file.ts"), import("../log/logger.ts")]);
    const sources: ConfigSources = { flags: parsed.flags, env: cli.env, file: loadConfigFile(cli.env, cli.cwd) };
    const sdk = resolveConfig(table.all, sources, { only: (key) => key in sdkConfig.fields }).values as SdkConfig;
    // Relative paths are relative to the CLI's working directory (which tests and services may set).
    sdk.file = resolve(cli.cwd, sdk.file);
    const logFormat = sdk.logFormat ?? (cli.stderr.isTTY ? "console" : "json");
    logger = createLogger({ level: sdk.logLevel, format: logFormat, destination: status, colorize: cli.stderr.isTTY === true });
    const strayVariables = unknownVariablesWarning(unknownBatonVariables(cli.env, table.all.fields));
    if (strayVariables) logger.warn(strayVariables);
    const connectorKeys = Object.keys(spec.config.fields);
    const session: Session<AnyConfig> = {
      base: { name: spec.name, version: spec.version, logger, sdk, io: cli, signal: controller.signal },
      status,
      logFormat,
      loadConfig: (overrides) => {
        const resolved = resolveConfig(table.all, { ...sources, overrides: overrides as ConfigSources["overrides"] });
        return Object.fromEntries(connectorKeys.map((k) => [k, resolved.values[k]])) as AnyConfig;
      },
    };
    return command === undefined ? await runDefault(anySpec, session) : await runCommand(anySpec, session, command, parsed);
  } catch (err) {
    const failure = describeFailure(err);
    if (logger && !(err instanceof UsageError) && !(err instanceof ConfigError)) logger.debug({ err }, "failure details");
    const command = (err as CommandUsageError).command ?? commandName;
    const hint = err instanceof UsageError ? ` (see '${spec.name}${command && command !== "help" ? ` ${command}` : ""} --help')` : "";
    status.write(`${spec.name}: error: ${failure.message}${hint}\n`);
    return failure.code;
  } finally {
    unwatch();
    status.clear();
  }
}

/** For a connector's main: runs the CLI on process.argv and exits with its code. */
export async function runConnectorCliMain<D extends ConfigDefinition<any>>(spec: ConnectorCliSpec<D>, argv = process.argv.slice(2)): Promise<never> {
  // `… | head` closes stdout early: that ends the output, it is not a failure worth a stack trace.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
  const code = await runConnectorCli(spec, argv);
  // process.exit drops writes still queued for a pipe (a large `-o json | jq` was cut short with exit 0): wait
  // until both streams have handed over everything written before them.
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((resolve) => s.write("", () => resolve()))));
  process.exit(code);
}
