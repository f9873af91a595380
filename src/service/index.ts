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
export { PLATFORM_MAX_RECEIVE_BYTES } from "./platform-client.ts";
export {
  KeptUploads,
  KEPT_UPLOADS_DIR_NAME,
  KEPT_UPLOAD_MAX_AGE_MS,
  KEPT_UPLOADS_MAX_TOTAL_BYTES,
  KEPT_UPLOADS_MIN_FREE_BYTES,
} from "./kept-uploads.ts";
export type { KeptUpload, KeptUploadsOptions } from "./kept-uploads.ts";
export { UNSUPPORTED_TASK_TYPE, NON_RETRYABLE_MARKER } from "./task-rules.ts";
