/**
 * Turns whatever a Datadog call threw into the ConnectorError the SDK reports, with the code a Baton engine
 * acts on: 404 → NOT_FOUND (with a sentence naming the missing principal or entitlement when the caller knows
 * it), 409 → ALREADY_EXISTS, 429 and 5xx → UNAVAILABLE (retried by the engine) carrying a RateLimitDescription
 * when the HTTP layer learned the limit. Messages come from HttpError, which never holds a credential.
 */
import { annotate } from "../../../src/index.ts";
import { Code, ConnectorError } from "../../../src/index.ts";
import { HttpError, HttpErrorCode, toConnectorError } from "../../../src/index.ts";
import type { DatadogClient } from "../client/datadog-client.ts";

export interface ErrorContext {
  /** Sentence used for a 404, e.g. `Datadog user "abc" does not exist (principal user:abc)`. */
  notFound?: string;
}

export function isHttpStatus(err: unknown, status: number): err is HttpError {
  return err instanceof HttpError && err.code === HttpErrorCode.HTTP_STATUS && err.status === status;
}

function rateLimitDetails(err: HttpError, client: DatadogClient) {
  const limiter = client.http.rateLimiter;
  if (!limiter || !err.operation) return [];
  const name = limiter.limitNameOf(err.operation);
  const status = name ? limiter.status().find((s) => s.name === name) : undefined;
  if (!status) return [];
  return [
    annotate.rateLimit({
      limit: status.limit,
      remaining: status.remaining,
      resetAt: new Date(Date.now() + status.resetInMs),
      overLimit: true,
    }),
  ];
}

export function datadogError(err: unknown, client: DatadogClient, context: ErrorContext = {}): ConnectorError {
  if (err instanceof ConnectorError) return err;
  if (!(err instanceof HttpError)) return toConnectorError(err);
  if (err.code === HttpErrorCode.HTTP_STATUS && err.status === 404 && context.notFound) {
    return new ConnectorError(Code.NOT_FOUND, `${context.notFound} (${err.message})`, { cause: err });
  }
  // 5xx → UNAVAILABLE comes from the one status map (statusToCode); only a rate limit adds its description here.
  if (err.code === HttpErrorCode.RATE_LIMITED || err.status === 429) {
    return new ConnectorError(Code.UNAVAILABLE, err.message, { cause: err, details: rateLimitDetails(err, client) });
  }
  return toConnectorError(err);
}

/** Runs one Datadog call and converts its failure (see datadogError). */
export async function call<T>(client: DatadogClient, fn: () => Promise<T>, context?: ErrorContext): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw datadogError(err, client, context);
  }
}

/** Like `call`, but a 404 answers `undefined` (for look-ups where absence is an answer, not a failure). */
export async function callOrAbsent<T>(client: DatadogClient, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (isHttpStatus(err, 404)) return undefined;
    throw datadogError(err, client);
  }
}
