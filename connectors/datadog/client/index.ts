export { DatadogClient } from "./datadog-client.ts";
export type {
  CreatedApplicationKey,
  DatadogClientOptions,
  EscalationPolicy,
  NewUser,
  OnCallSchedule,
  OnCallScheduleUser,
  TeamMembershipPage,
  TeamRoutingRules,
} from "./datadog-client.ts";
export { API_KEY_HEADER, APP_KEY_HEADER, StaticKeyProvider } from "./credentials.ts";
export type { CredentialProvider } from "./credentials.ts";
export { describeTransportFailure, diagnose, diagnosisError, formatDiagnosis } from "./diagnose.ts";
export type { DiagnoseOptions, Diagnosis, DiagnosticCheck, DiagnosticProblem } from "./diagnose.ts";
export { OPERATIONS } from "./operations.ts";
export type { OperationId, OperationInfo } from "./operations.ts";
export { MAX_PAGE_SIZE, nextPageNumber, teamsNextPage } from "./paging.ts";
export type { Page, TeamPaging } from "./paging.ts";
export { formatPath, includedOfType, parseResponse, ResponseShapeError } from "./parse.ts";
export { checkId, id, ID_KINDS, isValidId, path } from "./ids.ts";
export type { IdKind, IdSegment } from "./ids.ts";
export { readEntries, readIncluded, SkipTally } from "./tolerant.ts";
export type { EntryRule } from "./tolerant.ts";
export * from "./schemas.ts";
export {
  baseUrlProblem,
  DATADOG_SITES,
  DEFAULT_SITE,
  isLoopbackHost,
  resolveApiEndpoint,
  resolveSite,
  siteApiBaseUrl,
  SiteConfigError,
  siteProblem,
  validateBaseUrl,
  validSitesText,
} from "./sites.ts";
export type { ApiEndpoint, DatadogSite } from "./sites.ts";
