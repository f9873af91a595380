export { runConnectorCli, runConnectorCliMain, describeFailure } from "./run.ts";
export { provisioningOperation } from "./provisioning.ts";
export type { RunOptions } from "./run.ts";
export { defineCommand } from "./spec.ts";
export type {
  BaseContext,
  CliIo,
  CommandContext,
  CommandSpec,
  ConnectorCliSpec,
  OutStream,
  ProvisioningOperation,
  RunContext,
  RunHandlers,
} from "./spec.ts";
export { ProgressReporter, TerminalStatus, formatSummary } from "./progress.ts";
export type { SyncProgressEvent, SyncResult, SyncSummary, ObjectCounts, TypeCounts, StoreCountsLike } from "./progress.ts";
export { ExitCode, UsageError } from "./errors.ts";
export { capabilitiesJson, protoJson, protoRegistry, atTypeFirst, prettyJson } from "./json.ts";
export { TableWriter, renderTable, formatCount, formatDuration } from "./table.ts";
export { runServiceMode, serveCommand, type WithConnectorRpc } from "./modes.ts";
