/**
 * The Datadog connector: users (service accounts included), roles and teams always; on-call schedules and
 * API / application keys when asked for. Each type is one file in resources/ (its ResourceType, operations,
 * diagnosis read and syncer), listed in resources/registry.ts.
 *
 *   const connector = datadogConnector({ client, syncSchedules: true, syncSecrets: false, logger });
 *   const rpc = createConnectorService(connector, { logger, provisioning });
 */
import type { Logger } from "pino";
import { ConnectorError } from "../../src/index.ts";
import type { Connector, ResourceSyncer } from "../../src/index.ts";
import { diagnose, diagnosisError, type DatadogClient } from "./client/index.ts";
import { syncerDeps } from "./resources/deps.ts";
import { datadogError } from "./resources/errors.ts";
import { RESOURCE_TYPES } from "./resources/registry.ts";
import { auditFeeds } from "./resources/audit-feed.ts";
import { serviceAccountCredentialIssuer } from "./resources/service-account-credentials.ts";
import { USER } from "./resources/users.ts";
import { envName, flagName } from "../../src/index.ts";

export interface DatadogConnectorOptions {
  client: DatadogClient;
  syncSchedules: boolean;
  syncSecrets: boolean;
  /** The optional security-insight type (resources/security-insights.ts), with its thresholds. */
  syncSecurityInsights?: boolean;
  insights?: { unusedKeyDays?: number; pendingInviteDays?: number };
  /** SAML AuthN mappings in the profiles of the roles and teams they grant (resources/sso-mappings.ts). */
  syncSsoMappings?: boolean;
  logger: Logger;
  /** The Datadog web app for ExternalLink annotations, e.g. https://app.datadoghq.com; no links without it. */
  siteUrl?: string;
  /**
   * Credentials are a delegated (cloud identity) token, not static keys: Validate then has no API key to
   * check with /api/v1/validate and starts at the permission reads. (The diagnosis also tells from the request
   * headers which credentials are in use, so a delegated provider that fell back to static keys is still
   * validated with them.)
   */
  delegatedAuth?: boolean;
}

export function datadogConnector(opts: DatadogConnectorOptions): Connector {
  const { client } = opts;
  const deps = syncerDeps({
    client,
    siteUrl: opts.siteUrl,
    syncSsoMappings: opts.syncSsoMappings,
    insights: { ...opts.insights, keysSynced: opts.syncSecrets },
  });
  const syncers: ResourceSyncer[] = [];
  // Types that are off say which setting turns them on.
  const optionalResourceTypes: Record<string, string> = {};
  for (const type of RESOURCE_TYPES) {
    if (!type.enabledBy || opts[type.enabledBy]) syncers.push(type.syncer(deps));
    else optionalResourceTypes[type.type.id] = `${flagName(type.enabledBy)} (${envName(type.enabledBy)}=true)`;
  }
  // Service accounts get issued application keys only when keys are synced: an issued key is DISCOVERABLE.
  if (opts.syncSecrets) {
    const i = syncers.findIndex((s) => s.resourceType.id === USER);
    if (i >= 0) syncers[i] = { ...syncers[i], credentialIssuer: serviceAccountCredentialIssuer(client) };
  }

  /*
   * The full diagnosis (API key, then one read per resource type) runs at a connector's first Validate. Once it
   * has passed, later Validates (a long-running service or hosted connector) check the same fixed credentials
   * with one read, the users listing the tenant identity comes from: a targeted sync right after a grant then
   * costs one request before its own, not seven. Validate and the tenant ask at the same moment and share that
   * read. If it fails, the full diagnosis runs again and names the problem.
   */
  let validatedOnce = false;
  let recheck: Promise<string | undefined> | undefined;
  const checkAgain = (signal: AbortSignal): Promise<string | undefined> => {
    if (!recheck) {
      recheck = client.orgUuid(signal).finally(() => {
        recheck = undefined;
      });
    }
    return recheck;
  };

  return {
    info: {
      displayName: "Datadog",
      description: "Users, roles, teams, on-call schedules and API / application keys of a Datadog organization",
      helpUrl: "https://docs.datadoghq.com/account_management/",
    },
    syncers,
    optionalResourceTypes,
    eventFeeds: auditFeeds(client, { keys: opts.syncSecrets }),

    async validate(ctx) {
      if (validatedOnce) {
        try {
          await checkAgain(ctx.signal);
          ctx.logger.debug("Datadog connection checked again (one read; the full diagnosis passed earlier)");
          return;
        } catch {
          // Something changed since: the full diagnosis below says exactly what.
          validatedOnce = false;
        }
      }
      let diagnosis;
      try {
        diagnosis = await diagnose(client, {
          syncSchedules: opts.syncSchedules,
          syncSecrets: opts.syncSecrets,
          syncSecurityInsights: opts.syncSecurityInsights,
          signal: ctx.signal,
        });
      } catch (err) {
        // The diagnosis reports network and HTTP problems itself; what escapes it (e.g. a delegated credential
        // provider that cannot get a token) still needs the right code and a message.
        throw err instanceof ConnectorError ? err : datadogError(err, client);
      }
      const failure = diagnosisError(diagnosis);
      if (failure) throw failure;
      const skipped = diagnosis.checks.filter((c) => c.skipped).map((c) => c.message);
      ctx.logger.info({ delegatedAuth: opts.delegatedAuth ?? false, skipped }, "Datadog connection validated");
      validatedOnce = true;
    },

    // The org's UUID and the API it is reached at: a sync of another org (or the same UUID behind another API)
    // never resumes this one's unfinished sync. Neither part is a secret.
    async tenant(ctx) {
      // The shared read failing makes Validate diagnose again; the identity is then asked for on its own.
      const org = validatedOnce ? await checkAgain(ctx.signal).catch(() => client.orgUuid(ctx.signal)) : await client.orgUuid(ctx.signal);
      return org ? { id: `datadog:${client.baseUrl}:org:${org}`, displayName: `Datadog org ${org} at ${client.baseUrl}` } : undefined;
    },

    close: () => client.close(),
  };
}
