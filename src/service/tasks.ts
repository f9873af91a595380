/**
 * What each platform task does. A handler returns the connector's response packed in Any (or nothing, for a
 * sync, whose result is the uploaded file) and throws a ConnectorError on failure; the runner reports either
 * with FinishTask.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { anyPack, type Any } from "@bufbuild/protobuf/wkt";
import { TaskSchema, type Task } from "../gen/c1/connectorapi/baton/v1/baton_pb.js";
import { GrantManagerServiceGrantResponseSchema, GrantManagerServiceRevokeResponseSchema } from "../gen/c1/connector/v2/grant_pb.js";
import {
  CreateAccountResponseSchema,
  DeleteResourceV2ResponseSchema,
  RotateCredentialResponseSchema,
} from "../gen/c1/connector/v2/resource_pb.js";
import { Code, ConnectorError } from "../connector/errors.ts";
import type { ConnectorRpc } from "../connector/rpc.ts";
import { runSync } from "../sync/engine.ts";
import type { BackoffPolicy } from "../http/backoff.ts";
import type { PlatformClient } from "./platform-client.ts";
import { uploadSyncFile } from "./upload.ts";

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
  /** Sends Hello again (the platform's `hello` task asks for it). */
  hello: (taskId: string, signal: AbortSignal) => Promise<void>;
}

const pack = <D extends DescMessage>(schema: D, message: MessageShape<D>): Any => anyPack(schema, message);

export async function executeTask(ctx: TaskContext): Promise<Any | undefined> {
  const { task, rpc, signal } = ctx;
  const t = task.taskType;
  switch (t.case) {
    case undefined:
    case "none":
      return undefined;
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
    default:
      throw new ConnectorError(Code.UNIMPLEMENTED, `unsupported task type: ${taskKindName(t.case)}`);
  }
}

async function syncFull(ctx: TaskContext, spec: Extract<Task["taskType"], { case: "syncFull" }>["value"]): Promise<undefined> {
  if (spec.targetedSyncResources.length > 0) {
    throw new ConnectorError(Code.UNIMPLEMENTED, "unsupported task type: sync_full with targeted_sync_resources (targeted syncs)");
  }
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
      resourceTypeIds: spec.syncResourceTypeIds.length > 0 ? [...spec.syncResourceTypeIds] : undefined,
      afterPage: () => ctx.signal.throwIfAborted(),
    });
    ctx.logger.info({ syncId: result.syncId, stats: result.stats }, "sync finished; uploading");
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
    return undefined;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

