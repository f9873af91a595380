/**
 * Issuing credentials (IssueCredential) for a Datadog service account (a `user` whose `service_account` is true):
 * a new application key with the scopes asked for (`api_key{scopes}`), created through
 * CreateServiceAccountApplicationKey. The key's value leaves this module only as PlaintextData, which the SDK
 * encrypts for the requester (JWE, as for rotation) and wipes; it is never logged.
 *
 * The key is DISCOVERABLE: the next sync lists it as an `application-key` owned by the service account, so the
 * issuer is there only when keys are synced (--sync-secrets). Its name carries the request id
 * ("baton-issued-<request id>"): a request seen again finds its key and is refused (Datadog shows a key's value
 * only once, so the first answer cannot be replayed) instead of creating a second key.
 *
 * Expiry: Datadog application keys never expire by themselves, and revoking issued keys later would need a
 * schedule that survives restarts of the connector. None is advertised, so a request with `expires_at` is refused
 * by the SDK (INVALID_ARGUMENT) rather than answered with a key that would outlive its promise.
 */
import { Code, ConnectorError, resourceId, secretResource } from "../../../src/index.ts";
import type { CallContext, CredentialIssuer } from "../../../src/index.ts";
import { CapabilityDetailCredentialOption, CredentialResourceMode, PlaintextDataSchema } from "../../../src/messages.ts";
import { create } from "@bufbuild/protobuf";
import type { DatadogClient } from "../client/datadog-client.ts";
import { isValidId } from "../client/ids.ts";
import { call } from "./errors.ts";
import { dateOf } from "./values.ts";

const USER_TYPE = "user";
const APPLICATION_KEY_TYPE = "application-key";
const NAME_PREFIX = "baton-issued-";

/**
 * The scopes a Datadog application key can be restricted to: the authorization scopes of Datadog's API
 * (components.securitySchemes.AuthZ of its OpenAPI v2 description; test/datadog/issue-credential.test.ts checks
 * this list against the spec when the spec is beside the repository).
 */
export const APPLICATION_KEY_SCOPES = [
  "apm_api_catalog_read", "apm_api_catalog_write", "apm_read", "apm_service_catalog_read", "apm_service_catalog_write",
  "appsec_vm_read", "billing_read", "bits_investigations_read", "bits_investigations_write", "cases_read", "cases_write",
  "ci_visibility_pipelines_write", "ci_visibility_read", "cloud_cost_management_read", "cloud_cost_management_write",
  "code_analysis_read", "code_coverage_read", "continuous_profiler_pgo_read", "coterm_read", "coterm_write",
  "create_webhooks", "dashboards_embed_share", "dashboards_invite_share", "dashboards_public_share", "dashboards_read",
  "dashboards_write", "data_scanner_read", "data_scanner_write", "embeddable_graphs_share", "error_tracking_read",
  "error_tracking_write", "events_read", "hosts_read", "incident_notification_settings_read",
  "incident_notification_settings_write", "incident_read", "incident_settings_read", "incident_settings_write",
  "incident_write", "metrics_read", "monitors_downtime", "monitors_read", "monitors_write", "org_connections_read",
  "org_connections_write", "org_management", "security_comments_read", "security_monitoring_critical_assets_read",
  "security_monitoring_critical_assets_write", "security_monitoring_filters_read", "security_monitoring_filters_write",
  "security_monitoring_findings_read", "security_monitoring_rules_read", "security_monitoring_rules_write",
  "security_monitoring_signals_read", "security_monitoring_suppressions_read", "security_monitoring_suppressions_write",
  "security_pipelines_read", "security_pipelines_write", "slos_corrections", "slos_read", "slos_write",
  "synthetics_global_variable_read", "synthetics_global_variable_write", "synthetics_private_location_read",
  "synthetics_private_location_write", "synthetics_read", "synthetics_write", "teams_manage", "teams_read",
  "test_optimization_read", "test_optimization_settings_write", "test_optimization_write", "timeseries_query",
  "usage_read", "user_access_invite", "user_access_manage", "user_access_read", "workflows_read", "workflows_run",
  "workflows_write",
] as const;

