/**
 * Shared pieces of the end-to-end tests: a small simulated Datadog org, the real connector built from config the
 * way the CLI builds it, and reading a c1z that arrived as bytes.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { createConnectorService } from "../../src/connector/service.ts";
import type { ConnectorRpc } from "../../src/connector/rpc.ts";
import { SyncStore } from "../../src/store/store.ts";
import { buildDatadog, type BuiltDatadog } from "../../connectors/datadog/build.ts";
import { datadogConfig } from "../../connectors/datadog/config.ts";
import type { OrgCounts, Simulator, SimUser } from "../../connectors/datadog/simulator/index.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

/** Small enough for a quick sync, large enough that every listing has content and users span a few roles. */
export const E2E_ORG: Partial<OrgCounts> = { users: 40, teams: 5, roles: 5, schedules: 3, apiKeys: 5, appKeys: 4, serviceAccounts: 3 };
export const E2E_SEED = 11;

/** The connector exactly as the CLI builds it (config parsed by the declared schema), aimed at the simulator. */
export async function datadogFor(sim: Simulator, logger: Logger, provisioning: boolean): Promise<{ built: BuiltDatadog; rpc: ConnectorRpc }> {
  const config = datadogConfig.schema.parse({
    apiKey: sim.apiKey,
    appKey: sim.appKey,
    baseUrl: sim.baseUrl,
    site: "US1",
    syncSchedules: true,
    syncSecrets: true,
    delegatedAuthProvider: "aws",
  });
  const built = await buildDatadog(config, logger);
  return { built, rpc: createConnectorService(built.connector, { logger, provisioning }) };
}

export function activeHumans(sim: Simulator): SimUser[] {
  return sim.org.users.values().filter((u) => !u.serviceAccount && u.status === "Active" && !u.disabled);
}

/** Opens c1z bytes (an upload) read-only and runs `fn` on its newest finished sync. */
export async function withC1zBytes<T>(bytes: Uint8Array, fn: (store: SyncStore, syncId: string) => T): Promise<T> {
  const { dir, cleanup } = makeTempDir("e2e-c1z-");
  try {
    const file = join(dir, "upload.c1z");
    writeFileSync(file, bytes);
    const store = await SyncStore.openReadOnly(file);
    try {
      const run = store.latestFinishedSync();
      if (!run) throw new Error("the c1z has no finished sync");
      return fn(store, run.syncId);
    } finally {
      store.close();
    }
  } finally {
    cleanup();
  }
}
