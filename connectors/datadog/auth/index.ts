/**
 * Delegated authentication for the Datadog connector, and the one place that decides which credentials the API
 * client uses: static keys, or the workload's AWS identity (with static keys as a fallback when both are set).
 */
import type { Logger } from "pino";
import type { Dispatcher } from "undici";
import { Code, ConnectorError, type EgressPolicy } from "../../../src/api-client.ts";
import { StaticKeyProvider, type CredentialProvider } from "../client/credentials.ts";
import { AwsCredentialSource } from "./aws-credentials.ts";
import { delegatedAuthEnabled, type DelegatedAuthSettings } from "./config.ts";
import { DelegatedTokenProvider } from "./delegated-provider.ts";

export { AwsCredentialSource, AwsCredentialsError } from "./aws-credentials.ts";
export type { AwsCredentials, AwsCredentialProviderFn, AwsCredentialSourceOptions, ResolvedAwsCredentials } from "./aws-credentials.ts";
export { checkDelegatedAuth, type CheckDelegatedAuthOptions, type DelegatedAuthCheckResult, type DelegatedAuthStage } from "./check.ts";
export {
  delegatedAuthConstraints,
  delegatedAuthEnabled,
  delegatedAuthFields,
  DELEGATED_AUTH_PROVIDERS,
  type DelegatedAuthSettings,
} from "./config.ts";
export { DelegatedTokenProvider, type DelegatedTokenProviderOptions, type DelegatedTokenStats } from "./delegated-provider.ts";
export { DelegatedExchangeError } from "./exchange.ts";

export interface DatadogAuthSettings extends DelegatedAuthSettings {
  readonly apiKey?: string | undefined;
  readonly appKey?: string | undefined;
}

export interface CredentialProviderContext {
  /** The resolved API base URL (https://api.<site> or the --base-url). */
  readonly apiBaseUrl: string;
  /** The --base-url exactly as configured, if any (the only non-Datadog host the proof may go to). */
  readonly explicitBaseUrl?: string | undefined;
  readonly logger?: Logger;
  readonly dispatcher?: Dispatcher;
  /** --http-timeout: bounds the credential lookup and the token exchange as it bounds every API request. */
  readonly httpTimeoutMs?: number;
  /** Replaces the standard AWS chain (tests). */
  readonly aws?: AwsCredentialSource;
  /** Hosted mode's served policy, for the delegated token exchange. */
  readonly egress?: EgressPolicy;
}

/**
 * Static keys when delegated auth is off; otherwise a DelegatedTokenProvider that falls back to the static keys
 * (when both are configured) if it cannot get a first token.
 */
export function createCredentialProvider(settings: DatadogAuthSettings, context: CredentialProviderContext): CredentialProvider {
  const apiKey = nonEmpty(settings.apiKey);
  const appKey = nonEmpty(settings.appKey);
  if ((apiKey === undefined) !== (appKey === undefined)) {
    throw new ConnectorError(
      Code.INVALID_ARGUMENT,
      `set both --api-key / BATON_API_KEY and --app-key / BATON_APP_KEY, or neither (only the ${apiKey === undefined ? "application" : "API"} key is set)`,
    );
  }
  const keys = apiKey !== undefined && appKey !== undefined ? new StaticKeyProvider(apiKey, appKey) : undefined;

  if (!delegatedAuthEnabled(settings)) {
    if (!keys) {
      throw new ConnectorError(
        Code.INVALID_ARGUMENT,
        "no Datadog credentials: set --api-key and --app-key (BATON_API_KEY / BATON_APP_KEY), or " +
          "--delegated-auth-org-uuid (BATON_DELEGATED_AUTH_ORG_UUID) to use the workload's AWS identity",
      );
    }
    return keys;
  }
  const providerName = settings.delegatedAuthProvider ?? "aws";
  if (providerName !== "aws") {
    throw new ConnectorError(
      Code.INVALID_ARGUMENT,
      `--delegated-auth-provider ${JSON.stringify(String(providerName))} is not supported; the only provider is "aws"`,
    );
  }
  const region = nonEmpty(settings.awsRegion);
  return new DelegatedTokenProvider({
    orgUuid: settings.delegatedAuthOrgUuid!,
    apiBaseUrl: context.apiBaseUrl,
    ...(context.explicitBaseUrl ? { explicitBaseUrl: context.explicitBaseUrl } : {}),
    ...(region !== undefined ? { region } : {}),
    ...(context.aws ? { aws: context.aws } : {}),
    ...(keys ? { fallback: keys } : {}),
    ...(context.logger ? { logger: context.logger } : {}),
    ...(context.dispatcher ? { dispatcher: context.dispatcher } : {}),
    ...(context.httpTimeoutMs !== undefined ? { exchangeTimeoutMs: context.httpTimeoutMs } : {}),
    ...(context.egress ? { egress: context.egress } : {}),
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}
