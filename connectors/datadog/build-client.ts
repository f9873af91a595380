/**
 * Opens the Datadog API connection from resolved configuration: the credential provider (static keys, or
 * delegated auth, whose first token is fetched here) and the HTTP client with its connection pool. It loads
 * none of the connector's resource types, the SDK's sync engine or its generated messages (client/connection.ts,
 * src/api-client.ts), so a sync can open it, and send its first request, while those load (cli-sync.ts).
 */
import type { Logger } from "pino";
import { HttpMetrics, type EgressPolicy } from "../../src/api-client.ts";
import { DatadogConnection } from "./client/connection.ts";
import { createCredentialProvider, DelegatedTokenProvider } from "./auth/index.ts";
import { resolveApiEndpoint } from "./client/sites.ts";
import { keyShapeWarnings, type DatadogConfig } from "./config.ts";
import { DEFAULT_HTTP_TIMEOUT, parseDurationMs } from "./duration.ts";

/** Requests in flight at once: the size of the HTTP connection pool, the one hard bound. */
export const DATADOG_CONCURRENCY = 16;

export interface BuildOptions {
  concurrency?: number;
  /** Warn that requests are being retried (default true); `check` reports the outcome itself. */
  retryWarnings?: boolean;
  /** Hosts the Datadog API client may reach (hosted mode's served policy); default: any. */
  egress?: EgressPolicy;
}

export interface OpenedDatadog {
  connection: DatadogConnection;
  metrics: HttpMetrics;
  /** Closes the connection pool and stops the delegated token's refresh. */
  close(): Promise<void>;
}

/** --http-timeout in ms (the config schema has already checked it). */
export function httpTimeoutMs(config: Pick<DatadogConfig, "httpTimeout">): number {
  return parseDurationMs(config.httpTimeout ?? DEFAULT_HTTP_TIMEOUT) ?? parseDurationMs(DEFAULT_HTTP_TIMEOUT)!;
}

export async function openDatadog(config: DatadogConfig, logger: Logger, options: BuildOptions = {}): Promise<OpenedDatadog> {
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
  const connection = new DatadogConnection({
    site: config.site,
    baseUrl: config.baseUrl,
    credentials,
    logger,
    metrics,
    http: { connections: options.concurrency ?? DATADOG_CONCURRENCY, timeoutMs, retryWarnings: options.retryWarnings ?? true, egress: options.egress },
  });
  return {
    connection,
    metrics,
    async close() {
      await connection.close();
      if (credentials instanceof DelegatedTokenProvider) credentials.close();
    },
  };
}
