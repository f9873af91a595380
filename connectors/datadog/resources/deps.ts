/**
 * What every Datadog syncer is built with: the API client, the web app's address for ExternalLink
 * annotations, and the few settings a type reads (SAML mappings in profiles, security insight thresholds).
 * Built once per connector (connector.ts) and handed to each resource type's `syncer`.
 */
import type { Any } from "@bufbuild/protobuf/wkt";
import type { DatadogClient } from "../client/datadog-client.ts";
import { appLinker } from "./links.ts";
import { ssoMappings, type SsoMappings } from "./sso-mappings.ts";

/** Thresholds of the security insights (resources/security-insights.ts). */
export interface InsightSettings {
  /** An API or application key not used for this many days (never used: since it was created) is an insight. */
  unusedKeyDays: number;
  /** A user invited (status Pending) this many days ago or more is an insight. */
  pendingInviteDays: number;
  /** Whether key resources are synced (--sync-secrets): a key insight then targets the key resource, else its external id. */
  keysSynced: boolean;
}

export const DEFAULT_INSIGHT_SETTINGS: InsightSettings = { unusedKeyDays: 90, pendingInviteDays: 30, keysSynced: false };

export interface SyncerDeps {
  client: DatadogClient;
  /** An ExternalLink annotation to a page of the Datadog web app (path with its query), or none without a site URL. */
  appLink(path: string): Any[];
  /** SAML AuthN mappings: in role and team profiles when asked for, and the warning on revokes they undo. */
  sso: SsoMappings;
  insights: InsightSettings;
}

export function syncerDeps(opts: {
  client: DatadogClient;
  siteUrl?: string;
  syncSsoMappings?: boolean;
  insights?: Partial<InsightSettings>;
}): SyncerDeps {
  return {
    client: opts.client,
    appLink: appLinker(opts.siteUrl),
    sso: ssoMappings(opts.client, { inProfiles: opts.syncSsoMappings ?? false }),
    insights: {
      unusedKeyDays: opts.insights?.unusedKeyDays ?? DEFAULT_INSIGHT_SETTINGS.unusedKeyDays,
      pendingInviteDays: opts.insights?.pendingInviteDays ?? DEFAULT_INSIGHT_SETTINGS.pendingInviteDays,
      keysSynced: opts.insights?.keysSynced ?? DEFAULT_INSIGHT_SETTINGS.keysSynced,
    },
  };
}
