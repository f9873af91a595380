/**
 * API and application keys: list, get, delete; service-account application keys: list, create (the key value
 * is in that one answer only, as with Datadog), delete. Created keys authenticate at once; deleted ones stop.
 */
import { createHash } from "node:crypto";
import type { Credentials } from "../auth.ts";
import { ApplicationKeyCreateRequest, parseBody } from "../bodies.ts";
import { notFound } from "../errors.ts";
import { iso, isoOrNull, type SimApiKey, type SimAppKey, type SimUser } from "../model.ts";
import { readPage, slicePage } from "../paging.ts";
import { userRef, userResource, type Json } from "../resources.ts";
import type { RouteDef } from "../router.ts";

function includes(query: URLSearchParams): Set<string> {
  return new Set((query.get("include") ?? "").split(",").map((s) => s.trim()).filter(Boolean));
}

function includedUsers(users: Iterable<SimUser>): Json[] {
  const unique = new Map<string, SimUser>();
  for (const user of users) unique.set(user.id, user);
  return [...unique.values()].map((u) => userResource(u, null));
}

/** Schemas PartialAPIKey / FullAPIKey (the latter carries `key`). */
function apiKeyResource(key: SimApiKey, full: boolean): Json {
  const attributes: Json = {
    name: key.name,
    created_at: iso(key.createdAt),
    modified_at: iso(key.modifiedAt),
    last4: key.key.slice(-4),
    date_last_used: key.legacyLastUsed ? isoOrNull(key.dateLastUsed) : null,
    // Not in the spec; newer real answers carry both.
    last_used_date: key.dateLastUsed === null ? null : { timestamp: iso(key.dateLastUsed) },
    used_in_last_24_hours: key.usedInLast24Hours,
    category: key.category,
    remote_config_read_enabled: key.remoteConfigReadEnabled,
  };
  if (full) attributes.key = key.key;
  return {
    type: "api_keys",
    id: key.id,
    attributes,
    relationships: {
      created_by: { data: userRef(key.createdBy.id) },
      modified_by: { data: userRef(key.createdBy.id) },
    },
  };
}

/** Schemas PartialApplicationKey / FullApplicationKey; `secret` only right after creation. */
function appKeyResource(key: SimAppKey, secret?: string): Json {
  const attributes: Json = {
    name: key.name,
    created_at: iso(key.createdAt),
    last4: key.last4,
    last_used_at: isoOrNull(key.lastUsedAt),
    scopes: key.scopes === null ? null : [...key.scopes],
  };
  if (secret !== undefined) attributes.key = secret;
  return { type: "application_keys", id: key.id, attributes, relationships: { owned_by: { data: userRef(key.owner.id) } } };
}

function appKeyPage(keys: readonly SimAppKey[], query: URLSearchParams, withOwners: boolean): Json {
  const page = readPage(query);
  const needle = query.get("filter")?.toLowerCase() ?? "";
  const filtered = needle ? keys.filter((k) => k.name.toLowerCase().includes(needle)) : keys;
  const slice = slicePage(filtered, page);
  const doc: Json = {
    data: slice.map((k) => appKeyResource(k)),
    meta: { max_allowed_per_user: 1000, page: { total_filtered_count: filtered.length } },
  };
  if (withOwners) doc.included = includedUsers(slice.map((k) => k.owner));
  return doc;
}

/** The simulator's own application key as a listed key of its owner (a stable id derived from the secret). */
function ownKeyOf(owner: SimUser, secret: string, scopes: readonly string[] | null): SimAppKey {
  const hex = createHash("sha256").update(secret).digest("hex");
  const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  return { id, name: "simulator key", owner, createdAt: Date.UTC(2022, 0, 1), last4: secret.slice(-4), lastUsedAt: null, scopes };
}

