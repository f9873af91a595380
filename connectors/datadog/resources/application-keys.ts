/**
 * `application-key`: Datadog application keys as secrets: name, scopes, creation, last use and owner (a user
 * or a service account: the SecretTrait's identity). Real answers name no creator (only `owned_by`), so the
 * creator stays empty unless an answer carries `created_by`: the owner is not presented as the creator. Never
 * the key's value: the client drops it from every answer except a creation's.
 *
 * Deleting revokes the key (idempotent). Rotation replaces a service account's key: a new key for the same
 * owner with the same scopes and a derived name, then the old key is revoked, only once the new one exists;
 * if the old key cannot be revoked, the new one is revoked again so that nothing is left half-done. The new
 * value goes back to the SDK as PlaintextData (the SDK encrypts it for the requester and wipes the bytes);
 * it is never logged. A person's key cannot be rotated on their behalf: Datadog creates keys for other
 * identities only for service accounts, so that is FAILED_PRECONDITION.
 */
import { create } from "@bufbuild/protobuf";
import { annotate, resourceId, resourceType, secretResource } from "../../../src/index.ts";
import { Code, ConnectorError } from "../../../src/index.ts";
import type { CredentialManager, ResourceSyncer } from "../../../src/index.ts";
import { CapabilityDetailCredentialOption } from "../../../src/messages.ts";
import { PlaintextDataSchema, ResourceType_Trait, type Resource } from "../../../src/messages.ts";
import type { ApplicationKey } from "../client/schemas.ts";
import { op } from "../client/operation-info.ts";
import { keyDeleter } from "./api-keys.ts";
import type { SyncerDeps } from "./deps.ts";
import { call, datadogError, isHttpStatus } from "./errors.ts";
import { q } from "./links.ts";
import { numberedPage } from "./paging.ts";
import { datadogResourceType } from "./resource-type.ts";
import { USER } from "./users.ts";
import { dateOf, nonEmpty, profileOf } from "./values.ts";

export const APPLICATION_KEY = "application-key";

export const applicationKeyType = resourceType({
  id: APPLICATION_KEY,
  displayName: "Application Key",
  description: "Datadog application keys (metadata only, never the key's value)",
  traits: [ResourceType_Trait.SECRET],
  annotations: [annotate.skipEntitlementsAndGrants()],
});

const operations = {
  ListApplicationKeys: op("ListApplicationKeys", "GET", "/api/v2/application_keys", ["org_app_keys_read"], "list application keys"),
  GetApplicationKey: op("GetApplicationKey", "GET", "/api/v2/application_keys/{app_key_id}", ["org_app_keys_read"], "read an application key"),
  DeleteApplicationKey: op("DeleteApplicationKey", "DELETE", "/api/v2/application_keys/{app_key_id}", ["org_app_keys_write"], "delete application keys"),
  ListServiceAccountApplicationKeys: op(
    "ListServiceAccountApplicationKeys",
    "GET",
    "/api/v2/service_accounts/{service_account_id}/application_keys",
    ["service_account_write"],
    "list a service account's application keys",
  ),
  CreateServiceAccountApplicationKey: op(
    "CreateServiceAccountApplicationKey",
    "POST",
    "/api/v2/service_accounts/{service_account_id}/application_keys",
    ["service_account_write"],
    "create service account application keys",
  ),
  DeleteServiceAccountApplicationKey: op(
    "DeleteServiceAccountApplicationKey",
    "DELETE",
    "/api/v2/service_accounts/{service_account_id}/application_keys/{app_key_id}",
    ["service_account_write"],
    "delete service account application keys",
  ),
} as const;

const link = (deps: SyncerDeps, id: string) => deps.appLink(`/organization-settings/application-keys?id=${q(id)}`);

export function applicationKeyToResource(key: ApplicationKey, deps: SyncerDeps): Resource {
  const a = key.attributes ?? {};
  const owner = key.relationships?.owned_by?.data?.id;
  const ownerId = owner ? resourceId(USER, owner) : undefined;
  const creator = key.relationships?.created_by?.data?.id;
  return secretResource({
    type: APPLICATION_KEY,
    id: key.id,
    displayName: nonEmpty(a.name) ?? key.id,
    profile: profileOf({
      name: nonEmpty(a.name),
      last4: a.last4,
      // null scopes = unrestricted (the key can do whatever its owner can).
      scopes: a.scopes ?? undefined,
      scoped: Array.isArray(a.scopes),
      owner_id: owner,
    }),
    createdAt: dateOf(a.created_at),
    annotations: link(deps, key.id),
    secret: { lastUsedAt: dateOf(a.last_used_at), createdById: creator ? resourceId(USER, creator) : undefined, identityId: ownerId },
  });
}

