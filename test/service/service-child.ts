/**
 * Service mode in its own process, configured only through the environment as a deployment would be:
 * BATON_CLIENT_ID, BATON_CLIENT_SECRET, BATON_C1_API_HOST, BATON_HOST_ID, NODE_EXTRA_CA_CERTS (no CA passed in
 * code). SIGTERM shuts it down; it prints the summary as one JSON line and exits on its own (nothing left open).
 * argv: <tempDir> <delayMs>
 */
import { createLogger } from "../../src/log/index.ts";
import { createConnectorService } from "../../src/connector/service.ts";
import { runService } from "../../src/service/runner.ts";
import { fixtureConnector } from "../fixtures/fixture-connector.ts";

const [tempDir, delayMs] = process.argv.slice(2);
const logger = createLogger({ level: "info", format: "json" });
const controller = new AbortController();
process.once("SIGTERM", () => controller.abort());
const connector = createConnectorService(fixtureConnector({ delayMs: Number(delayMs) }), { logger, provisioning: false });
const summary = await runService({
  connector,
  clientId: process.env.BATON_CLIENT_ID ?? "",
  clientSecret: process.env.BATON_CLIENT_SECRET ?? "",
  logger,
  signal: controller.signal,
  buildInfo: { package: "baton-test-child", packageVersion: "1.0.0" },
  tempDir,
  minIntervalMs: 10,
  backoff: { baseMs: 20, maxMs: 200 },
  health: { port: 0 },
});
process.stdout.write(JSON.stringify(summary) + "\n");
