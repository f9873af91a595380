/**
 * What one Datadog resource type declares, in its own file (resources/<type>.ts), listed once in
 * registry.ts: its ResourceType, the Datadog operations it uses (client/operations.ts and the contract tests
 * read them from here), the read the diagnosis makes to check access to it, the setting that turns it on if
 * it is optional, and its syncer.
 *
 * A type file imports the client only as a type and the client's leaf modules (schemas, ids, paging, parse,
 * tolerant, operation-info) by path — never client/index.ts, datadog-client.ts or operations.ts, which read
 * the registry (registry.test.ts checks this).
 */
import type { ResourceSyncer } from "../../../src/index.ts";
import type { ResourceType } from "../../../src/messages.ts";
import type { OperationInfo } from "../client/operation-info.ts";
import type { SyncerDeps } from "./deps.ts";

/** Connector settings that turn optional types on (DatadogConnectorOptions / --sync-schedules, --sync-secrets, --sync-security-insights). */
export type EnabledBy = "syncSchedules" | "syncSecrets" | "syncSecurityInsights";

/**
 * The small read `check` and Validate make to tell whether the credentials may sync this type. By default a
 * GET of the operation's path with a one-item page; `after` reads from another type's answer instead (an
 * on-call schedule is reached through a team), or is skipped with `skipped` when that answer gives nothing.
 */
export interface DiagnoseRead {
  /** What is read, in words: "users", "on-call schedules". */
  what: string;
  operation: OperationInfo;
  after?: {
    type: string;
    /** The path to read, from the other type's answer body; undefined skips the check. */
    path(answer: unknown): string | undefined;
    skipped: string;
  };
}

export interface DatadogResourceType<Ops extends Record<string, OperationInfo> = Record<string, OperationInfo>> {
  readonly type: ResourceType;
  readonly operations: Ops;
  readonly diagnose?: DiagnoseRead;
  readonly enabledBy?: EnabledBy;
  syncer(deps: SyncerDeps): ResourceSyncer;
}

/** Declares a resource type; keeps the operation ids as literal types for OperationId. */
export function datadogResourceType<const Ops extends Record<string, OperationInfo>>(def: DatadogResourceType<Ops>): DatadogResourceType<Ops> {
  return def;
}
