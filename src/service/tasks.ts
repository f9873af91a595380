/**
 * What each platform task does. A handler returns the connector's response packed in Any (or nothing, for a
 * sync, whose result is the uploaded file) and throws a ConnectorError on failure; the runner reports either
 * with FinishTask.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { anyPack, anyUnpack, type Any } from "@bufbuild/protobuf/wkt";
import { TaskSchema, type Task } from "../gen/c1/connectorapi/baton/v1/baton_pb.js";
import { GrantManagerServiceGrantResponseSchema, GrantManagerServiceRevokeResponseSchema } from "../gen/c1/connector/v2/grant_pb.js";
import {
  CreateAccountResponseSchema,
  CreateResourceResponseSchema,
  DeleteResourceV2ResponseSchema,
  IssueCredentialResponseSchema,
  RotateCredentialResponseSchema,
} from "../gen/c1/connector/v2/resource_pb.js";
import { Code, ConnectorError } from "../connector/errors.ts";
import type { ConnectorRpc } from "../connector/rpc.ts";
import { runSync } from "../sync/engine.ts";
import type { BackoffPolicy } from "../http/backoff.ts";
import type { KeptUpload } from "./kept-uploads.ts";
import type { PlatformClient } from "./platform-client.ts";
import { malformedTask, refuseTask, unsupportedTask } from "./task-rules.ts";
import type { ServiceSyncScope } from "../sync/scope.ts";
import type { TargetedResource } from "../sync/targets.ts";
import { uploadSyncFile } from "./upload.ts";
import { actionGetSchema, actionInvoke, actionListSchemas, actionStatus, listEventFeeds, listEvents } from "./action-event-tasks.ts";

export type TaskKind = NonNullable<Task["taskType"]["case"]>;

/** Tasks that change the target system: their failures are final (the platform must not replay them blindly). */
export const PROVISIONING_KINDS: ReadonlySet<TaskKind> = new Set<TaskKind>([
  "grant",
  "revoke",
  "createAccount",
  "createResource",
  "deleteResource",
  "rotateCredentials",
  "issueCredential",
]);

const taskTypeFields = TaskSchema.oneofs.find((o) => o.name === "task_type")!.fields;

/** The proto name of a task's kind (e.g. "sync_full"), as the platform and the logs name it. */
export function taskKindName(kind: TaskKind | undefined): string {
  if (kind === undefined) return "none";
  return taskTypeFields.find((f) => f.localName === kind)?.name ?? kind;
}

export interface TaskContext {
  task: Task;
  rpc: ConnectorRpc;
  client: PlatformClient;
  hostId: string;
  signal: AbortSignal;
  logger: Logger;
  tempDir: string;
  backoff: BackoffPolicy;
  uploadChunkBytes?: number;
  /** The host's --skip-full-sync and --sync-resource-types (a task's own type list wins when not empty). */
  syncScope?: ServiceSyncScope;
  /** Sends Hello again (the platform's `hello` task asks for it). */
  hello: (taskId: string, signal: AbortSignal) => Promise<void>;
  /**
   * A finished sync whose upload failed: moves its file somewhere it outlives the task's temp dir and returns
   * where, or undefined when it cannot be kept (then the task fails with the upload's error, as before).
   */
  keepUpload?: (file: string, uploadError: unknown) => Promise<KeptUpload | undefined>;
}

/** Thrown by a sync whose c1z was kept after its upload failed: the runner delivers it later. */
export class UploadKept extends Error {
  readonly kept: KeptUpload;

  constructor(kept: KeptUpload, cause: unknown) {
    super(`the sync finished but its upload failed; kept in ${kept.file}`, { cause });
    this.name = "UploadKept";
    this.kept = kept;
  }
}

const pack = <D extends DescMessage>(schema: D, message: MessageShape<D>): Any => anyPack(schema, message);

/**
 * FinishTask's success annotations: Go copies the connector's response annotations there for issue_credential
 * and create_resource (PROTOCOL-2 §5); every other kind finishes without.
 */
export function successAnnotations(kind: TaskKind | undefined, response: Any | undefined): Any[] {
  if (!response) return [];
  if (kind === "issueCredential") return anyUnpack(response, IssueCredentialResponseSchema)?.annotations ?? [];
  if (kind === "createResource") return anyUnpack(response, CreateResourceResponseSchema)?.annotations ?? [];
  return [];
}

