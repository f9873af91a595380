/**
 * What the narrowing flags mean in each mode (PROTOCOL-2 §1.1). A one-shot sync reads --sync-resources,
 * --sync-resource-types, --skip-entitlements-and-grants and --skip-grants (not --skip-full-sync); service mode
 * reads only --skip-full-sync and --sync-resource-types (the task says the rest). --skip-grants needs targeted
 * resources, which service mode never has from the host, so there it is always refused, as in Baton.
 */
import { ConfigError } from "../config/errors.ts";
import { fieldLabel } from "../config/names.ts";
import type { SdkConfig } from "../config/sdk-fields.ts";
import { BidError, parseResourceBid, type TargetedResource } from "./targets.ts";

type ScopeFlags = Pick<SdkConfig, "syncResources" | "syncResourceTypes" | "skipFullSync" | "skipEntitlementsAndGrants" | "skipGrants">;

export interface OneShotSyncScope {
  targetedResources?: TargetedResource[];
  resourceTypeIds?: string[];
  skipEntitlementsAndGrants?: boolean;
  skipGrants?: boolean;
}

export interface ServiceSyncScope {
  skipFullSync: boolean;
  /** Used for a task whose sync_resource_type_ids is empty. */
  resourceTypeIds?: string[];
}

const SKIP_GRANTS_ONLY_TARGETED = "skip-grants can only be set within a targeted sync";

/** The options of the engine for a one-shot sync; a bad resource id or --skip-grants alone is a ConfigError (exit 2). */
export function oneShotSyncScope(sdk: ScopeFlags): OneShotSyncScope {
  const targets: TargetedResource[] = [];
  for (const text of sdk.syncResources ?? []) {
    try {
      targets.push(parseResourceBid(text));
    } catch (err) {
      if (err instanceof BidError) throw new ConfigError([{ key: "syncResources", label: fieldLabel("syncResources"), message: err.message }]);
      throw err;
    }
  }
  if (sdk.skipGrants && targets.length === 0) {
    throw new ConfigError([
      { key: "skipGrants", label: fieldLabel("skipGrants"), message: `${SKIP_GRANTS_ONLY_TARGETED} (add ${fieldLabel("syncResources")})` },
    ]);
  }
  return {
    ...(targets.length ? { targetedResources: targets } : {}),
    ...(sdk.syncResourceTypes?.length ? { resourceTypeIds: [...sdk.syncResourceTypes] } : {}),
    ...(sdk.skipEntitlementsAndGrants ? { skipEntitlementsAndGrants: true } : {}),
    ...(sdk.skipGrants ? { skipGrants: true } : {}),
  };
}

/** What service mode takes from the host's flags. */
export function serviceSyncScope(sdk: ScopeFlags): ServiceSyncScope {
  if (sdk.skipGrants) {
    throw new ConfigError([
      {
        key: "skipGrants",
        label: fieldLabel("skipGrants"),
        message: `${SKIP_GRANTS_ONLY_TARGETED}, and service mode takes its targets from each task (remove it; a task's skip_grants applies)`,
      },
    ]);
  }
  return { skipFullSync: sdk.skipFullSync === true, ...(sdk.syncResourceTypes?.length ? { resourceTypeIds: [...sdk.syncResourceTypes] } : {}) };
}
