/**
 * The Datadog connector served over gRPC on loopback, talking to a real simulator through the contract
 * recording proxy: tests call it with the generated-proto client, sync through it, and check every request it
 * made against Datadog's spec. Used by the security-insight and SSO-mapping tests; `servedOverGrpc` alone by the
 * action and issue-credential tests.
 */
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { createConnectorService } from "../../src/connector/service.ts";
import type { ConnectorRpc } from "../../src/connector/rpc.ts";
import type { Connector } from "../../src/connector/types.ts";
import { serveConnector } from "../../src/grpc/connector-server.ts";
import { connectorClient } from "../../src/grpc/connector-client.ts";
import { runSync, type SyncResult } from "../../src/sync/engine.ts";
import { DatadogClient, StaticKeyProvider } from "../../connectors/datadog/client/index.ts";
import { datadogConnector, type DatadogConnectorOptions } from "../../connectors/datadog/connector.ts";
import type { Simulator } from "../../connectors/datadog/simulator/index.ts";
import type { Logger } from "pino";
import { checkExchanges, type ContractReport } from "../contract/check-exchanges.ts";
import { loadSpec } from "../contract/openapi.ts";
import { startRecordingProxy, type RecordingProxy } from "../contract/recorder.ts";
import { captureLogs, type CapturedLogs } from "./harness.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

/** `connector` served over gRPC on loopback (provisioning on or off) and a generated-proto client of it. */
export async function servedOverGrpc(
  connector: Connector,
  logger: Logger,
  provisioning: boolean,
): Promise<{ rpc: ConnectorRpc; close(): Promise<void> }> {
  const service = createConnectorService(connector, { logger, provisioning });
  const server = await serveConnector(service, { address: "127.0.0.1:0", credentials: grpc.ServerCredentials.createInsecure(), logger });
  const client = connectorClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  return {
    rpc: client,
    async close() {
      client.close();
      await server.close();
    },
  };
}

export interface ServedDatadog {
  rpc: ConnectorRpc;
  logs: CapturedLogs;
  proxy: RecordingProxy;
  sync(name: string): Promise<SyncResult & { file: string }>;
  /** The contract check of everything sent since the last call (then forgotten). */
  contract(): Promise<ContractReport>;
  close(): Promise<void>;
}

export async function serveDatadog(
  sim: Simulator,
  options: Omit<DatadogConnectorOptions, "client" | "logger" | "syncSchedules" | "syncSecrets"> & {
    syncSecrets?: boolean;
    provisioning?: boolean;
    /** Datadog page size (default 100): small sizes spread every listing over several pages. */
    pageSize?: number;
  },
): Promise<ServedDatadog> {
  const proxy = await startRecordingProxy(sim.baseUrl);
  const logs = captureLogs();
  const client = new DatadogClient({
    baseUrl: proxy.baseUrl,
    credentials: new StaticKeyProvider(sim.apiKey, sim.appKey),
    logger: logs.logger,
    pageSize: options.pageSize,
    http: { backoff: { baseMs: 5, maxMs: 50 }, proxy: { httpProxy: "", httpsProxy: "", noProxy: "" } },
  });
  const { provisioning, syncSecrets, pageSize: _pageSize, ...rest } = options;
  const connector = datadogConnector({ client, logger: logs.logger, syncSchedules: false, syncSecrets: syncSecrets ?? false, ...rest });
  const served = await servedOverGrpc(connector, logs.logger, provisioning ?? true);
  const rpc = served.rpc;
  const { dir, cleanup } = makeTempDir("datadog-served-");
  const spec = loadSpec();
  return {
    rpc,
    logs,
    proxy,
    async sync(name) {
      const file = join(dir, name);
      return { ...(await runSync({ connector: rpc, file, logger: logs.logger })), file };
    },
    async contract() {
      const report = checkExchanges(await spec, proxy.exchanges);
      proxy.clear();
      return report;
    },
    async close() {
      await served.close();
      await connector.close?.();
      await proxy.close();
      cleanup();
    },
  };
}
