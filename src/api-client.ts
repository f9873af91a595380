/**
 * The SDK's entry point for a connector's API client: the HTTP client and its errors, metrics and egress policy,
 * connector errors, secrets for the logs, and the AWS request signing delegated credentials use. Importing it
 * loads none of the connector API, the sync engine, the store or the generated messages, so a connector can open
 * its API connection, and send its first request, while those load (issue 14: a one-shot sync's first request).
 * Every name here is also exported by src/index.ts (the same bindings).
 */
export { HttpClient, HttpError, HttpErrorCode, httpErrorToCode, toConnectorError, HttpMetrics, encodePath } from "./http/index.ts";
export type { HttpClientOptions, HttpRequest, HttpResponse, QueryValue, HttpMethod, HttpAuth } from "./http/index.ts";
export { raceAbort } from "./http/abort.ts";
export { backoffDelay, type BackoffPolicy } from "./http/backoff.ts";
export { ALLOW_ALL, DENY_ALL, egressPolicy, EgressDeniedError } from "./http/egress.ts";
export type { EgressPolicy } from "./http/egress.ts";
export { Code, ConnectorError, codeName, isRetryableCode } from "./connector/errors.ts";
export { registerSecret } from "./log/secrets.ts";
export { NodeSha256 } from "./aws/sha256.ts";
export {
  AWS_REGION_PATTERN,
  canonicalHeaderName,
  signStsGetCallerIdentity,
  STS_CONTENT_TYPE,
  STS_GET_CALLER_IDENTITY_BODY,
} from "./aws/sts-request.ts";
export type { StsSigningCredentials } from "./aws/sts-request.ts";
