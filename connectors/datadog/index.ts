/**
 * The Datadog connector's public surface: its CLI (`main`, `datadogCli`), the connector itself, its config, and
 * the simulated Datadog API that tests and the demo sync against. Everything else under connectors/datadog is
 * internal to the connector.
 */
export { main, datadogCli } from "./main.ts";
export { datadogConnector } from "./connector.ts";
export type { DatadogConnectorOptions } from "./connector.ts";
export { buildDatadog } from "./build.ts";
export type { BuiltDatadog, BuildOptions } from "./build.ts";
export { datadogConfig } from "./config.ts";
export type { DatadogConfig } from "./config.ts";
/** A simulated Datadog org on loopback (real HTTP, Datadog's answers and limits), for tests and the demo. */
export { startSimulator } from "./simulator/index.ts";
export type { Simulator, SimulatorOptions } from "./simulator/index.ts";
