/**
 * The Datadog connector as the hosted runtime builds it: the same buildDatadog as every other mode, with the
 * platform's egress policy enforced by its HTTP client and ctx.session backed by the platform's session service.
 */
import { createConnectorService, defineHostedConnector } from "../../src/index.ts";
import { buildDatadog } from "./build.ts";
import { datadogConfig } from "./config.ts";
import pkg from "../../package.json" with { type: "json" };

export const datadogHosted = defineHostedConnector({
  name: "baton-datadog",
  version: pkg.version,
  config: datadogConfig,
  async build(config, env) {
    const built = await buildDatadog(config, env.logger, { egress: env.egress });
    const rpc = createConnectorService(built.connector, { logger: env.logger, provisioning: env.provisioning, sessions: env.sessions });
    return { rpc, close: () => built.close() };
  },
});