const ROTATED_SUFFIX = / \(rotated \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\)$/;

/** "<name> (rotated <UTC time>)", replacing the suffix of an earlier rotation so names do not grow. */
export function rotatedName(name: string, now: Date): string {
  const base = name.replace(ROTATED_SUFFIX, "");
  return `${base} (rotated ${now.toISOString().replace(/\.\d{3}Z$/, "Z")})`;
}

function credentialManager(deps: SyncerDeps): CredentialManager {
  const { client } = deps;
  return {
    credentialOptions: [CapabilityDetailCredentialOption.API_KEY],
    preferredCredentialOption: CapabilityDetailCredentialOption.API_KEY,

    async rotate(ctx, id) {
      const keyId = id.resource;
      const signal = ctx.signal;
      const old = await call(client, () => client.getApplicationKey(keyId, signal), {
        notFound: `Datadog application key "${keyId}" does not exist (resource application-key:${keyId})`,
      });
      const ownerId = old.relationships?.owned_by?.data?.id;
      if (!ownerId) {
        throw new ConnectorError(Code.FAILED_PRECONDITION, `Datadog did not say who owns application key ${keyId}, so it cannot be replaced for the same owner`);
      }
      const owner = await call(client, () => client.getUser(ownerId, signal), {
        notFound: `the owner "${ownerId}" of application key ${keyId} does not exist`,
      });
      if (!owner.attributes.service_account) {
        throw new ConnectorError(
          Code.FAILED_PRECONDITION,
          `application key ${keyId} belongs to user ${ownerId}, a person, not a service account: Datadog creates application keys ` +
            "on someone's behalf only for service accounts, so this key must be replaced by its owner",
        );
      }

      const scopes = old.attributes?.scopes;
      const name = rotatedName(nonEmpty(old.attributes?.name) ?? keyId, new Date());
      const created = await call(client, () =>
        client.createServiceAccountApplicationKey(ownerId, { name, scopes: Array.isArray(scopes) ? scopes : undefined }, signal),
      );

      // From here on the new key exists: finish (or undo) without honouring cancellation, or a key is orphaned.
      try {
        await client.deleteServiceAccountApplicationKey(ownerId, keyId);
      } catch (err) {
        if (!isHttpStatus(err, 404)) {
          const cause = datadogError(err, client);
          let undo = "the new key was revoked again; the old key still works";
          try {
            await client.deleteServiceAccountApplicationKey(ownerId, created.id);
          } catch (undoErr) {
            undo = `the new key ${created.id} could not be revoked either (${datadogError(undoErr, client).message}); revoke it by hand`;
          }
          throw new ConnectorError(cause.code, `rotating application key ${keyId}: the old key could not be revoked (${cause.message}); ${undo}`, {
            cause: err,
            details: cause.details,
          });
        }
        // Already gone (someone revoked it meanwhile): the rotation's goal is reached.
      }
      ctx.logger.info({ oldKeyId: keyId, newKeyId: created.id, ownerId }, "rotated Datadog application key");
      return {
        plaintext: [
          create(PlaintextDataSchema, {
            name: "application_key",
            description: `Datadog application key ${created.id} of service account ${ownerId} (replaces ${keyId})`,
            bytes: new TextEncoder().encode(created.key),
          }),
        ],
      };
    },
  };
}

export function applicationKeySyncer(deps: SyncerDeps): ResourceSyncer {
  const { client } = deps;
  return {
    resourceType: applicationKeyType,
    async list(ctx, _parent, pageToken) {
      const page = await numberedPage(pageToken, "application keys", (n) => call(client, () => client.listApplicationKeysPage(n, ctx.signal)));
      return { ...page, items: page.items.map((k) => applicationKeyToResource(k, deps)) };
    },
    async get(ctx, id) {
      const key = await call(client, () => client.getApplicationKey(id.resource, ctx.signal), {
        notFound: `Datadog application key "${id.resource}" does not exist`,
      });
      return applicationKeyToResource(key, deps);
    },
    deleter: keyDeleter(deps, "application key", (id, signal) => client.deleteApplicationKey(id, signal)),
    credentialManager: credentialManager(deps),
  };
}

export const applicationKeys = datadogResourceType({
  type: applicationKeyType,
  operations,
  enabledBy: "syncSecrets",
  diagnose: { what: "application keys", operation: operations.ListApplicationKeys },
  syncer: applicationKeySyncer,
});
