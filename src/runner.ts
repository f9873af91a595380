/**
 * The SDK's light entry point: what a connector's `main` and its config declaration need before any command
 * runs — the CLI runner, config fields, command declarations, usage errors. Importing it loads zod and the
 * runner and nothing else, so `--version`, `--help` and a usage error answer at once; a command's body imports
 * src/index.ts (the connector, the sync engine, HTTP, gRPC...) when it runs, with `await import(...)`.
 * Every name here is also exported by src/index.ts (the same bindings).
 */
export { runConnectorCli, runConnectorCliMain } from "./cli/run.ts";
export type { RunOptions } from "./cli/run.ts";
export { defineCommand } from "./cli/spec.ts";
export type { BaseContext, CliIo, CommandContext, CommandSpec, ConnectorCliSpec, OutStream, ProvisioningOperation, RunContext, RunHandlers } from "./cli/spec.ts";
export { ExitCode, UsageError } from "./cli/errors.ts";
export { runServiceMode, serveCommand, type WithConnectorRpc } from "./cli/modes.ts";
/** `lambda`: the hosted runtime under the Lambda Runtime API (container images); loads the runtime only when it runs. */
export { lambdaCommand } from "./hosted/lambda-command.ts";
export { field } from "./config/fields.ts";
export type { FieldDecl, FieldMap, ValuesOf } from "./config/fields.ts";
export { defineConfig, mergeConfigs } from "./config/define.ts";
export type { ConfigDefinition, ConfigOf, ConstraintDecl } from "./config/define.ts";
export { ConfigError } from "./config/errors.ts";
export { sdkConfig } from "./config/sdk-fields.ts";
export type { SdkConfig } from "./config/sdk-fields.ts";
export { flagName, envName } from "./config/names.ts";
