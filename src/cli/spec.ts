import type { Logger } from "pino";
import type { ConnectorCapabilities } from "../gen/c1/connector/v2/connector_pb.js";
import type { ConfigDefinition, ConfigOf } from "../config/define.ts";
import type { FieldMap, ValuesOf } from "../config/fields.ts";
import type { ConfigurationMeta } from "../config/proto.ts";
import type { SdkConfig } from "../config/sdk-fields.ts";
import type { ProgressReporter, SyncResult, SyncSummary } from "./progress.ts";
import type { OneShotSyncScope } from "../sync/scope.ts";
import type { ConnectorRpc } from "../connector/rpc.ts";

export interface OutStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** The process surroundings of a CLI run; injectable so tests can run the CLI in-process. */
export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

export interface BaseContext {
  readonly name: string;
  readonly version: string;
  readonly logger: Logger;
  /** The SDK's settings (file, log level, client id/secret, provisioning flags, health check, task concurrency). */
  readonly sdk: SdkConfig;
  readonly io: CliIo;
  /** Aborted on the first SIGINT/SIGTERM (a second one exits at once with 130). */
  readonly signal: AbortSignal;
}

/** Context of the default command's handlers: the connector's config is resolved and valid. */
export interface RunContext<C> extends BaseContext {
  readonly config: C;
  /** Pass `progress.onProgress` to the sync engine; the CLI starts, stops and summarizes it. */
  readonly progress: ProgressReporter;
  /**
   * For `sync`: the engine options from --sync-resources, --sync-resource-types, --skip-entitlements-and-grants
   * and --skip-grants (already checked); spread them into runSync's options.
   */
  readonly syncScope?: OneShotSyncScope;
}

/** A one-shot provisioning operation, from Baton's flags (PROTOCOL.md §4). */
export type ProvisioningOperation =
  | { kind: "grant"; entitlementId: string; principalId: string; principalType: string }
  | { kind: "revoke"; grantId: string }
  | { kind: "createAccount"; login?: string; email?: string; profile: Record<string, unknown> }
  | { kind: "deleteResource"; resourceId: string; resourceType: string }
  | { kind: "rotateCredentials"; resourceId: string; resourceType: string; printPlaintext: boolean };

export interface RunHandlers<C> {
  /** One-shot sync to `ctx.sdk.file`. Return the engine's result for the summary. */
  sync(ctx: RunContext<C>): Promise<SyncResult | void>;
  /** One-shot provisioning; prints what it did on ctx.io.stdout. Absent: the flags are a usage error. */
  provision?(operation: ProvisioningOperation, ctx: RunContext<C>): Promise<void>;
  /** Service mode (`--client-id` and `--client-secret` set). Resolves when the service has stopped. */
  service?(ctx: RunContext<C>): Promise<void>;
  /**
   * Builds the connector and hands its RPC to `fn` (then closes it): what --list-action-schemas, --invoke-action
   * and --event-feed run against. Absent: those flags are a usage error.
   */
  withRpc?<T>(config: C, logger: Logger, provisioning: boolean, fn: (rpc: ConnectorRpc) => Promise<T>): Promise<T>;
  /** The connector's capabilities, for the `capabilities` command (no connector config needed). */
  capabilities(ctx: BaseContext): ConnectorCapabilities | Promise<ConnectorCapabilities>;
}

export interface CommandContext<C, O = Record<string, unknown>> extends BaseContext {
  /** The command's own flags, typed from its declarations. */
  readonly options: O;
  /** Positional arguments after the command name. */
  readonly args: readonly string[];
  /** Resolves and validates the connector's config now (ConfigError → exit 2); overrides win over every source. */
  loadConfig(overrides?: Partial<C>): C;
  /** Runs the default one-shot sync (progress, summary on stdout) with the given config overrides. */
  runSync(overrides?: Partial<C>): Promise<SyncSummary>;
}

export interface CommandSpec<C = unknown, F extends FieldMap = FieldMap> {
  name: string;
  description: string;
  /** Positional arguments in usage text, e.g. "[command]". Without it, positionals are a usage error. */
  args?: string;
  /** The command's own flags (command line only: no env var, no YAML key). */
  flags?: F;
  hidden?: boolean;
  /** Returns the exit code (default 0). */
  run(ctx: CommandContext<C, ValuesOf<F>>): Promise<number | void> | number | void;
}

export interface ConnectorCliSpec<D extends ConfigDefinition<any>> {
  /** Binary name, e.g. "baton-datadog". */
  name: string;
  version: string;
  description: string;
  /** The connector's own config (`defineConfig`); merged with the SDK's fields. */
  config: D;
  /** Display name, help URL and icon URL of the `config` output. */
  configMeta?: ConfigurationMeta;
  run: RunHandlers<ConfigOf<D>>;
  /** Extra subcommands (simulate, demo, check, serve, ...). */
  commands?: readonly CommandSpec<ConfigOf<D>, any>[];
}

/** Declares a subcommand with typed options: `defineCommand<Config>()({ name, flags, run })`. */
export function defineCommand<C>() {
  return <F extends FieldMap = {}>(spec: CommandSpec<C, F>): CommandSpec<C, F> => spec;
}
