/**
 * Service mode: the connector keeps an outbound-only connection to the platform. Hello once (retried until the
 * platform answers), then poll GetTask; each task runs with a heartbeat that tells it when the platform
 * cancelled it, and ends with FinishTask, retried until the platform takes it so that no result is lost.
 * A task that cannot be run is finished at once as the Go SDK finishes it (task-rules.ts); a finished sync whose
 * upload fails while the platform is away is kept on disk and uploaded when it is back (kept-uploads.ts).
 *
 * The platform being unreachable never ends the process: every platform call is retried with jittered
 * exponential backoff (1 s → 5 min). Aborting `signal` (SIGTERM) stops polling, lets running tasks finish
 * within the grace period, cancels what is left, and returns.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Duration } from "@bufbuild/protobuf/wkt";
import type { BatonServiceFinishTaskRequestSchema, Task } from "../gen/c1/connectorapi/baton/v1/baton_pb.js";
import { Code, ConnectorError } from "../connector/errors.ts";
import type { ConnectorRpc } from "../connector/rpc.ts";
import { backoffDelay, sleep, type BackoffPolicy } from "../http/backoff.ts";
import { redactText } from "../log/secrets.ts";
import { abortableRpc } from "./abortable.ts";
import { parseClientId, parseClientSecret, platformEndpoint, type PlatformEndpoint } from "./credentials.ts";
import { DEFAULT_HEALTH_BIND_ADDRESS, DEFAULT_HEALTH_PORT, startHealthServer, type HealthServer } from "./health.ts";
import { buildInfoMessage, defaultHostId, osInfoMessage, type BuildInfo } from "./host-info.ts";
import {
  KEPT_UPLOAD_MAX_AGE_MS,
  KEPT_UPLOADS_DIR_NAME,
  KEPT_UPLOADS_MAX_TOTAL_BYTES,
  KEPT_UPLOADS_MIN_FREE_BYTES,
  KeptUploads,
  type KeptUpload,
  type KeptUploadsOptions,
} from "./kept-uploads.ts";
import { createPlatformClient, oversizedMessage, PLATFORM_MAX_RECEIVE_BYTES, type PlatformClient } from "./platform-client.ts";
import type { PolledTask } from "./get-task-decode.ts";
import { malformedTask, refuseTask, TaskFailure } from "./task-rules.ts";
import type { ServiceSyncScope } from "../sync/scope.ts";
import { executeTask, PROVISIONING_KINDS, successAnnotations, taskKindName, UploadKept, uploadWorthKeeping } from "./tasks.ts";
import { uploadSyncFile } from "./upload.ts";
import { PlatformTokenSource } from "./token.ts";
import { trustedCaCertificates } from "./trust.ts";
import { checkWritableDir } from "./writable-dir.ts";

export const DEFAULT_TASK_CONCURRENCY = 3;
export const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;
export const PLATFORM_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 5 * 60_000 };
export const HEARTBEAT_FAILURE_LIMIT = 10;

export interface RunServiceOptions {
  /** The connector, in process (createConnectorService) or over gRPC (connectorClient). */
  connector: ConnectorRpc;
  /** `--client-id` / BATON_CLIENT_ID. */
  clientId: string;
  /** `--client-secret` / BATON_CLIENT_SECRET. */
  clientSecret: string;
  logger: Logger;
  /** Abort to shut down (SIGTERM): stop polling, let running tasks finish within the grace period, return. */
  signal: AbortSignal;
  /** Reported in Hello. */
  buildInfo: BuildInfo;
  /** Where sync files are written while a task runs (default: the OS temp dir). */
  tempDir?: string;
  /**
   * Finished syncs whose upload failed while the platform was away are kept and uploaded once it is back, also
   * after a restart (default: in `<tempDir>/baton-kept-uploads`, up to 24 h, 512 MiB in all, 256 MiB left free).
   * `false` turns it off: such a task is then reported as a retryable failure.
   */
  keptUploads?: Partial<KeptUploadsOptions> | false;
  /** Largest platform message received, a task above all (default 32 MiB; gRPC's own default is 4 MiB). */
  maxReceiveBytes?: number;
  /** Default: BATON_HOST_ID, else the host name. */
  hostId?: string;
  /** The host's --skip-full-sync and --sync-resource-types, for sync_full tasks. */
  syncScope?: ServiceSyncScope;
  /** `--task-concurrency` (default 3). */
  taskConcurrency?: number;
  /** `--health-check`: serve /live, /ready, /health (default port 8081 on 127.0.0.1). */
  health?: { port?: number; bindAddress?: string };
  /** host[:port] of the platform; default BATON_C1_API_HOST, else the client id's host (port 443). */
  apiHost?: string;
  /** Extra CA certificates (PEM) to trust besides the system's and NODE_EXTRA_CA_CERTS. */
  extraCaCertificates?: string | Buffer | (string | Buffer)[];
  /** How long running tasks may take to finish after shutdown begins (default 30 s). */
  shutdownGraceMs?: number;
  /** After the grace period, how long cancelled tasks have to report their result (default 5 s). */
  finalReportMs?: number;
  /** Lower clamp of next_poll / next_heartbeat (default 1 s; tests lower it). */
  minIntervalMs?: number;
  /** Retry waits for platform calls (default 1 s → 5 min, jittered). */
  backoff?: BackoffPolicy;
  /** Upload chunk size (default 512 KiB; tests lower it to exercise chunking). */
  uploadChunkBytes?: number;
  /** Deadline of one unary platform call (default 30 s). */
  callTimeoutMs?: number;
  /** Longest gRPC reconnect backoff while the platform is down (default 30 s). */
  maxReconnectBackoffMs?: number;
  /** Called once the health server listens (its port) and the platform address is known. */
  onStarted?: (info: { hostId: string; endpoint: PlatformEndpoint; healthPort?: number }) => void;
}

