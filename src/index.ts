/**
 * The SDK's public API: the only module a connector imports (plus `./messages.ts` for Baton's messages).
 * Everything a connector author needs is named here on purpose; what is not here is internal and may change
 * without notice. Re-exports only: nothing here runs at import beyond what the re-exported modules run.
 */

// ── The author API: a Connector is a list of ResourceSyncers (+ optional provisioning per type) ──
export type {
  Connector,
  ConnectorInfo,
  ResourceSyncer,
  CallContext,
  Page,
  Annotated,
  Provisioner,
  AccountManager,
  CreateAccountResult,
  CredentialManager,
  ResourceDeleter,
  TenantIdentity,
  ListedResource,
} from "./connector/types.ts";

// ── ctx.session: values kept per sync (in the c1z for a one-shot sync, in memory for `serve`) ──
export {
  sessionStoreFor,
  memorySessionBackend,
  storeSessionBackend,
  withSessionBackend,
  MAX_SESSION_KEY_CHARS,
  MAX_SESSION_VALUE_BYTES,
} from "./connector/session.ts";
export type { SessionStore, SessionBackend, SessionValueStore } from "./connector/session.ts";
export type { ActionDefinition, ActionOutcome, ActionProgress, ActionField, ActionConstraint } from "./connector/actions.ts";
export type { EventFeed, EventPage, EventListRequest, FeedEvent } from "./connector/events.ts";
export type { CredentialIssuer, CredentialIssueOption, IssueCredentialInput, IssuedCredential } from "./connector/credential-issuer.ts";

// ── Builders: resources, entitlements and grants with Baton's id conventions ──
export {
  resourceId,
  resourceType,
  userResource,
  groupResource,
  roleResource,
  appResource,
  secretResource,
  resourceRef,
  entitlement,
  entitlementId,
  entitlementRef,
  grant,
  grantId,
} from "./connector/builders.ts";
export type { ResourceStatus, UserTraitInit, Purpose } from "./connector/builders.ts";

// ── Annotations: pack and read google.protobuf.Any annotations ──
export { annotate, pack, findAnnotation, hasAnnotation, withoutAnnotation } from "./connector/annotations.ts";

// ── Errors: what a connector throws; the code becomes the gRPC status ──
export { Code, ConnectorError, codeName, isRetryableCode } from "./connector/errors.ts";
/** Bounds the SDK enforces on ids and pages (a connector can check its own inputs against them). */
export { MAX_ID_BYTES, MAX_PAGE_SIZE } from "./connector/limits.ts";

// ── Config: declare a connector's flags once; they get --flags, BATON_* env vars, YAML keys and help ──
export { field, defineConfig, mergeConfigs, resolveConfig, ConfigError, sdkConfig, flagName, envName } from "./config/index.ts";
export type { FieldDecl, FieldMap, ValuesOf, ConfigDefinition, ConfigOf, ConstraintDecl, SdkConfig } from "./config/index.ts";

// ── Running a connector: the in-process RPC service, capabilities, the sync engine, one-shot provisioning ──
export { createConnectorService, SDK_WIRE_VERSION } from "./connector/service.ts";
export type { ConnectorServiceOptions } from "./connector/service.ts";
export type { ConnectorRpc } from "./connector/rpc.ts";
export { connectorCapabilities, connectorMetadata } from "./connector/capabilities.ts";
export { runSync } from "./sync/engine.ts";
export type { SyncOptions, SyncResult } from "./sync/engine.ts";
export { runOneShot } from "./provision/oneshot.ts";
export type { OneShotOperation, OneShotResult } from "./provision/oneshot.ts";
/** Parses --max-c1z-decoded-size style sizes ("10GiB"); undefined for an empty value. */
export { parseByteSize } from "./store/size.ts";
/** Reads (and writes) c1z files: tests and tools read a finished sync back through it. */
export { SyncStore } from "./store/store.ts";

// ── The CLI runner: what a connector's `main` needs (flags, config, logging, inspection, exit codes) ──
// From their own modules: cli/index.ts also loads the JSON registry of every generated message, which a sync does without.
export { runConnectorCli, runConnectorCliMain } from "./cli/run.ts";
export { defineCommand } from "./cli/spec.ts";
export { UsageError, ExitCode } from "./cli/errors.ts";
export { runServiceMode, serveCommand } from "./cli/modes.ts";
export type {
  RunOptions,
  ConnectorCliSpec,
  RunContext,
  RunHandlers,
  BaseContext,
  CommandContext,
  CommandSpec,
  CliIo,
  OutStream,
  ProvisioningOperation,
  WithConnectorRpc,
} from "./cli/index.ts";

// ── gRPC: serve a connector, or talk to one served elsewhere ──
// Through deferred.ts: grpc-js loads on the first call, not with the SDK (a one-shot sync never needs it).
export { serveConnector, connectorClient } from "./deferred.ts";

// ── HTTP and AWS: what a connector's API client is built on (retries, rate limits, proxies, bounded bodies, egress,
// SigV4 for STS); also an entry point of its own, which loads none of the rest ──
export * from "./api-client.ts";

// ── Hosted (Lambda) runtime: what a connector declares to run as a platform-hosted function ──
export { defineHostedConnector } from "./hosted/definition.ts";
export type { HostedConnectorDefinition, HostedBuildEnv, HostedBuilt } from "./hosted/definition.ts";
export { startHostedRuntime } from "./deferred.ts";
export { HostedReloadError } from "./hosted/reload.ts";
/** The Lambda handler (nodejs24.x) and the `lambda` subcommand (container images, the Runtime API). */
export { createLambdaHandler } from "./deferred.ts";
export { lambdaCommand } from "./hosted/lambda-command.ts";
export type { HostedRuntime, Generation, InvocationAuthSettings, ColdStartTimings } from "./hosted/runtime.ts";

// ── Logging: the logger type handlers receive, and how to keep a value out of every log line ──
export type { Logger, LogLevel } from "./log/index.ts";
export { registerSecret } from "./log/index.ts";
