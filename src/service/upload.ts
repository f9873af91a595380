/**
 * UploadAsset: a sync's c1z streamed to the platform as `metadata{host_id, task_id}`, then `data` chunks of
 * 512 KiB, then `eof{sha256_checksum}` of the whole file. A failed upload is tried again from the start, up to
 * 3 attempts in all (then the runner keeps the file and tries again later, one attempt at a time).
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { Logger } from "pino";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { BatonServiceUploadAssetRequestSchema } from "../gen/c1/connectorapi/baton/v1/baton_pb.js";
import { backoffDelay, sleep, type BackoffPolicy } from "../http/backoff.ts";
import type { PlatformClient } from "./platform-client.ts";

export const UPLOAD_CHUNK_BYTES = 512 * 1024;
export const UPLOAD_ATTEMPTS = 3;

type UploadMessage = MessageInitShape<typeof BatonServiceUploadAssetRequestSchema>;

export interface UploadOptions {
  client: PlatformClient;
  hostId: string;
  taskId: string;
  file: string;
  signal: AbortSignal;
  logger: Logger;
  backoff: BackoffPolicy;
  chunkBytes?: number;
  /** Attempts in all (default 3). */
  attempts?: number;
  /** Deadline of one attempt (default 30 min: a large c1z on a slow link). */
  attemptTimeoutMs?: number;
}

async function* uploadMessages(o: UploadOptions): AsyncGenerator<UploadMessage> {
  yield { msg: { case: "metadata", value: { hostId: o.hostId, taskId: o.taskId } } };
  const hash = createHash("sha256");
  const stream = createReadStream(o.file, { highWaterMark: o.chunkBytes ?? UPLOAD_CHUNK_BYTES, signal: o.signal });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    yield { msg: { case: "data", value: { data: chunk } } };
  }
  yield { msg: { case: "eof", value: { sha256Checksum: hash.digest() } } };
}

export async function uploadSyncFile(o: UploadOptions): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await o.client.uploadAsset(uploadMessages(o), { signal: o.signal, timeoutMs: o.attemptTimeoutMs ?? 30 * 60_000 });
      o.logger.info({ attempt }, "sync file uploaded");
      return;
    } catch (err) {
      if (o.signal.aborted || attempt >= (o.attempts ?? UPLOAD_ATTEMPTS)) throw err;
      const delayMs = backoffDelay(attempt - 1, o.backoff);
      o.logger.warn({ attempt, err: (err as Error).message, delayMs }, "sync file upload failed; trying again");
      await sleep(delayMs, o.signal);
    }
  }
}
