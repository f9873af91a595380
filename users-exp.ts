import pino from "pino";
import { rmSync } from "node:fs";
import { startSimulator } from "./connectors/datadog/simulator/index.ts";
import { buildDatadog } from "./connectors/datadog/build.ts";
import { datadogConfig } from "./connectors/datadog/config.ts";
import { createConnectorService } from "./src/connector/service.ts";
import { runSync } from "./src/sync/engine.ts";
const sim = await startSimulator({ seed: 7, counts: { users: 20000, teams: 500, roles: 200, schedules: 100, apiKeys: 2000, appKeys: 500, serviceAccounts: 200 }, latencyMs: 0, rateLimit: { limit: 100000, periodSeconds: 10 } });
const config = datadogConfig.schema.parse({ apiKey: sim.apiKey, appKey: sim.appKey, baseUrl: sim.baseUrl, site: "US1", syncSchedules: true, syncSecrets: true, delegatedAuthProvider: "aws" });
const logger = pino({ level: "warn" });
const built = await buildDatadog(config, logger, { concurrency: 16 });
const rpc = createConnectorService(built.connector, { logger, provisioning: false });
const types = (process.env.TYPES ?? "user").split(",");
for (let i = 0; i < 3; i++) {
  rmSync("/tmp/users-exp.c1z", { force: true });
  const cpu0 = process.cpuUsage(); const t0 = performance.now();
  const r = await runSync({ connector: rpc, file: "/tmp/users-exp.c1z", logger, concurrency: 64, resourceTypeIds: types });
  const cpu = process.cpuUsage(cpu0);
  console.log({ types, wall: ((performance.now() - t0) / 1000).toFixed(2), cpuMain: ((cpu.user + cpu.system) / 1e6).toFixed(2), resources: r.stats.resources, grants: r.stats.grants });
}
await built.close(); await sim.close();