export function keyRoutes(credentials: Credentials): RouteDef[] {
  return [
    {
      method: "GET",
      template: "/api/v2/api_keys",
      rateLimit: "api_keys",
      permissions: ["api_keys_read"],
      paged: true,
      handler: ({ org, query }) => {
        const page = readPage(query);
        const needle = query.get("filter")?.toLowerCase() ?? "";
        const all = org.apiKeys.values();
        const filtered = needle ? all.filter((k) => k.name.toLowerCase().includes(needle)) : all;
        const slice = slicePage(filtered, page);
        const body: Json = {
          data: slice.map((k) => apiKeyResource(k, false)),
          meta: { max_allowed: 5000, page: { total_filtered_count: filtered.length } },
        };
        const include = includes(query);
        if (include.has("created_by") || include.has("modified_by")) body.included = includedUsers(slice.map((k) => k.createdBy));
        return { status: 200, body };
      },
    },
    {
      method: "GET",
      template: "/api/v2/api_keys/{api_key_id}",
      rateLimit: "api_keys",
      permissions: ["api_keys_read"],
      handler: ({ org, params, query }) => {
        const key = org.apiKey(params.api_key_id);
        const body: Json = { data: apiKeyResource(key, true) };
        const include = includes(query);
        if (include.has("created_by") || include.has("modified_by")) body.included = includedUsers([key.createdBy]);
        return { status: 200, body };
      },
    },
    {
      method: "DELETE",
      template: "/api/v2/api_keys/{api_key_id}",
      rateLimit: "api_keys",
      permissions: ["api_keys_delete"],
      handler: ({ org, params }) => {
        org.deleteApiKey(params.api_key_id);
        return { status: 204 };
      },
    },
    {
      method: "GET",
      template: "/api/v2/application_keys",
      rateLimit: "application_keys",
      permissions: ["org_app_keys_read"],
      paged: true,
      handler: ({ org, query }) => ({
        status: 200,
        body: appKeyPage(org.appKeys.values(), query, includes(query).has("owned_by")),
      }),
    },
    {
      method: "GET",
      template: "/api/v2/application_keys/{app_key_id}",
      rateLimit: "application_keys",
      permissions: ["org_app_keys_read"],
      handler: ({ org, params, query }) => {
        const key = org.appKey(params.app_key_id);
        const body: Json = { data: appKeyResource(key) };
        if (includes(query).has("owned_by")) body.included = includedUsers([key.owner]);
        return { status: 200, body };
      },
    },
    {
      method: "DELETE",
      template: "/api/v2/application_keys/{app_key_id}",
      rateLimit: "application_keys",
      permissions: ["org_app_keys_write"],
      handler: ({ org, params }) => {
        const key = org.deleteAppKey(params.app_key_id);
        credentials.revokeAppKeyId(key.id);
        return { status: 204 };
      },
    },
    {
      // The caller's own keys. The simulator's own application key is not one of the org's listed keys (so a
      // sync's counts stay the generator's); it is shown here too, as Datadog shows the key in use among its
      // owner's keys, with the scopes it has.
      method: "GET",
      template: "/api/v2/current_user/application_keys",
      rateLimit: "application_keys",
      permissions: ["user_app_keys"],
      paged: true,
      handler: ({ org, query, principal, headers }) => {
        const userId = principal?.userId ?? null;
        const keys = userId === null ? [] : [...org.appKeysOwnedBy(userId)];
        const secret = headers["dd-application-key"];
        if (userId !== null && principal?.kind === "keys" && principal.appKeyId === null && typeof secret === "string") {
          keys.unshift(ownKeyOf(org.user(userId), secret, principal.scopes));
        }
        return { status: 200, body: appKeyPage(keys, query, false) };
      },
    },
    {
      method: "GET",
      template: "/api/v2/service_accounts/{service_account_id}/application_keys",
      rateLimit: "application_keys",
      permissions: ["service_account_write"],
      paged: true,
      handler: ({ org, params, query }) => {
        const account = org.serviceAccount(params.service_account_id);
        return { status: 200, body: appKeyPage(org.appKeysOwnedBy(account.id), query, false) };
      },
    },
    {
      method: "POST",
      template: "/api/v2/service_accounts/{service_account_id}/application_keys",
      rateLimit: "application_keys",
      permissions: ["service_account_write"],
      handler: ({ org, params, rawBody }) => {
        const account = org.serviceAccount(params.service_account_id);
        const body = parseBody(rawBody, ApplicationKeyCreateRequest);
        const { name, scopes } = body.data.attributes;
        const { appKey, secret } = org.createAppKey(account, name, scopes ?? null);
        credentials.addAppKey(secret, { appKeyId: appKey.id, ownerId: account.id, scopes: appKey.scopes });
        return { status: 201, body: { data: appKeyResource(appKey, secret) } };
      },
    },
    {
      method: "DELETE",
      template: "/api/v2/service_accounts/{service_account_id}/application_keys/{app_key_id}",
      rateLimit: "application_keys",
      permissions: ["service_account_write"],
      handler: ({ org, params }) => {
        const account = org.serviceAccount(params.service_account_id);
        const key = org.appKeys.get(params.app_key_id);
        if (!key || key.owner.id !== account.id) throw notFound(`Application key ${params.app_key_id} of service account ${account.id}`);
        org.deleteAppKey(key.id);
        credentials.revokeAppKeyId(key.id);
        return { status: 204 };
      },
    },
  ];
}