export async function executeTask(ctx: TaskContext): Promise<Any | undefined> {
  const { task, rpc, signal } = ctx;
  const refusal = refuseTask(task);
  if (refusal) throw refusal;
  const t = task.taskType;
  switch (t.case) {
    case "hello":
      await ctx.hello(task.id, signal);
      return undefined;
    case "syncFull":
      return syncFull(ctx, t.value);
    case "grant":
      return pack(
        GrantManagerServiceGrantResponseSchema,
        await rpc.grant({ entitlement: t.value.entitlement, principal: t.value.principal, annotations: t.value.annotations }, { signal }),
      );
    case "revoke":
      return pack(
        GrantManagerServiceRevokeResponseSchema,
        await rpc.revoke({ grant: t.value.grant, annotations: t.value.annotations }, { signal }),
      );
    case "createAccount":
      return pack(
        CreateAccountResponseSchema,
        await rpc.createAccount(
          {
            accountInfo: t.value.accountInfo,
            credentialOptions: t.value.credentialOptions,
            encryptionConfigs: t.value.encryptionConfigs,
            resourceTypeId: t.value.resourceTypeId,
          },
          { signal },
        ),
      );
    case "createResource":
      return pack(CreateResourceResponseSchema, await rpc.createResource({ resource: t.value.resource }, { signal }));
    case "issueCredential":
      return pack(
        IssueCredentialResponseSchema,
        await rpc.issueCredential(
          {
            identityId: t.value.identityId,
            credentialOptions: t.value.credentialOptions,
            encryptionConfigs: t.value.encryptionConfigs,
            requestId: task.id,
            expiresAt: t.value.expiresAt,
          },
          { signal },
        ),
      );
    case "deleteResource":
      return pack(
        DeleteResourceV2ResponseSchema,
        await rpc.deleteResourceV2({ resourceId: t.value.resourceId, parentResourceId: t.value.parentResourceId }, { signal }),
      );
    case "rotateCredentials":
      return pack(
        RotateCredentialResponseSchema,
        await rpc.rotateCredential(
          { resourceId: t.value.resourceId, credentialOptions: t.value.credentialOptions, encryptionConfigs: t.value.encryptionConfigs },
          { signal },
        ),
      );
    case "actionListSchemas":
      return actionListSchemas(rpc, t.value, signal);
    case "actionGetSchema":
      return actionGetSchema(rpc, t.value, signal);
    case "actionInvoke":
      return actionInvoke(rpc, t.value, signal);
    case "actionStatus":
      return actionStatus(rpc, t.value, signal);
    case "listEventFeeds":
      return listEventFeeds(rpc, signal);
    case "listEvents":
      return listEvents(rpc, t.value, signal);
    default:
      throw unsupportedTask();
  }
}

/** Upload failures that say "the platform refuses this upload", after which keeping the file cannot help. */
const REFUSED_UPLOAD_CODES = new Set<number>([
  Code.INVALID_ARGUMENT,
  Code.NOT_FOUND,
  Code.FAILED_PRECONDITION,
  Code.PERMISSION_DENIED,
  Code.UNIMPLEMENTED,
  Code.OUT_OF_RANGE,
  Code.ALREADY_EXISTS,
]);

export function uploadWorthKeeping(err: unknown): boolean {
  return !(err instanceof ConnectorError && REFUSED_UPLOAD_CODES.has(err.code));
}

type SyncFullSpec = Extract<Task["taskType"], { case: "syncFull" }>["value"];

/** Only each resource's id and parent id are used: the engine fetches the resource itself (PROTOCOL-2 §1.2). */
function taskTargets(spec: SyncFullSpec): TargetedResource[] {
  return spec.targetedSyncResources.map((r, i) => {
    const id = r.id;
    if (!id?.resourceType || !id.resource) {
      throw malformedTask(`malformed sync task: targeted_sync_resources[${i}] has no resource id (resource_type and resource are both needed)`);
    }
    const parent = r.parentResourceId;
    return {
      resourceType: id.resourceType,
      resource: id.resource,
      ...(parent?.resourceType && parent.resource ? { parent: { resourceType: parent.resourceType, resource: parent.resource } } : {}),
    };
  });
}

async function syncFull(ctx: TaskContext, spec: SyncFullSpec): Promise<undefined> {
  const targetedResources = taskTargets(spec);
  const typeIds = spec.syncResourceTypeIds.length > 0 ? [...spec.syncResourceTypeIds] : ctx.syncScope?.resourceTypeIds;
  // One private directory per task: the c1z, its working database and side files go away together.
  const dir = await mkdtemp(join(ctx.tempDir, "baton-sync-"));
  try {
    const file = join(dir, "sync.c1z");
    const result = await runSync({
      connector: ctx.rpc,
      file,
      logger: ctx.logger,
      signal: ctx.signal,
      skipExpandGrants: spec.skipExpandGrants,
      skipEntitlementsAndGrants: spec.skipEntitlementsAndGrants,
      skipGrants: spec.skipGrants,
      resourceTypeIds: typeIds?.length ? typeIds : undefined,
      targetedResources,
      skipSync: ctx.syncScope?.skipFullSync === true,
      afterPage: () => ctx.signal.throwIfAborted(),
    });
    ctx.logger.info(
      { syncId: result.syncId, syncType: result.syncType, parentSyncId: result.parentSyncId || undefined, stats: result.stats, warnings: result.warnings.length },
      "sync finished; uploading",
    );
    try {
      await uploadSyncFile({
        client: ctx.client,
        hostId: ctx.hostId,
        taskId: ctx.task.id,
        file,
        signal: ctx.signal,
        logger: ctx.logger,
        backoff: ctx.backoff,
        chunkBytes: ctx.uploadChunkBytes,
      });
    } catch (err) {
      // Only a platform that is away is worth waiting for; a cancelled task or a refused upload is not.
      if (ctx.signal.aborted || !ctx.keepUpload || !uploadWorthKeeping(err)) throw err;
      const kept = await ctx.keepUpload(file, err);
      if (!kept) throw err;
      throw new UploadKept(kept, err);
    }
    return undefined;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

