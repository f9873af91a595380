/**
 * The SDK's own settings, shared by every connector (Baton's common flags, PROTOCOL.md §4). They are merged
 * with the connector's fields for parsing but never exported by `config`.
 */
import { z } from "zod";
import { defineConfig, type ConfigOf } from "./define.ts";
import { field } from "./fields.ts";
import { parseByteSize } from "../store/size.ts";

const jsonObject = z.string().refine(
  (text) => {
    try {
      const parsed: unknown = JSON.parse(text);
      return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed);
    } catch {
      return false;
    }
  },
  { message: 'must be a JSON object, e.g. {"name":"Ada Lovelace"}' },
);

// Go declares --event-feed a string and reads it as a bool (PROTOCOL-2.md §4.3): `--event-feed true` works there.
const boolText = z.enum(["true", "false", "1", "0"], { message: "must be true or false" });
const rfc3339 = z.string().refine((text) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i.test(text) && !Number.isNaN(Date.parse(text)), {
  message: "must be an RFC 3339 time, e.g. 2026-01-31T08:00:00Z",
});

const byteSize = z.string().refine((text) => parseByteSize(text) !== undefined, {
  message: "must be a size in bytes, e.g. 512MiB, 2GiB, 1.5GB or 1048576",
});

export const sdkConfig = defineConfig(
  {
    file: field.string({ short: "f", description: "The path to the c1z file to sync with", default: "sync.c1z", sdk: true }),
    logLevel: field.enum({ values: ["debug", "info", "warn", "error"], default: "info", description: "The log level", sdk: true }),
    logFormat: field.enum({
      values: ["json", "console"],
      description: "The output format for logs: json or console (default: console on a terminal, else json)",
      sdk: true,
    }),

    clientId: field.string({ description: "The client ID used to authenticate with ConductorOne (service mode)", sdk: true }),
    clientSecret: field.string({
      description: "The client secret used to authenticate with ConductorOne (service mode)",
      secret: true,
      sdk: true,
    }),

    provisioning: field.bool({ short: "p", description: "Allow the connector to make changes (grant, revoke, create, delete, rotate)", sdk: true }),
    grantEntitlement: field.string({ description: "The id of the entitlement to grant to the supplied principal", sdk: true }),
    grantPrincipal: field.string({ description: "The id of the resource to grant the entitlement to", sdk: true }),
    grantPrincipalType: field.string({ description: "The resource type of the principal to grant the entitlement to", sdk: true }),
    revokeGrant: field.string({ description: "The grant to revoke", sdk: true }),
    createAccountLogin: field.string({ description: "The login of the account to create", sdk: true }),
    createAccountEmail: field.string({ description: "The email of the account to create", sdk: true }),
    createAccountProfile: field.string({
      description: "The profile of the account to create, as a JSON object",
      schema: jsonObject,
      sdk: true,
    }),
    deleteResource: field.string({ description: "The id of the resource to delete", sdk: true }),
    deleteResourceType: field.string({ description: "The type of the resource to delete", sdk: true }),
    rotateCredentials: field.string({ description: "The id of the resource to rotate credentials on", sdk: true }),
    rotateCredentialsType: field.string({ description: "The type of the resource to rotate credentials on", sdk: true }),
    rotateCredentialsPrintPlaintext: field.bool({
      description: "Print the rotated credential in plaintext (only on a terminal)",
      sdk: true,
    }),

    healthCheck: field.bool({ description: "Serve HTTP health endpoints (/health, /ready, /live) in service mode", sdk: true }),
    healthCheckPort: field.int({ description: "The port of the health endpoints", default: 8081, min: 1, max: 65535, sdk: true }),
    healthCheckBindAddress: field.string({ description: "The address the health endpoints bind to", default: "127.0.0.1", sdk: true }),
    taskConcurrency: field.int({ description: "How many service-mode tasks run at once", default: 3, min: 1, max: 64, sdk: true }),
    // Go's hidden local operations on c1z files (PROTOCOL-2.md §2.2, §2.4); they need no connector config.
    diffSyncs: field.bool({ description: "Add to --file a partial run of what --applied-sync-id has and --base-sync-id lacks", hidden: true, sdk: true }),
    baseSyncId: field.string({ description: "The base run of --diff-syncs", hidden: true, sdk: true }),
    appliedSyncId: field.string({ description: "The run whose additions --diff-syncs records", hidden: true, sdk: true }),
    compactSyncs: field.bool({ description: "Compact the c1z files of --compact-file-paths into one in --compact-output-path", hidden: true, sdk: true }),
    compactFilePaths: field.stringList({ description: "The c1z files to compact (two or more, comma-separated)", hidden: true, sdk: true }),
    compactSyncIds: field.stringList({ description: "One sync id per file of --compact-file-paths", hidden: true, sdk: true }),
    compactOutputPath: field.string({ description: "The directory the compacted c1z is written to", hidden: true, sdk: true }),
    maxC1zDecodedSize: field.string({
      description:
        "The largest database a c1z file may decode to (e.g. 512MiB, 2GiB) when a sync resumes from --file or a command reads it; a guard against decompression bombs",
      default: "10GiB",
      schema: byteSize,
      sdk: true,
    }),
    // Narrowed and targeted syncs (PROTOCOL-2.md §1.1): which mode reads which is decided in src/sync/scope.ts.
    syncResources: field.stringList({
      description: "Sync only these resources (a targeted sync), as Baton resource ids: bid:r:<type>/<id>, comma-separated",
      sdk: true,
    }),
    syncResourceTypes: field.stringList({ description: "Sync only these resource types (comma-separated type ids)", sdk: true }),
    skipFullSync: field.bool({ description: "In service mode, answer sync tasks with an empty sync instead of syncing", sdk: true }),
    skipEntitlementsAndGrants: field.bool({ description: "Sync resources only, without entitlements and grants", sdk: true }),
    skipGrants: field.bool({ description: "Skip grants in a targeted sync (--sync-resources)", hidden: true, sdk: true }),
    // Actions and event feeds, one-shot (PROTOCOL-2.md §3.4, §4.3); run in src/cli/actions-events.ts.
    invokeAction: field.string({ description: "Invoke the action with this name and wait until it settles", sdk: true }),
    invokeActionArgs: field.string({ description: "The arguments of --invoke-action, as a JSON object", default: "{}", schema: jsonObject, sdk: true }),
    invokeActionResourceType: field.string({ description: "The resource type of a resource-scoped --invoke-action", sdk: true }),
    listActionSchemas: field.bool({ description: "Print the connector's actions, one JSON object a line", sdk: true }),
    listActionSchemasResourceType: field.string({ description: "With --list-action-schemas: only this resource type's actions", sdk: true }),
    eventFeed: field.string({ description: "true: print the events of --event-feed-id, one JSON object a line", schema: boolText, sdk: true }),
    eventFeedId: field.string({ description: "The event feed --event-feed reads", sdk: true }),
    eventFeedStartAt: field.string({ description: "The earliest event --event-feed prints, RFC 3339 (default: 24 hours ago)", schema: rfc3339, sdk: true }),
    eventFeedCursor: field.string({ description: "Resume --event-feed from this cursor (the last one it printed)", sdk: true }),
  },
  {
    constraints: [
      { kind: "requiredTogether", fields: ["clientId", "clientSecret"] },
      { kind: "requiredTogether", fields: ["grantEntitlement", "grantPrincipal", "grantPrincipalType"] },
      { kind: "requiredTogether", fields: ["deleteResource", "deleteResourceType"] },
      { kind: "requiredTogether", fields: ["rotateCredentials", "rotateCredentialsType"] },
      { kind: "dependentOn", fields: ["rotateCredentialsPrintPlaintext"], dependsOn: ["rotateCredentials"] },
      { kind: "requiredTogether", fields: ["diffSyncs", "baseSyncId", "appliedSyncId"] },
      { kind: "requiredTogether", fields: ["compactSyncs", "compactFilePaths", "compactSyncIds", "compactOutputPath"] },
      { kind: "dependentOn", fields: ["invokeActionResourceType"], dependsOn: ["invokeAction"] },
      { kind: "dependentOn", fields: ["listActionSchemasResourceType"], dependsOn: ["listActionSchemas"] },
      { kind: "dependentOn", fields: ["eventFeedId", "eventFeedStartAt", "eventFeedCursor"], dependsOn: ["eventFeed"] },
    ],
  },
);

export type SdkConfig = ConfigOf<typeof sdkConfig>;
