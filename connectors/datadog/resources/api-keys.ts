/**
 * `api-key`: Datadog API keys as secrets: name, creation, last use and creator, never the key's value (list
 * answers do not carry it, and nothing here asks for it). API keys belong to the organization, not to a user,
 * so the SecretTrait names the creator (`created_by_id`) and leaves `identity_id` empty.
 * Deleting the resource revokes the key; deleting a key that is already gone succeeds (idempotent).
 */
import { annotate, resourceType } from "../../../src/index.ts";
import { resourceId, secretResource } from "../../../src/index.ts";
import type { ResourceDeleter, ResourceSyncer } from "../../../src/index.ts";
import { ResourceType_Trait, type Resource } from "../../../src/messages.ts";
import type { ApiKey } from "../client/schemas.ts";
import { op } from "../client/operation-info.ts";
import type { SyncerDeps } from "./deps.ts";
import { call, datadogError, isHttpStatus } from "./errors.ts";
import { q } from "./links.ts";
import { numberedPage } from "./paging.ts";
import { datadogResourceType } from "./resource-type.ts";
import { USER } from "./users.ts";
import { dateOf, instantOf, latest, nonEmpty, profileOf } from "./values.ts";

export const API_KEY = "api-key";

// Keys have neither entitlements nor grants: saying so on the type saves the engine two calls per key.
export const apiKeyType = resourceType({
  id: API_KEY,
  displayName: "API Key",
  description: "Datadog API keys (metadata only, never the key's value)",
  traits: [ResourceType_Trait.SECRET],
  annotations: [annotate.skipEntitlementsAndGrants()],
});

const operations = {
  ListAPIKeys: op("ListAPIKeys", "GET", "/api/v2/api_keys", ["api_keys_read"], "list API keys"),
  GetAPIKey: op("GetAPIKey", "GET", "/api/v2/api_keys/{api_key_id}", ["api_keys_read"], "read an API key"),
  DeleteAPIKey: op("DeleteAPIKey", "DELETE", "/api/v2/api_keys/{api_key_id}", ["api_keys_delete"], "delete API keys"),
} as const;

const link = (deps: SyncerDeps, id: string) => deps.appLink(`/organization-settings/api-keys?id=${q(id)}`);

export function apiKeyToResource(key: ApiKey, deps: SyncerDeps): Resource {
  const a = key.attributes ?? {};
  const creator = key.relationships?.created_by?.data?.id;
  // Older answers carry only `date_last_used`; newer ones also `last_used_date.timestamp`, which may be the
  // only one set. The later of the two is the last use.
  const lastUsed = latest(dateOf(a.date_last_used), instantOf(a.last_used_date?.timestamp));
  return secretResource({
    type: API_KEY,
    id: key.id,
    displayName: nonEmpty(a.name) ?? key.id,
    profile: profileOf({
      name: nonEmpty(a.name),
      last4: a.last4,
      category: a.category,
      remote_config_read_enabled: a.remote_config_read_enabled,
      created_by: creator,
      modified_at: a.modified_at,
      used_in_last_24_hours: a.used_in_last_24_hours,
    }),
    createdAt: dateOf(a.created_at),
    annotations: link(deps, key.id),
    secret: {
      lastUsedAt: lastUsed,
      createdById: creator ? resourceId(USER, creator) : undefined,
    },
  });
}

/**
 * Revokes a key; a key that is already gone is success, so a repeated delete ends in the same state. That case
 * answers GrantAlreadyRevoked, as the other idempotent operations do, so the caller can say "already gone".
 */
export function keyDeleter(deps: SyncerDeps, what: string, del: (id: string, signal: AbortSignal) => Promise<void>): ResourceDeleter {
  return {
    async delete(ctx, id) {
      try {
        await del(id.resource, ctx.signal);
        ctx.logger.info({ keyId: id.resource }, `revoked Datadog ${what}`);
      } catch (err) {
        if (!isHttpStatus(err, 404)) throw datadogError(err, deps.client);
        ctx.logger.info({ keyId: id.resource }, `Datadog ${what} was already revoked (or never existed); nothing to do`);
        return { annotations: [annotate.grantAlreadyRevoked()] };
      }
      return {};
    },
  };
}

export function apiKeySyncer(deps: SyncerDeps): ResourceSyncer {
  const { client } = deps;
  return {
    resourceType: apiKeyType,
    async list(ctx, _parent, pageToken) {
      const page = await numberedPage(pageToken, "API keys", (n) => call(client, () => client.listAPIKeysPage(n, ctx.signal)));
      return { ...page, items: page.items.map((k) => apiKeyToResource(k, deps)) };
    },
    async get(ctx, id) {
      const key = await call(client, () => client.getAPIKey(id.resource, ctx.signal), { notFound: `Datadog API key "${id.resource}" does not exist` });
      return apiKeyToResource(key, deps);
    },
    deleter: keyDeleter(deps, "API key", (id, signal) => client.deleteAPIKey(id, signal)),
  };
}

export const apiKeys = datadogResourceType({
  type: apiKeyType,
  operations,
  enabledBy: "syncSecrets",
  diagnose: { what: "API keys", operation: operations.ListAPIKeys },
  syncer: apiKeySyncer,
});
