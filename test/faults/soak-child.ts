/**
 * The soak's service: `baton-datadog` service mode as its own process (the Datadog connector built exactly as the
 * CLI builds it, provisioning on), configured through the environment like a deployment, so that its memory and
 * file descriptors are measured clean. The parent asks for a measurement over IPC ("measure"); the child runs the
 * garbage collector first (node --expose-gc) and answers with its RSS, heap and open descriptors by kind.
 * SIGTERM shuts it down; it prints its summary as one JSON line and exits.
 * env: BATON_CLIENT_ID, BATON_CLIENT_SECRET, BATON_C1_API_HOST, NODE_EXTRA_CA_CERTS, SOAK_DATADOG (JSON: baseUrl,
 * apiKey, appKey), SOAK_TEMP_DIR.
 */
import { readdirSync, readlinkSync } from "node:fs";
import { createLogger } from "../../src/log/index.ts";
import { createConnectorService } from "../../src/connector/service.ts";
import { runService } from "../../src/service/runner.ts";
import { buildDatadog } from "../../connectors/datadog/build.ts";
import { datadogConfig } from "../../connectors/datadog/config.ts";

interface Measurement {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  fds: { total: number; files: number; sockets: number; pipes: number; other: number; paths: string[] };
}

function measure(): Measurement {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) gc?.();
  const fds = { total: 0, files: 0, sockets: 0, pipes: 0, other: 0, paths: [] as string[] };
  for (const fd of readdirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the descriptor readdir itself used, already closed
    }
    fds.total++;
    if (target.startsWith("socket:")) fds.sockets++;
    else if (target.startsWith("pipe:")) fds.pipes++;
    else if (target.startsWith("/")) {
      fds.files++;
      fds.paths.push(target);
    } else fds.other++;
  }
  const memory = process.memoryUsage();
  return { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, heapTotalBytes: memory.heapTotal, externalBytes: memory.external, fds };
}

const datadog = JSON.parse(process.env.SOAK_DATADOG ?? "{}") as { baseUrl: string; apiKey: string; appKey: string };
const logger = createLogger({ level: "info", format: "json", secrets: [datadog.apiKey, datadog.appKey] });
const controller = new AbortController();
process.once("SIGTERM", () => controller.abort());
process.on("message", (message) => {
  if (message === "measure") process.send?.({ measurement: measure() });
});

const config = datadogConfig.schema.parse({
  apiKey: datadog.apiKey,
  appKey: datadog.appKey,
  baseUrl: datadog.baseUrl,
  site: "US1",
  delegatedAuthProvider: "aws",
  syncSchedules: true,
  syncSecrets: true,
});
const built = await buildDatadog(config, logger);
try {
  const summary = await runService({
    connector: createConnectorService(built.connector, { logger, provisioning: true }),
    clientId: process.env.BATON_CLIENT_ID ?? "",
    clientSecret: process.env.BATON_CLIENT_SECRET ?? "",
    logger,
    signal: controller.signal,
    buildInfo: { package: "baton-datadog-soak", packageVersion: "0.0.0" },
    tempDir: process.env.SOAK_TEMP_DIR,
    minIntervalMs: 10,
    backoff: { baseMs: 20, maxMs: 200 },
  });
  process.stdout.write(JSON.stringify(summary) + "\n");
} finally {
  await built.close();
}
process.disconnect?.();