/** The name an issued key gets: it ties the key to the request that asked for it. */
export const issuedKeyName = (requestId: string): string => `${NAME_PREFIX}${requestId}`;

async function findIssued(client: DatadogClient, ctx: CallContext, accountId: string, name: string): Promise<string | undefined> {
  // Datadog allows a service account at most 1000 keys: a bounded walk.
  for (let page: number | undefined = 0; page !== undefined; ) {
    const res = await client.listServiceAccountApplicationKeysPage(accountId, page, ctx.signal);
    const match = res.items.find((k) => k.attributes?.name === name);
    if (match) return match.id;
    page = res.nextPage;
  }
  return undefined;
}

export function serviceAccountCredentialIssuer(client: DatadogClient): CredentialIssuer {
  return {
    preferredOption: CapabilityDetailCredentialOption.API_KEY,
    options: [
      {
        option: CapabilityDetailCredentialOption.API_KEY,
        scopes: [...APPLICATION_KEY_SCOPES],
        customScopesAllowed: false,
        resourceMode: CredentialResourceMode.DISCOVERABLE,
        secretResourceTypeId: APPLICATION_KEY_TYPE,
      },
    ],

    async issue(ctx, { identityId, options, requestId }) {
      const accountId = identityId.resource;
      if (identityId.resourceType !== USER_TYPE || !isValidId("user", accountId)) {
        throw new ConnectorError(Code.INVALID_ARGUMENT, `issue_credential: ${identityId.resourceType}:${accountId.slice(0, 64)} is not a Datadog user id (a UUID)`);
      }
      if (options.options.case !== "apiKey") {
        throw new ConnectorError(Code.INVALID_ARGUMENT, "issue_credential: only api_key credentials (an application key) can be issued for a Datadog service account");
      }
      const scopes = options.options.value.scopes;
      if (scopes.length === 0) {
        throw new ConnectorError(
          Code.INVALID_ARGUMENT,
          "issue_credential: name at least one scope in api_key.scopes; an unscoped key could do everything the service account can",
        );
      }
      const account = await call(client, () => client.getUser(accountId, ctx.signal), {
        notFound: `Datadog user "${accountId}" does not exist (identity user:${accountId})`,
      });
      if (!account.attributes.service_account) {
        throw new ConnectorError(
          Code.FAILED_PRECONDITION,
          `issue_credential: user ${accountId} is a person, not a service account; Datadog creates application keys for others only for service accounts`,
        );
      }
      if (account.attributes.disabled) {
        throw new ConnectorError(Code.FAILED_PRECONDITION, `issue_credential: service account ${accountId} is disabled; enable it first (enable_user)`);
      }
      const name = issuedKeyName(requestId);
      const earlier = await call(client, () => findIssued(client, ctx, accountId, name));
      if (earlier) {
        throw new ConnectorError(
          Code.ALREADY_EXISTS,
          `issue_credential: request ${requestId} already issued application key ${earlier}; Datadog shows a key's value only once, ` +
            "so revoke that key and ask again with a new request id",
        );
      }
      const created = await call(client, () => client.createServiceAccountApplicationKey(accountId, { name, scopes }, ctx.signal));
      return {
        secret: secretResource({
          type: APPLICATION_KEY_TYPE,
          id: created.id,
          displayName: created.name ?? name,
          profile: { name: created.name ?? name, scopes: [...(created.scopes ?? scopes)], scoped: true, owner_id: accountId, request_id: requestId },
          createdAt: dateOf(created.createdAt),
          secret: { identityId: resourceId(USER_TYPE, accountId) },
        }),
        plaintext: [
          create(PlaintextDataSchema, {
            name: "application_key",
            description: `Datadog application key ${created.id} of service account ${accountId}`,
            bytes: new TextEncoder().encode(created.key),
          }),
        ],
        resourceMode: CredentialResourceMode.DISCOVERABLE,
      };
    },
  };
}
