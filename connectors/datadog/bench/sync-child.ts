/**
 * One benchmark sync in its own process, so that its peak RSS is the connector's alone (the simulator runs in
 * the parent). argv: <baseUrl> <file> <concurrency>; keys come in env (BENCH_API_KEY, BENCH_APP_KEY).
 * Prints one JSON line: requests, retries, 429s seen by the client, wall time, peak RSS, stored counts.
 */
import pino from "pino";
import { createConnectorService } from "../../../src/index.ts";
import { runSync } from "../../../src/index.ts";
import { buildDatadog } from "../build.ts";
import { datadogConfig } from "../config.ts";

const [baseUrl, file, concurrency] = process.argv.slice(2);
const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? "warn" }, pino.destination(2));
const config = datadogConfig.schema.parse({
  apiKey: process.env.BENCH_API_KEY,
  appKey: process.env.BENCH_APP_KEY,
  baseUrl,
  site: "US1",
  syncSchedules: true,
  syncSecrets: true,
  delegatedAuthProvider: "aws",
});
const started = performance.now();
const built = await buildDatadog(config, logger, { concurrency: Number(concurrency) });
try {
  const rpc = createConnectorService(built.connector, { logger, provisioning: false });
  const result = await runSync({ connector: rpc, file, logger, concurrency: 4 * Number(concurrency) });
  const wallSeconds = (performance.now() - started) / 1000;
  process.stdout.write(
    JSON.stringify({
      wallSeconds,
      requests: built.metrics.requests,
      retries: built.metrics.retries,
      clientHttp429: built.metrics.http429,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      cpuSeconds: (process.resourceUsage().userCPUTime + process.resourceUsage().systemCPUTime) / 1e6,
      stats: result.stats,
    }) + "\n",
  );
} finally {
  await built.close();
}
