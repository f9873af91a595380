/** Service mode: the connector as a daemon connected to the platform (see runner.ts). */
export {
  runService,
  checkServiceCredentials,
  clampInterval,
  DEFAULT_TASK_CONCURRENCY,
  DEFAULT_SHUTDOWN_GRACE_MS,
  PLATFORM_BACKOFF,
  HEARTBEAT_FAILURE_LIMIT,
} from "./runner.ts";
export type { RunServiceOptions, ServiceSummary } from "./runner.ts";
export {
  ClientCredentialsError,
  parseClientId,
  parseClientSecret,
  platformEndpoint,
  createClientAssertion,
  CLIENT_ID_LABEL,
  CLIENT_SECRET_LABEL,
  API_HOST_LABEL,
} from "./credentials.ts";
export type { ClientId, ClientSecret, CredentialsProblem, PlatformEndpoint } from "./credentials.ts";
export { DEFAULT_HEALTH_PORT, DEFAULT_HEALTH_BIND_ADDRESS, startHealthServer } from "./health.ts";
export type { HealthServer, HealthStatus } from "./health.ts";
export { defaultHostId } from "./host-info.ts";
export type { BuildInfo } from "./host-info.ts";
export { PlatformTokenSource } from "./token.ts";
export { createPlatformClient } from "./platform-client.ts";
export type { PlatformClient } from "./platform-client.ts";
export { trustedCaCertificates } from "./trust.ts";
export { UPLOAD_CHUNK_BYTES, UPLOAD_ATTEMPTS } from "./upload.ts";
