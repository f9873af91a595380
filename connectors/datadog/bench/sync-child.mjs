/**
 * One benchmark sync in its own process, so that its peak RSS is the connector's alone (the simulator runs in
 * the parent). argv: <baseUrl> <file> <concurrency>; keys come in env (BENCH_API_KEY, BENCH_APP_KEY).
 * Prints one JSON line: requests, retries, 429s seen by the client, wall time, peak RSS, stored counts.
 *
 * Plain JavaScript running the compiled program in dist/ (`npm run bench` builds it first), as the CLI and the
 * image do: a TypeScript file here would load Node's type stripper, about 17 MB of RSS no user's sync carries.
 * Without dist/ it falls back to the sources (and says so on stderr).
 */
import { existsSync, writeFileSync } from "node:fs";
import pino from "pino";

const dist = new URL("../../../dist/", import.meta.url);
const compiled = existsSync(new URL("src/index.js", dist));
if (!compiled) process.stderr.write("bench: no dist/ (run npm run build): syncing from the TypeScript sources\n");
const module = (path) => (compiled ? new URL(path.replace(/\.ts$/, ".js"), dist) : new URL(`../../../${path}`, import.meta.url)).href;
// The launcher's V8 flags (bin/baton-datadog.js, which runs nothing when imported) as a one-shot CLI sync sets
// them: once the API client's modules have loaded (connectors/datadog/cli-sync.ts), before the rest loads.
const { launcherFlags } = await import("../../../bin/baton-datadog.js");
await import(module("src/api-client.ts"));
const v8 = await import("node:v8");
for (const flag of launcherFlags(process.env)) v8.setFlagsFromString(flag);
const { createConnectorService, resolveConfig, runSync } = await import(module("src/index.ts"));
const { buildDatadog } = await import(module("connectors/datadog/build.ts"));
const { datadogConfig } = await import(module("connectors/datadog/config.ts"));

const [baseUrl, file, concurrency] = process.argv.slice(2);
const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? "warn" }, pino.destination(2));
// Through the SDK's resolver, as the CLI does: fields the bench does not name take their declared defaults.
const overrides = { apiKey: process.env.BENCH_API_KEY, appKey: process.env.BENCH_APP_KEY, baseUrl, syncSchedules: true, syncSecrets: true };
const config = resolveConfig(datadogConfig, { overrides }, { cliOnly: true }).values;
const started = performance.now();
// The main thread's busy share of the sync's wall: near 1, the sync waits for its own CPU, not for the API.
const loopAtStart = performance.eventLoopUtilization();
const built = await buildDatadog(config, logger, { concurrency: Number(concurrency) });
// BENCH_TIMELINE=<file>: every request's start and end (ms since the sync started) and operation, for finding
// where a sync leaves connections idle (analysed by hand; the bench line does not need it).
const timeline = process.env.BENCH_TIMELINE ? [] : undefined;
if (timeline) {
  const http = built.client.http;
  const send = http.request.bind(http);
  http.request = async (req) => {
    const span = [performance.now() - started, 0, req.operation];
    timeline.push(span);
    try {
      return await send(req);
    } finally {
      span[1] = performance.now() - started;
    }
  };
}
try {
  const rpc = createConnectorService(built.connector, { logger, provisioning: false });
  // BENCH_ORDER=round-robin: equal turns per type instead of the limit-aware order (for comparing the two).
  const limitAware = process.env.BENCH_ORDER !== "round-robin";
  const result = await runSync({ connector: rpc, file, logger, concurrency: 4 * Number(concurrency), limitAware });
  const wallSeconds = (performance.now() - started) / 1000;
  process.stdout.write(
    JSON.stringify({
      wallSeconds,
      requests: built.metrics.requests,
      retries: built.metrics.retries,
      clientHttp429: built.metrics.http429,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      cpuSeconds: (process.resourceUsage().userCPUTime + process.resourceUsage().systemCPUTime) / 1e6,
      mainThreadBusy: performance.eventLoopUtilization(loopAtStart).utilization,
      compiled,
      stats: result.stats,
    }) + "\n",
  );
} finally {
  await built.close();
  if (timeline) writeFileSync(process.env.BENCH_TIMELINE, JSON.stringify(timeline));
}
