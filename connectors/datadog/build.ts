/**
 * Builds the Datadog connector from resolved configuration: the API connection (build-client.ts: credentials,
 * static keys or delegated auth), the client on it and the connector with its syncers. Used by every way of
 * running it.
 */
import type { Logger } from "pino";
import type { Connector, HttpMetrics } from "../../src/index.ts";
import { DatadogClient } from "./client/datadog-client.ts";
import { StaticKeyProvider } from "./client/credentials.ts";
import { resolveSite, siteAppUrl } from "./client/sites.ts";
import { delegatedAuthEnabled } from "./auth/config.ts";
import { datadogConnector } from "./connector.ts";
import type { DatadogConfig } from "./config.ts";
import { DATADOG_CONCURRENCY, openDatadog, type BuildOptions, type OpenedDatadog } from "./build-client.ts";

export { DATADOG_CONCURRENCY, httpTimeoutMs, type BuildOptions, type OpenedDatadog } from "./build-client.ts";

export interface BuiltDatadog {
  connector: Connector;
  client: DatadogClient;
  metrics: HttpMetrics;
  close(): Promise<void>;
}

/**
 * Listings the sync engine runs at once. More than there are connections: a listing waiting for one API's rate
 * limit to reset must not keep listings of other APIs (other limits) from using the free connections.
 */
export const DATADOG_SYNC_WORKERS = 4 * DATADOG_CONCURRENCY;

/** The connector on `opened` when given (a sync that opened its connection early, cli-sync.ts), else on a new one. */
export async function buildDatadog(config: DatadogConfig, logger: Logger, options: BuildOptions = {}, opened?: OpenedDatadog): Promise<BuiltDatadog> {
  const open = opened ?? (await openDatadog(config, logger, options));
  const client = new DatadogClient({ connection: open.connection, logger });
  const connector = datadogConnector({
    client,
    logger,
    syncSchedules: config.syncSchedules,
    syncSecrets: config.syncSecrets,
    syncSecurityInsights: config.syncSecurityInsights,
    insights: { unusedKeyDays: config.securityInsightsUnusedKeyDays, pendingInviteDays: config.securityInsightsPendingInviteDays },
    syncSsoMappings: config.syncSsoMappings,
    delegatedAuth: delegatedAuthEnabled(config),
    siteUrl: siteAppUrl(resolveSite(config.site)),
  });
  return {
    connector,
    client,
    metrics: open.metrics,
    async close() {
      await connector.close?.();
      await open.close();
    },
  };
}

/** The connector with every optional type on, for `capabilities`: no credentials and no network needed. */
export function datadogConnectorForCapabilities(logger: Logger): Connector {
  const client = new DatadogClient({ credentials: new StaticKeyProvider("capabilities", "capabilities"), logger });
  return datadogConnector({ client, logger, syncSchedules: true, syncSecrets: true, syncSecurityInsights: true, delegatedAuth: false });
}
