/**
 * Builds the Datadog connector from resolved configuration: the credential provider (static keys or delegated
 * auth), the API client and the connector with its syncers. Used by every way of running it.
 */
import type { Logger } from "pino";
import { HttpMetrics } from "../../src/index.ts";
import type { Connector, EgressPolicy } from "../../src/index.ts";
import { DatadogClient } from "./client/datadog-client.ts";
import { StaticKeyProvider } from "./client/credentials.ts";
import { resolveApiEndpoint, resolveSite, siteAppUrl } from "./client/sites.ts";
import { createCredentialProvider, DelegatedTokenProvider } from "./auth/index.ts";
import { delegatedAuthEnabled } from "./auth/config.ts";
import { datadogConnector } from "./connector.ts";
import { keyShapeWarnings, type DatadogConfig } from "./config.ts";
import { DEFAULT_HTTP_TIMEOUT, parseDurationMs } from "./duration.ts";

export interface BuiltDatadog {
  connector: Connector;
  client: DatadogClient;
  metrics: HttpMetrics;
  close(): Promise<void>;
}

/** Requests in flight at once: the size of the HTTP connection pool, the one hard bound. */
export const DATADOG_CONCURRENCY = 16;

/**
 * Listings the sync engine runs at once. More than there are connections: a listing waiting for one API's rate
 * limit to reset must not keep listings of other APIs (other limits) from using the free connections.
 */
export const DATADOG_SYNC_WORKERS = 4 * DATADOG_CONCURRENCY;

export interface BuildOptions {
  concurrency?: number;
  /** Warn that requests are being retried (default true); `check` reports the outcome itself. */
  retryWarnings?: boolean;
  /** Hosts the Datadog API client may reach (hosted mode's served policy); default: any. */
  egress?: EgressPolicy;
}

/** --http-timeout in ms (the config schema has already checked it). */
export function httpTimeoutMs(config: Pick<DatadogConfig, "httpTimeout">): number {
  return parseDurationMs(config.httpTimeout ?? DEFAULT_HTTP_TIMEOUT) ?? parseDurationMs(DEFAULT_HTTP_TIMEOUT)!;
}

export async function buildDatadog(config: DatadogConfig, logger: Logger, options: BuildOptions = {}): Promise<BuiltDatadog> {
  for (const warning of keyShapeWarnings(config)) logger.warn(warning);
  const endpoint = resolveApiEndpoint({ site: config.site, baseUrl: config.baseUrl });
  const timeoutMs = httpTimeoutMs(config);
  const credentials = createCredentialProvider(config, {
    apiBaseUrl: endpoint.baseUrl,
    explicitBaseUrl: config.baseUrl,
    logger,
    httpTimeoutMs: timeoutMs,
    egress: options.egress,
  });
  // A bad delegated-auth setup should fail here, before any work starts.
  if (credentials instanceof DelegatedTokenProvider) await credentials.start();
  const metrics = new HttpMetrics();
  const client = new DatadogClient({
    site: config.site,
    baseUrl: config.baseUrl,
    credentials,
    logger,
    metrics,
    http: { connections: options.concurrency ?? DATADOG_CONCURRENCY, timeoutMs, retryWarnings: options.retryWarnings ?? true, egress: options.egress },
  });
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
    metrics,
    async close() {
      await connector.close?.();
      if (credentials instanceof DelegatedTokenProvider) credentials.close();
    },
  };
}

/** The connector with every optional type on, for `capabilities`: no credentials and no network needed. */
export function datadogConnectorForCapabilities(logger: Logger): Connector {
  const client = new DatadogClient({ credentials: new StaticKeyProvider("capabilities", "capabilities"), logger });
  return datadogConnector({ client, logger, syncSchedules: true, syncSecrets: true, syncSecurityInsights: true, delegatedAuth: false });
}
