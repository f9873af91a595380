/** Helpers for service-mode tests: a runner against the test platform, captured logs, an observable connector. */
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { createLogger } from "../../src/log/index.ts";
import { connectorServices, type ConnectorRpc } from "../../src/connector/rpc.ts";
import { createConnectorService } from "../../src/connector/service.ts";
import type { Connector } from "../../src/connector/types.ts";
import { runService, type RunServiceOptions, type ServiceSummary } from "../../src/service/runner.ts";
import type { TestPlatform } from "../platform/index.ts";
import { SyncStore } from "../../src/store/store.ts";
import { c1zRows } from "../helpers/c1z-rows.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

export interface CapturedLogs {
  logger: Logger;
  lines: string[];
  /** Parsed JSON lines. */
  entries(): Record<string, unknown>[];
  text(): string;
}

export function capturedLogger(): CapturedLogs {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", format: "json", destination: { write: (l: string) => lines.push(l) } });
  return {
    logger,
    lines,
    entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => lines.join(""),
  };
}

/**
 * A ConnectorRpc that counts calls by method and can hold them: while `hold` is set, calls of the methods in
 * `holdMethods` (all when empty) wait for it. `firstCall` resolves at the first call of each method.
 */
export interface ObservedRpc {
  rpc: ConnectorRpc;
  calls: Map<string, number>;
  total(): number;
  hold: Promise<void> | undefined;
  holdMethods: string[];
  /** Resolves with the method name once a call is being held. */
  held: PromiseWithResolvers<string>;
}

export function observedRpc(inner: ConnectorRpc): ObservedRpc {
  const observed: ObservedRpc = {
    rpc: {} as ConnectorRpc,
    calls: new Map(),
    total: () => [...observed.calls.values()].reduce((a, b) => a + b, 0),
    hold: undefined,
    holdMethods: [],
    held: Promise.withResolvers<string>(),
  };
  const out: Record<string, unknown> = {};
  for (const service of connectorServices) {
    for (const method of service.methods) {
      const name = method.localName;
      const fn = (inner as unknown as Record<string, (req: unknown, opts?: unknown) => Promise<unknown>>)[name];
      out[name] = async (req: unknown, opts?: unknown) => {
        observed.calls.set(name, (observed.calls.get(name) ?? 0) + 1);
        if (observed.hold && (observed.holdMethods.length === 0 || observed.holdMethods.includes(name))) {
          observed.held.resolve(name);
          await observed.hold;
        }
        return fn.call(inner, req, opts);
      };
    }
  }
  observed.rpc = out as unknown as ConnectorRpc;
  return observed;
}

export function inProcess(connector: Connector, provisioning = false): ConnectorRpc {
  return createConnectorService(connector, { logger: createLogger({ level: "error", destination: { write: () => {} } }), provisioning });
}

export interface RunningService {
  done: Promise<ServiceSummary>;
  logs: CapturedLogs;
  tempDir: string;
  healthPort: Promise<number | undefined>;
  /** Aborts (SIGTERM) and waits for runService to return. */
  stop(): Promise<ServiceSummary>;
  controller: AbortController;
}

/** Starts runService against `platform` with test-friendly intervals; the test platform's CA is passed explicitly. */
export function startService(
  platform: TestPlatform,
  connector: ConnectorRpc,
  overrides: Partial<RunServiceOptions> = {},
): RunningService {
  const logs = capturedLogger();
  const controller = new AbortController();
  const { dir: tempDir, cleanup: removeTempDir } = makeTempDir("service-test-");
  const health = Promise.withResolvers<number | undefined>();
  const done = runService({
    connector,
    clientId: platform.clientId,
    clientSecret: platform.clientSecret,
    logger: logs.logger,
    signal: controller.signal,
    buildInfo: { package: "baton-test", packageVersion: "9.9.9" },
    hostId: "test-host",
    tempDir,
    extraCaCertificates: platform.caPem,
    minIntervalMs: 10,
    backoff: { baseMs: 20, maxMs: 200 },
    maxReconnectBackoffMs: 200,
    shutdownGraceMs: 10_000,
    ...overrides,
    onStarted: (info) => {
      health.resolve(info.healthPort);
      overrides.onStarted?.(info);
    },
  });
  done.catch(() => health.resolve(undefined));
  return {
    done,
    logs,
    tempDir,
    healthPort: health.promise,
    controller,
    stop: async () => {
      controller.abort();
      try {
        return await done;
      } finally {
        removeTempDir();
      }
    },
  };
}

/** Entries of a directory (to check that a task's temporary files are gone). */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Polls `predicate` every 10 ms until it holds (for state the platform cannot see, e.g. log lines during an outage). */
export async function eventually<T>(predicate: () => T | undefined | false, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Opens the uploaded c1z of a task and returns its rows (kind|id|...) and counts. */
export async function uploadedSync(p: TestPlatform, taskId: string) {
  const upload = p.uploads.find((u) => u.taskId === taskId);
  if (!upload) throw new Error(`no upload arrived for task ${taskId}`);
  if (!upload.checksumOk) throw new Error(`the upload of task ${taskId} has a wrong checksum`);
  const { dir, cleanup } = makeTempDir("uploaded-");
  try {
    const file = join(dir, "uploaded.c1z");
    writeFileSync(file, upload.bytes);
    const { rows } = await c1zRows(file);
    const store = await SyncStore.openReadOnly(file);
    try {
      const run = store.latestFinishedSync()!;
      return { upload, rows, counts: store.counts(run.syncId) };
    } finally {
      store.close();
    }
  } finally {
    cleanup();
  }
}