export interface ServiceSummary {
  hostId: string;
  tasksStarted: number;
  /** Tasks whose FinishTask the platform accepted. */
  tasksReported: number;
  /** Tasks whose result could not be reported before shutdown. */
  tasksUnreported: number;
}

/**
 * Checks --client-id, --client-secret and BATON_C1_API_HOST without contacting anything; throws a
 * ClientCredentialsError (a ConfigError) naming the problem. runService does the same first.
 */
export function checkServiceCredentials(clientId: string, clientSecret: string, apiHost?: string): PlatformEndpoint {
  const id = parseClientId(clientId);
  parseClientSecret(clientSecret);
  return platformEndpoint(id, apiHost ?? process.env.BATON_C1_API_HOST);
}

export async function runService(options: RunServiceOptions): Promise<ServiceSummary> {
  const clientId = parseClientId(options.clientId);
  const secret = parseClientSecret(options.clientSecret);
  const endpoint = platformEndpoint(clientId, options.apiHost ?? process.env.BATON_C1_API_HOST);
  checkWritableDir(options.tempDir ?? tmpdir());
  const ca = trustedCaCertificates(options.extraCaCertificates);
  const userAgent = `${options.buildInfo.package}/${options.buildInfo.packageVersion} (node ${process.version})`;
  const tokens = new PlatformTokenSource({ clientId, secret, endpoint, ca, userAgent });
  const client = createPlatformClient({
    endpoint,
    tokens,
    ca,
    userAgent,
    callTimeoutMs: options.callTimeoutMs,
    maxReconnectBackoffMs: options.maxReconnectBackoffMs,
    maxReceiveBytes: options.maxReceiveBytes,
  });
  const service = new Service(options, client, endpoint);
  try {
    return await service.run();
  } finally {
    client.close();
    await tokens.close();
  }
}

/** next_poll / next_heartbeat → ms: 0 or absent means 30 s; clamped to [min, 5 min]. */
export function clampInterval(d: Duration | undefined, minMs = 1000, maxMs = 5 * 60_000, defaultMs = 30_000): number {
  const ms = d ? Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6) : 0;
  return Math.min(maxMs, Math.max(minMs, ms > 0 ? ms : defaultMs));
}

/** Resolves true when `promise` settles within `ms`, false otherwise; never leaves a timer behind. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  try {
    return await Promise.race([promise.then(() => true, () => true), sleep(ms, timer.signal).then(() => false)]);
  } finally {
    timer.abort();
  }
}

const quietly = (p: Promise<unknown>) => p.then(() => {}, () => {});

const errorText = (err: unknown) => redactText(err instanceof Error ? err.message : String(err));

const ageText = (ms: number) =>
  ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms} ms`;

/** Field numbers of a task this build does not know (a newer task type), for the log. */
const unknownFieldNumbers = (task: Task) => (task.$unknown ?? []).map((f) => f.no);

