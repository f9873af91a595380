/**
 * A Datadog connector wired to a real simulator on a loopback port, with every log line captured (tests check
 * that no secret ever reaches them), plus small helpers to sync into a temp dir and read the result back.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { zstdDecompressSync } from "node:zlib";
import pino, { type Logger } from "pino";
import { create } from "@bufbuild/protobuf";
import { JWK_PROVIDER } from "../../src/connector/encryption.ts";
import { EncryptionConfig_JWKPublicKeyConfigSchema, EncryptionConfigSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { createConnectorService } from "../../src/connector/service.ts";
import type { ConnectorRpc } from "../../src/connector/rpc.ts";
import type { Connector } from "../../src/connector/types.ts";
import { runSync, type SyncResult } from "../../src/sync/engine.ts";
import { SyncStore } from "../../src/store/store.ts";
import { DatadogClient, StaticKeyProvider } from "../../connectors/datadog/client/index.ts";
import { datadogConnector } from "../../connectors/datadog/connector.ts";
import { startSimulator, type OrgCounts, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

export const SMALL_ORG: Partial<OrgCounts> = { users: 60, teams: 8, roles: 6, schedules: 5, apiKeys: 10, appKeys: 8, serviceAccounts: 4 };
export const SITE_URL = "https://app.datadoghq.com";

export interface CapturedLogs {
  logger: Logger;
  lines: string[];
  text(): string;
}

export function captureLogs(): CapturedLogs {
  const lines: string[] = [];
  const logger = pino({ level: "trace" }, { write: (line: string) => void lines.push(line) });
  return { logger, lines, text: () => lines.join("") };
}

export interface Harness {
  sim: Simulator;
  client: DatadogClient;
  connector: Connector;
  rpc: ConnectorRpc;
  logs: CapturedLogs;
  dir: string;
  /** Syncs into a new file in `dir` and returns the result with the file's path. */
  sync(name?: string): Promise<SyncResult & { file: string }>;
  close(): Promise<void>;
}

export async function startHarness(
  options: {
    seed?: number;
    counts?: Partial<OrgCounts>;
    provisioning?: boolean;
    syncSchedules?: boolean;
    syncSecrets?: boolean;
    /** Datadog page size (default 100); small sizes make every listing span several pages. */
    pageSize?: number;
    rateLimit?: { limit: number; periodSeconds: number };
    maxRetries?: number;
    maxRateLimitRetries?: number;
  } = {},
): Promise<Harness> {
  const sim = await startSimulator({ seed: options.seed ?? 3, counts: options.counts ?? SMALL_ORG, rateLimit: options.rateLimit });
  const logs = captureLogs();
  const client = new DatadogClient({
    baseUrl: sim.baseUrl,
    credentials: new StaticKeyProvider(sim.apiKey, sim.appKey),
    logger: logs.logger,
    pageSize: options.pageSize,
    http: {
      backoff: { baseMs: 5, maxMs: 50 },
      proxy: { httpProxy: "", httpsProxy: "", noProxy: "" },
      maxRetries: options.maxRetries,
      maxRateLimitRetries: options.maxRateLimitRetries,
    },
  });
  const connector = datadogConnector({
    client,
    logger: logs.logger,
    syncSchedules: options.syncSchedules ?? true,
    syncSecrets: options.syncSecrets ?? true,
    siteUrl: SITE_URL,
  });
  const rpc = createConnectorService(connector, { logger: logs.logger, provisioning: options.provisioning ?? true });
  const { dir, cleanup } = makeTempDir("datadog-connector-");
  let n = 0;
  return {
    sim,
    client,
    connector,
    rpc,
    logs,
    dir,
    async sync(name) {
      const file = join(dir, name ?? `sync-${++n}.c1z`);
      const result = await runSync({ connector: rpc, file, logger: logs.logger });
      return { ...result, file };
    },
    async close() {
      await connector.close?.();
      await sim.close();
      cleanup();
    },
  };
}

/** Runs `fn` on the newest finished sync of a c1z. */
export async function readSync<T>(file: string, fn: (store: SyncStore, syncId: string) => T): Promise<T> {
  const store = await SyncStore.openReadOnly(file);
  try {
    const run = store.latestFinishedSync();
    if (!run) throw new Error(`${file} has no finished sync`);
    return fn(store, run.syncId);
  } finally {
    store.close();
  }
}

/** Ids of the principals holding `entitlementId` in the newest sync of `file`. */
export async function holders(file: string, entitlementId: string): Promise<string[]> {
  return readSync(file, (store, syncId) =>
    [...store.iterateGrants(syncId, { entitlementId })].map((g) => g.grant.principal!.id!.resource).sort(),
  );
}

/** The SQLite payload of a c1z (5-byte "C1ZF\0" header, then one zstd frame). */
export function c1zPayload(file: string): Buffer {
  const bytes = readFileSync(file);
  if (bytes.subarray(0, 5).toString("latin1") !== "C1ZF\0") throw new Error(`${file} is not a c1z`);
  return zstdDecompressSync(bytes.subarray(5));
}

/** A baton/jwk/v1 EncryptionConfig for a public JWK. */
export function jwkEncryptionConfig(publicJwk: object) {
  return create(EncryptionConfigSchema, {
    provider: JWK_PROVIDER,
    config: {
      case: "jwkPublicKeyConfig",
      value: create(EncryptionConfig_JWKPublicKeyConfigSchema, { pubKey: new TextEncoder().encode(JSON.stringify(publicJwk)) }),
    },
  });
}
