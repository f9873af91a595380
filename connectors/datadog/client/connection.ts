/**
 * The HTTP side of a Datadog client: the SDK's HttpClient for the resolved API endpoint, sending the connector's
 * credentials. A leaf of the client: it loads neither the operation table (gathered from the resource type files,
 * which load the SDK's generated messages) nor the connector, so a one-shot sync opens it and sends the API key
 * check while those load (cli-sync.ts); the DatadogClient built later on the same connection takes that answer.
 */
import type { Logger } from "pino";
import { HttpClient, type HttpClientOptions, type HttpMetrics } from "../../../src/api-client.ts";
import type { CredentialProvider } from "./credentials.ts";
import { parseResponse } from "./parse.ts";
import { ValidateResponseSchema } from "./schemas.ts";
import { op } from "./operation-info.ts";
import { resolveApiEndpoint } from "./sites.ts";

export interface DatadogConnectionOptions {
  /** Site name or domain (default US1). */
  site?: string;
  /** Overrides the API host (https, or http on loopback). */
  baseUrl?: string;
  credentials: CredentialProvider;
  logger?: Logger;
  metrics?: HttpMetrics;
  /** HTTP tuning (timeouts, retries, connections, body cap, proxy, ...). */
  http?: Omit<HttpClientOptions, "baseUrl" | "auth" | "logger" | "metrics">;
}

/** GET /api/v1/validate: checks the API key only (Datadog ignores the application key here). */
export const VALIDATE = op("Validate", "GET", "/api/v1/validate", [], "validate the API key");

export class DatadogConnection {
  readonly http: HttpClient;
  readonly baseUrl: string;
  readonly credentials: CredentialProvider;
  #apiKeyCheck: Promise<boolean> | undefined;

  constructor(options: DatadogConnectionOptions) {
    const endpoint = resolveApiEndpoint({ site: options.site, baseUrl: options.baseUrl });
    this.baseUrl = endpoint.baseUrl;
    this.credentials = options.credentials;
    this.http = new HttpClient({
      userAgent: `baton-datadog-ts (node ${process.version})`,
      ...options.http,
      baseUrl: endpoint.baseUrl,
      auth: options.credentials,
      logger: options.logger,
      metrics: options.metrics,
    });
  }

  /**
   * Whether the API key is valid. The answer of a check begun with startApiKeyCheck() serves the first call after
   * it; every other call asks again.
   */
  validateApiKey(signal?: AbortSignal): Promise<boolean> {
    const started = this.#apiKeyCheck;
    this.#apiKeyCheck = undefined;
    return started ?? this.#askApiKey(signal);
  }

  /**
   * Sends the API key check now, for the next validateApiKey() (a sync's Validate) to take. Resolves once the
   * request is on the wire, has failed before it got there, or `maxWaitMs` has passed; never rejects (the taker
   * reports the outcome).
   */
  startApiKeyCheck(signal?: AbortSignal, maxWaitMs = 1000): Promise<void> {
    const stopWaiting = new AbortController();
    const sent = this.http.whenRequestSent(maxWaitMs, stopWaiting.signal);
    const check = this.#askApiKey(signal);
    // Settled before it was sent (refused by the egress policy, DNS, an abort): the wait ends, its timer with it.
    const stop = () => stopWaiting.abort();
    const settled = check.then(stop, stop);
    this.#apiKeyCheck = check;
    return Promise.race([sent, settled]);
  }

  async #askApiKey(signal?: AbortSignal): Promise<boolean> {
    const res = await this.http.request({ method: VALIDATE.method, path: VALIDATE.path, operation: VALIDATE.id, signal });
    return parseResponse(VALIDATE.id, ValidateResponseSchema, res.body).valid;
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