/** Codes after which repeating FinishTask cannot help. */
const FINAL_FINISH_CODES = new Set<number>([Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.FAILED_PRECONDITION, Code.UNIMPLEMENTED, Code.OUT_OF_RANGE]);

type FinishRequest = MessageInitShape<typeof BatonServiceFinishTaskRequestSchema>;

interface Heartbeat {
  cancelledByPlatform(): boolean;
  /** From now on failed heartbeats never abort the task (they are retried with backoff). */
  tolerateFailures(): void;
  stop(): Promise<void>;
}

class Service {
  readonly #o: RunServiceOptions;
  readonly #client: PlatformClient;
  readonly #endpoint: PlatformEndpoint;
  readonly #log: Logger;
  readonly #hostId: string;
  readonly #stop: AbortSignal;
  readonly #stopped: Promise<void>;
  /** Aborted when the grace period ends: running tasks are cancelled. */
  readonly #workDeadline = new AbortController();
  /** Aborted when cancelled tasks had their chance to report: FinishTask retries end. */
  readonly #reportDeadline = new AbortController();
  readonly #running = new Map<string, Promise<void>>();
  /** Tasks of #running whose sync is done and only waits for the platform: they take no concurrency slot. */
  readonly #keeping = new Set<string>();
  /** Resolved (and renewed) when a running task moves to #keeping, so that a full poll loop polls again. */
  #slotFreed = Promise.withResolvers<void>();
  readonly #kept: KeptUploads | undefined;
  /** Whether the last platform call failed; when one answers after that, waiting kept uploads try at once. */
  #platformFailing = false;
  #platformBack = Promise.withResolvers<void>();
  readonly #minMs: number;
  readonly #backoff: BackoffPolicy;
  #ready = false;
  #started = 0;
  #reported = 0;
  #unreported = 0;
  #lastPollAt: number | undefined;

