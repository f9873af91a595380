/**
 * `api-key`: Datadog API keys as secrets: name, creation, last use and creator, never the key's value (list
 * answers do not carry it, and nothing here asks for it). API keys belong to the organization, not to a user,
 * so the SecretTrait names the creator (`created_by_id`) and leaves `identity_id` empty.
 * Deleting the resource revokes the key; deleting a key that is already gone succeeds (idempotent).
 */
import { annotate } from "../../../src/index.ts";
import { resourceId, secretResource } from "../../../src/index.ts";
import type { ResourceDeleter, ResourceSyncer } from "../../../src/index.ts";
import type { Resource } from "../../../src/messages.ts";
import type { ApiKey } from "../client/index.ts";
import { call, datadogError, isHttpStatus } from "./errors.ts";
import { numberedPage } from "./paging.ts";
import { API_KEY, apiKeyType, USER } from "./resource-types.ts";
import type { SyncerDeps } from "./users.ts";
import { dateOf, instantOf, latest, nonEmpty, profileOf } from "./values.ts";

export function apiKeyToResource(key: ApiKey, links: SyncerDeps["links"]): Resource {
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
    annotations: links.apiKey(key.id),
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
  const { client, links } = deps;
  return {
    resourceType: apiKeyType,
    async list(ctx, _parent, pageToken) {
      const page = await numberedPage(pageToken, "API keys", (n) => call(client, () => client.listAPIKeysPage(n, ctx.signal)));
      return { ...page, items: page.items.map((k) => apiKeyToResource(k, links)) };
    },
    async entitlements() {
      return { items: [] };
    },
    async grants() {
      return { items: [] };
    },
    async get(ctx, id) {
      const key = await call(client, () => client.getAPIKey(id.resource, ctx.signal), { notFound: `Datadog API key "${id.resource}" does not exist` });
      return apiKeyToResource(key, links);
    },
    deleter: keyDeleter(deps, "API key", (id, signal) => client.deleteAPIKey(id, signal)),
  };
}