  constructor(o: RunServiceOptions, client: PlatformClient, endpoint: PlatformEndpoint) {
    this.#o = o;
    this.#client = client;
    this.#endpoint = endpoint;
    this.#log = o.logger;
    this.#hostId = o.hostId?.trim() || defaultHostId();
    this.#stop = o.signal;
    this.#stopped = new Promise((resolve) => {
      if (o.signal.aborted) resolve();
      else o.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    this.#minMs = o.minIntervalMs ?? 1000;
    this.#backoff = o.backoff ?? PLATFORM_BACKOFF;
    if (o.keptUploads !== false) {
      this.#kept = new KeptUploads(
        {
          dir: o.keptUploads?.dir ?? join(o.tempDir ?? tmpdir(), KEPT_UPLOADS_DIR_NAME),
          maxAgeMs: o.keptUploads?.maxAgeMs ?? KEPT_UPLOAD_MAX_AGE_MS,
          maxTotalBytes: o.keptUploads?.maxTotalBytes ?? KEPT_UPLOADS_MAX_TOTAL_BYTES,
          minFreeBytes: o.keptUploads?.minFreeBytes ?? KEPT_UPLOADS_MIN_FREE_BYTES,
        },
        this.#log,
      );
    }
  }

  /** Every platform call reports here whether it was answered. */
  #platformAnswered(answered: boolean): void {
    if (answered && this.#platformFailing) {
      this.#platformBack.resolve();
      this.#platformBack = Promise.withResolvers<void>();
    }
    this.#platformFailing = !answered;
  }

  async run(): Promise<ServiceSummary> {
    let health: HealthServer | undefined;
    if (this.#o.health) {
      health = await startHealthServer({
        port: this.#o.health.port ?? DEFAULT_HEALTH_PORT,
        bindAddress: this.#o.health.bindAddress ?? DEFAULT_HEALTH_BIND_ADDRESS,
        status: () => ({
          ready: this.#ready,
          stopping: this.#stop.aborted,
          runningTasks: this.#running.size,
          finishedTasks: this.#reported,
          lastPollAt: this.#lastPollAt,
        }),
      });
      this.#log.info({ port: health.port }, "health checks served on /live, /ready and /health");
    }
    try {
      this.#o.onStarted?.({ hostId: this.#hostId, endpoint: this.#endpoint, healthPort: health?.port });
      this.#log.info({ platform: this.#endpoint.authority, hostId: this.#hostId }, "service mode: connecting to the platform");
      if (await this.#helloUntilAnswered()) {
        this.#ready = true;
        await this.#resumeKeptUploads();
        await this.#pollUntilStopped();
      }
      await this.#shutdown();
    } finally {
      await health?.close();
    }
    return { hostId: this.#hostId, tasksStarted: this.#started, tasksReported: this.#reported, tasksUnreported: this.#unreported };
  }

  // ---- platform conversation ----------------------------------------------------------------------------

  async #hello(taskId: string, signal: AbortSignal): Promise<void> {
    const { metadata } = await this.#o.connector.getMetadata({}, { signal });
    await this.#client.hello(
      {
        hostId: this.#hostId,
        taskId,
        buildInfo: buildInfoMessage(this.#o.buildInfo),
        osInfo: osInfoMessage(),
        connectorMetadata: metadata,
      },
      { signal },
    );
  }

  /** True once the platform answered Hello; false when shutdown came first. */
  async #helloUntilAnswered(): Promise<boolean> {
    for (let attempt = 0; !this.#stop.aborted; attempt++) {
      try {
        await this.#hello("", this.#stop);
        this.#log.info("the platform answered Hello; polling for tasks");
        return true;
      } catch (err) {
        if (this.#stop.aborted) return false;
        await quietly(sleep(this.#retryLog(err, attempt, "Hello failed"), this.#stop));
      }
    }
    return false;
  }

  #retryLog(err: unknown, attempt: number, what: string): number {
    const delayMs = backoffDelay(attempt, this.#backoff);
    const refused = err instanceof ConnectorError && err.code === Code.UNAUTHENTICATED;
    this.#log[refused ? "error" : "warn"]({ err: errorText(err), attempt: attempt + 1, delayMs }, `${what}; trying again`);
    return delayMs;
  }

  async #pollUntilStopped(): Promise<void> {
    const concurrency = Math.max(1, this.#o.taskConcurrency ?? DEFAULT_TASK_CONCURRENCY);
    let failures = 0;
    while (!this.#stop.aborted) {
      if (this.#running.size - this.#keeping.size >= concurrency) {
        await Promise.race([...this.#running.values(), this.#stopped, this.#slotFreed.promise]);
        continue;
      }
      let next;
      try {
        next = await this.#client.getTask({ hostId: this.#hostId }, { signal: this.#stop });
        failures = 0;
        this.#lastPollAt = Date.now();
        this.#platformAnswered(true);
      } catch (err) {
        if (this.#stop.aborted) break;
        this.#platformAnswered(false);
        await quietly(sleep(this.#getTaskFailed(err, failures++), this.#stop));
        continue;
      }
      const task = next.task;
      // A task with no type and no id is an empty answer; one with an id but a type this build does not know
      // (or none at all) is a task, and is finished as unsupported.
      if (task && task.taskType.case !== "none" && (task.taskType.case !== undefined || task.id)) {
        if (!task.id) this.#log.warn({ kind: taskKindName(task.taskType.case) }, "ignoring a task without an id: it cannot be finished");
        else if (this.#running.has(task.id)) this.#log.debug({ taskId: task.id }, "task already running");
        else this.#start(task, clampInterval(next.nextHeartbeat, this.#minMs), next.undecodable);
      }
      await quietly(sleep(clampInterval(next.nextPoll, this.#minMs), this.#stop));
    }
  }

  /** Logs a failed poll (an oversized task gets its own error) and returns the wait before the next one. */
  #getTaskFailed(err: unknown, attempt: number): number {
    const over = oversizedMessage(err);
    if (!over) return this.#retryLog(err, attempt, "GetTask failed");
    const delayMs = backoffDelay(attempt, this.#backoff);
    const limit = this.#o.maxReceiveBytes ?? PLATFORM_MAX_RECEIVE_BYTES;
    this.#log.error(
      { taskBytes: over.bytes, limitBytes: over.limit ?? limit, attempt: attempt + 1, delayMs },
      `GetTask failed: the platform sent a task of ${over.bytes} bytes, above the ${over.limit ?? limit}-byte limit on what this ` +
        "connector receives; it cannot be read, so it cannot be run or finished either (the platform has to drop or shrink it); " +
        "polling again after a backoff",
    );
    return delayMs;
  }

  async #shutdown(): Promise<void> {
    if (this.#running.size === 0) return;
    const grace = this.#o.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
    this.#log.info({ runningTasks: this.#running.size, graceMs: grace }, "shutting down: letting running tasks finish");
    const all = Promise.allSettled(this.#running.values());
    if (await settlesWithin(all, grace)) return;
    this.#log.warn({ runningTasks: this.#running.size }, "grace period over: cancelling the tasks still running");
    this.#workDeadline.abort(new ConnectorError(Code.CANCELLED, "the connector shut down before the task finished"));
    if (await settlesWithin(all, this.#o.finalReportMs ?? 5000)) return;
    this.#reportDeadline.abort();
    await settlesWithin(all, 2000);
  }

  // ---- tasks ------------------------------------------------------------------------------------------------

  #start(task: Task, heartbeatMs: number, undecodable?: PolledTask["undecodable"]): void {
    this.#started++;
    const run = this.#runTask(task, heartbeatMs, undecodable)
      .catch((err: unknown) => this.#log.error({ taskId: task.id, err: errorText(err) }, "task runner failed"))
      .finally(() => this.#running.delete(task.id));
    this.#running.set(task.id, run);
  }

  async #runTask(task: Task, heartbeatMs: number, undecodable?: PolledTask["undecodable"]): Promise<void> {
    const kind = task.taskType.case;
    const log = this.#log.child({ taskId: task.id, task: undecodable?.kind ?? taskKindName(kind) });
    const refusal = undecodable
      ? malformedTask(`malformed ${undecodable.kind?.replaceAll("_", " ") ?? "task"} task: its bytes do not decode (${undecodable.reason})`)
      : refuseTask(task);
    if (refusal) {
      // No heartbeat and no connector call: finished at once, as Go finishes it.
      log.warn({ code: refusal.code, err: refusal.message, nonRetryable: refusal.nonRetryable, fieldNumbers: unknownFieldNumbers(task) }, "task cannot be run");
      await this.#finish(this.#errorRequest(task.id, refusal, refusal.nonRetryable), log);
      return;
    }
    log.info("task started");
    const cancel = new AbortController();
    const signal = AbortSignal.any([cancel.signal, this.#workDeadline.signal]);
    const heartbeat = this.#heartbeat(task.id, heartbeatMs, cancel, log);
    // Undefined after a kept sync's wait ended with shutdown: the file stays for the next start, nothing is reported.
    let request: FinishRequest | undefined;
    try {
      const response = await executeTask({
        task,
        rpc: abortableRpc(this.#o.connector, signal),
        client: this.#client,
        hostId: this.#hostId,
        signal,
        logger: log,
        tempDir: this.#o.tempDir ?? tmpdir(),
        backoff: this.#backoff,
        uploadChunkBytes: this.#o.uploadChunkBytes,
        syncScope: this.#o.syncScope,
        hello: (taskId, s) => this.#hello(taskId, s),
        keepUpload: this.#kept ? (file, err) => this.#keepUpload(task.id, file, err, log) : undefined,
      });
      request = { hostId: this.#hostId, taskId: task.id, finalState: { case: "success", value: { response, annotations: successAnnotations(kind, response) } } };
      log.info("task succeeded");
    } catch (thrown) {
      if (thrown instanceof UploadKept) {
        request = await this.#deliverKept(thrown.kept, heartbeat, signal, log);
        return;
      }
      const err = ConnectorError.from(signal.aborted ? signal.reason : thrown);
      // Cancelled by the platform: final. Interrupted (shutdown, lost contact): another attempt may succeed, even
      // for provisioning (grants and revokes are idempotent). Otherwise provisioning failures are final.
      const nonRetryable = heartbeat.cancelledByPlatform() ||
        (!signal.aborted && (err instanceof TaskFailure
          ? err.nonRetryable
          : (kind !== undefined && PROVISIONING_KINDS.has(kind)) || err.code === Code.UNIMPLEMENTED));
      log.warn({ code: err.code, err: errorText(err), nonRetryable }, "task failed");
      request = this.#errorRequest(task.id, err, nonRetryable);
    } finally {
      await heartbeat.stop();
      if (request) await this.#finish(request, log);
    }
  }

  #errorRequest(taskId: string, err: ConnectorError, nonRetryable: boolean): FinishRequest {
    return {
      hostId: this.#hostId,
      taskId,
      status: { code: err.code, message: errorText(err), details: err.details },
      finalState: { case: "error", value: { nonRetryable } },
    };
  }

  #heartbeat(taskId: string, firstIntervalMs: number, cancel: AbortController, log: Logger): Heartbeat {
    const stop = new AbortController();
    const limit = HEARTBEAT_FAILURE_LIMIT;
    let cancelled = false;
    // Once a finished sync only waits for the platform, an outage is what it waits out, not a reason to abort.
    let tolerant = false;
    const loop = (async () => {
      let interval = firstIntervalMs;
      let failures = 0;
      for (;;) {
        try {
          await sleep(interval, stop.signal);
        } catch {
          return;
        }
        try {
          const res = await this.#client.heartbeat({ hostId: this.#hostId, taskId }, { signal: stop.signal });
          this.#platformAnswered(true);
          failures = 0;
          interval = clampInterval(res.nextHeartbeat, this.#minMs);
          if (res.cancelled || res.cancelledTaskIds.includes(taskId)) {
            cancelled = true;
            log.info("the platform cancelled the task");
            cancel.abort(new ConnectorError(Code.CANCELLED, "the platform cancelled the task"));
            return;
          }
        } catch (err) {
          if (stop.signal.aborted) return;
          this.#platformAnswered(false);
          failures++;
          log.warn({ err: errorText(err), failures }, "heartbeat failed");
          if (tolerant) {
            interval = Math.max(interval, backoffDelay(failures - 1, this.#backoff));
          } else if (failures >= limit) {
            cancel.abort(new ConnectorError(Code.UNAVAILABLE, `lost contact with the platform: ${limit} heartbeats in a row failed`));
            return;
          }
        }
      }
    })();
    return {
      cancelledByPlatform: () => cancelled,
      tolerateFailures: () => {
        tolerant = true;
      },
      stop: async () => {
        stop.abort();
        await loop;
      },
    };
  }

  // ---- finished syncs kept while the platform is away -------------------------------------------------

  async #keepUpload(taskId: string, file: string, uploadError: unknown, log: Logger): Promise<KeptUpload | undefined> {
    const kept = await this.#kept!.keep(file, this.#hostId, taskId);
    if ("refused" in kept) {
      log.error({ err: errorText(uploadError), reason: kept.refused }, "the sync finished but its upload failed, and it cannot be kept; reporting a retryable failure");
      return undefined;
    }
    log.warn(
      { err: errorText(uploadError), file: kept.file, bytes: kept.bytes, keptUntil: new Date(this.#kept!.expiresAt(kept)).toISOString() },
      "the sync finished but the platform did not take its upload; keeping it to upload when the platform is back",
    );
    return kept;
  }

  /**
   * Uploads a kept sync until the platform takes it, then returns the task's FinishTask. Waits with backoff, and
   * tries at once when the platform answers again after failing. Returns undefined when the service stops first:
   * the file stays for the next start.
   */
  async #deliverKept(
    kept: KeptUpload,
    heartbeat: Heartbeat,
    signal: AbortSignal,
    log: Logger,
    tryAtOnce = false,
  ): Promise<FinishRequest | undefined> {
    const store = this.#kept!;
    heartbeat.tolerateFailures();
    this.#keeping.add(kept.taskId);
    this.#slotFreed.resolve();
    this.#slotFreed = Promise.withResolvers<void>();
    try {
      for (let attempt = 0; ; attempt++) {
        if (!(tryAtOnce && attempt === 0)) {
          await this.#retryWait(Math.min(backoffDelay(attempt, this.#backoff), Math.max(0, store.expiresAt(kept) - Date.now())), signal);
        }
        if (heartbeat.cancelledByPlatform()) {
          await store.remove(kept);
          log.info("the platform cancelled the task; deleted its kept sync");
          return this.#errorRequest(kept.taskId, new ConnectorError(Code.CANCELLED, "the platform cancelled the task"), true);
        }
        if (this.#stop.aborted || signal.aborted) {
          log.warn({ file: kept.file }, "shutting down: the finished sync stays kept and is uploaded after the next start");
          return undefined;
        }
        if (Date.now() >= store.expiresAt(kept)) {
          await store.remove(kept);
          const message = `the sync finished at ${new Date(kept.keptAt).toISOString()} but the platform did not take its upload within ` +
            `${ageText(store.maxAgeMs)}; the kept file was deleted, run the sync again`;
          log.error(message);
          return this.#errorRequest(kept.taskId, new ConnectorError(Code.UNAVAILABLE, message), false);
        }
        try {
          await uploadSyncFile({
            client: this.#client,
            hostId: this.#hostId,
            taskId: kept.taskId,
            file: kept.file,
            signal,
            logger: log,
            backoff: this.#backoff,
            chunkBytes: this.#o.uploadChunkBytes,
            attempts: 1,
          });
        } catch (err) {
          if (signal.aborted) continue;
          if (!uploadWorthKeeping(err)) {
            await store.remove(kept);
            const e = ConnectorError.from(err);
            log.error({ code: e.code, err: errorText(e) }, "the platform refused the kept sync's upload; deleted it");
            return this.#errorRequest(kept.taskId, e, false);
          }
          log.warn({ err: errorText(err), attempt: attempt + 1 }, "the kept sync's upload failed; trying again later");
          continue;
        }
        await store.remove(kept);
        log.info({ keptForMs: Date.now() - kept.keptAt }, "the kept sync was uploaded");
        return { hostId: this.#hostId, taskId: kept.taskId, finalState: { case: "success", value: {} } };
      }
    } finally {
      this.#keeping.delete(kept.taskId);
    }
  }

  /** Sleeps `ms`, less when the platform answers again after failing or when `signal` or shutdown aborts. */
  async #retryWait(ms: number, signal: AbortSignal): Promise<void> {
    const timer = new AbortController();
    try {
      await Promise.race([quietly(sleep(ms, AbortSignal.any([timer.signal, signal, this.#stop]))), this.#platformBack.promise]);
    } finally {
      timer.abort();
    }
  }

  /** Syncs kept by an earlier run of this host: each becomes a running task again, so a re-sent task is not redone. */
  async #resumeKeptUploads(): Promise<void> {
    if (!this.#kept) return;
    let kept: KeptUpload[];
    try {
      kept = await this.#kept.list(this.#hostId);
    } catch (err) {
      this.#log.error({ dir: this.#kept.dir, err: errorText(err) }, "cannot read the kept syncs; they are not uploaded");
      return;
    }
    for (const k of kept) {
      if (this.#running.has(k.taskId)) continue;
      this.#started++;
      const log = this.#log.child({ taskId: k.taskId, task: taskKindName("syncFull") });
      log.info({ file: k.file, bytes: k.bytes, keptAt: new Date(k.keptAt).toISOString() }, "uploading a sync kept by an earlier run");
      const run = (async () => {
        const cancel = new AbortController();
        const signal = AbortSignal.any([cancel.signal, this.#workDeadline.signal]);
        const heartbeat = this.#heartbeat(k.taskId, this.#minMs, cancel, log);
        let finish: FinishRequest | undefined;
        try {
          finish = await this.#deliverKept(k, heartbeat, signal, log, true);
        } finally {
          await heartbeat.stop();
        }
        if (finish) await this.#finish(finish, log);
      })()
        .catch((err: unknown) => log.error({ err: errorText(err) }, "task runner failed"))
        .finally(() => this.#running.delete(k.taskId));
      this.#running.set(k.taskId, run);
    }
  }

  /** FinishTask until the platform takes it (or the shutdown deadline passes): a result is never dropped. */
  async #finish(request: FinishRequest, log: Logger): Promise<void> {
    const signal = this.#reportDeadline.signal;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#client.finishTask(request, { signal });
        this.#reported++;
        log.info("task result reported");
        return;
      } catch (err) {
        if (signal.aborted) {
          this.#unreported++;
          log.error("shutting down before the platform took the task's result");
          return;
        }
        if (err instanceof ConnectorError && err.code === Code.ALREADY_EXISTS) {
          this.#reported++;
          log.info("the platform already has the task's result");
          return;
        }
        if (err instanceof ConnectorError && FINAL_FINISH_CODES.has(err.code)) {
          this.#unreported++;
          log.error({ code: err.code, err: errorText(err) }, "the platform rejected the task's result; giving up on it");
          return;
        }
        const delayMs = this.#retryLog(err, attempt, "FinishTask failed");
        await quietly(sleep(delayMs, signal));
      }
    }
  }
}
