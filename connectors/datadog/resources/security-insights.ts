/**
 * `security-insight` (optional: --sync-security-insights / BATON_SYNC_SECURITY_INSIGHTS): risky access found
 * in the org, one resource per finding, each carrying a SecurityInsightTrait whose target is the user or key it
 * is about and whose issue says what is wrong and how severe it is:
 *
 *   admin-without-mfa            HIGH    an active person holding an admin permission, mfa_enabled false
 *                                        (unknown MFA, absent on older accounts, is not a finding; nor is a
 *                                        person who may only sign in with SAML: the identity provider does MFA)
 *   admin-service-account        MEDIUM  a service account holding an admin permission
 *   unused-api-key               MEDIUM  an API key not used for --security-insights-unused-key-days (default 90;
 *   unused-application-key       MEDIUM  never used: counted from its creation)
 *   api-key-of-disabled-user     MEDIUM  an API key created by a user who is now disabled (API keys stay valid)
 *   application-key-of-disabled-user MEDIUM  an application key owned by a disabled user
 *   stale-invitation             LOW     a user invited --security-insights-pending-invite-days ago (default 30)
 *                                        or more who never accepted
 *
 * "Admin" is decided by permission, not by role name: a role is an admin role when it grants one of
 * ADMIN_PERMISSIONS (user_access_manage: change anyone's access; org_management: change the org itself).
 *
 * One Datadog page per call, in three listings that page like every other (paging.ts, tokens prefixed with
 * "users:", "api-keys:", "application-keys:"): the first users page announces the other users pages and the
 * first page of each key listing, so the engine fetches them side by side. Users pages need the admin roles,
 * read once per sync (roles and permission names) and kept in ctx.session. Key pages ask Datadog to include each
 * key's creator or owner (`include=created_by` / `owned_by`), so a key's disabled owner is seen on the key's own
 * page with no request per key, and no page depends on another. A key listing the credentials may not read (403)
 * is skipped with a warning: the other insights are still worth having.
 */
import { create, type JsonValue } from "@bufbuild/protobuf";
import { anyPack, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { z } from "zod";
import type { Any } from "@bufbuild/protobuf/wkt";
import { annotate, Code, ConnectorError, findAnnotation, pack, resourceId, resourceType } from "../../../src/index.ts";
import type { CallContext, ResourceSyncer } from "../../../src/index.ts";
import {
  EnqueuePageTokensSchema,
  IssueSchema,
  ResourceSchema,
  ResourceType_Trait,
  SecurityInsightTraitSchema,
  SecurityInsightTrait_ExternalResourceTargetSchema,
  type Resource,
  type ResourceId,
} from "../../../src/messages.ts";
import type { DatadogClient } from "../client/datadog-client.ts";
import { checkPageNumber, nextPageNumber, type Page } from "../client/paging.ts";
import { parseResponse } from "../client/parse.ts";
import {
  API_KEY_ENTRY,
  APPLICATION_KEY_ENTRY,
  ApiKeySchema,
  ApiKeysResponseSchema,
  ApplicationKeySchema,
  ApplicationKeysResponseSchema,
  INCLUDED_ENTRY,
  UserSchema,
  type User,
} from "../client/schemas.ts";
import { readEntries, readIncluded, SkipTally } from "../client/tolerant.ts";
import type { OperationInfo } from "../client/operation-info.ts";
import { API_KEY, apiKeys } from "./api-keys.ts";
import { APPLICATION_KEY, applicationKeys } from "./application-keys.ts";
import type { InsightSettings, SyncerDeps } from "./deps.ts";
import { call } from "./errors.ts";
import { numberedPage } from "./paging.ts";
import { roles } from "./roles.ts";
import { USER, users } from "./users.ts";
import { datadogResourceType } from "./resource-type.ts";
import { dateOf, instantOf, latest, nonEmpty, profileOf } from "./values.ts";

export const SECURITY_INSIGHT = "security-insight";

/** Permissions that make a role an admin role. */
export const ADMIN_PERMISSIONS = ["user_access_manage", "org_management"] as const;

export type Severity = "CRITICAL" | "HIGH" | "MEDIUM" | "LOW";

export type InsightKind =
  | "admin-without-mfa"
  | "admin-service-account"
  | "unused-api-key"
  | "unused-application-key"
  | "api-key-of-disabled-user"
  | "application-key-of-disabled-user"
  | "stale-invitation";

export const SEVERITY: Record<InsightKind, Severity> = {
  "admin-without-mfa": "HIGH",
  "admin-service-account": "MEDIUM",
  "unused-api-key": "MEDIUM",
  "unused-application-key": "MEDIUM",
  "api-key-of-disabled-user": "MEDIUM",
  "application-key-of-disabled-user": "MEDIUM",
  "stale-invitation": "LOW",
};

// Insights have neither entitlements nor grants.
export const securityInsightType = resourceType({
  id: SECURITY_INSIGHT,
  displayName: "Security Insight",
  description: "Risky access in the Datadog org: admins without MFA, unused keys, keys of disabled users, admin service accounts, stale invitations",
  traits: [ResourceType_Trait.SECURITY_INSIGHT],
  annotations: [annotate.skipEntitlementsAndGrants()],
});

const operations = {
  ListUsers: users.operations.ListUsers,
  ListRoles: roles.operations.ListRoles,
  ListPermissions: roles.operations.ListPermissions,
  ListAPIKeys: apiKeys.operations.ListAPIKeys,
  ListApplicationKeys: applicationKeys.operations.ListApplicationKeys,
} as const;

const DAY_MS = 24 * 60 * 60 * 1000;
/** Admin role ids kept for the rest of the sync (ctx.session): roles are few, the list is bounded anyway. */
const ADMIN_ROLES_KEY = "security-insight:admin-roles";
const AdminRolesSchema = z.array(z.tuple([z.string(), z.string()])).max(100_000);

type Phase = "users" | "api-keys" | "application-keys";
const TOKEN = /^(users|api-keys|application-keys):(.*)$/s;

/** "" is the first users page; "<phase>:<page token>" a page of one phase (paging.ts tokens: "", "N", "N+"). */
function parseToken(token: string): { phase: Phase; inner: string } {
  if (token === "") return { phase: "users", inner: "" };
  const m = TOKEN.exec(token);
  if (!m) {
    throw new ConnectorError(
      Code.INVALID_ARGUMENT,
      `invalid page token for security insights: expected users:N, api-keys:N or application-keys:N, got ${JSON.stringify(token.slice(0, 40))}`,
    );
  }
  return { phase: m[1] as Phase, inner: m[2] };
}

const prefixed = (phase: Phase, inner: string) => (inner === "" ? "" : `${phase}:${inner}`);

/** A phase's page with its tokens (next page, announced pages) given back with the phase in front. */
function inPhase(phase: Phase, page: { nextPageToken: string; annotations?: Any[] }, alsoEnqueue: string[] = []): { nextPageToken: string; annotations: Any[] } {
  const announced = (findAnnotation(page.annotations, EnqueuePageTokensSchema)?.pageTokens ?? []).map((t) => `${phase}:${t}`);
  const pageTokens = [...announced, ...alsoEnqueue];
  return { nextPageToken: prefixed(phase, page.nextPageToken), annotations: pageTokens.length ? [pack(EnqueuePageTokensSchema, { pageTokens })] : [] };
}

interface Finding {
  kind: InsightKind;
  target: { type: typeof USER | typeof API_KEY | typeof APPLICATION_KEY; id: string; email?: string };
  title: string;
  detail: string;
  facts: Record<string, JsonValue | undefined>;
}

function insightResource(f: Finding, settings: InsightSettings, observedAt: Date): Resource {
  const severity = SEVERITY[f.kind];
  const isKey = f.target.type !== USER;
  // A key that is not synced (no --sync-secrets) is named by its Datadog id rather than a resource of the c1z.
  const target =
    isKey && !settings.keysSynced
      ? {
          case: "externalResource" as const,
          value: create(SecurityInsightTrait_ExternalResourceTargetSchema, {
            externalId: f.target.id,
            appHint: f.target.type === API_KEY ? "datadog:api_key" : "datadog:application_key",
          }),
        }
      : { case: "resourceId" as const, value: resourceId(f.target.type, f.target.id) as ResourceId };
  const trait = create(SecurityInsightTraitSchema, {
    insightType: { case: "issue", value: create(IssueSchema, { value: `${f.title}: ${f.detail}`, severity }) },
    observedAt: timestampFromDate(observedAt),
    target,
  });
  return create(ResourceSchema, {
    id: resourceId(SECURITY_INSIGHT, `${f.kind}:${f.target.id}`),
    displayName: f.title,
    description: f.detail,
    annotations: [anyPack(SecurityInsightTraitSchema, trait)],
    profile: profileOf({ kind: f.kind, severity, target_type: f.target.type, target_id: f.target.id, ...f.facts }),
  });
}

function daysSince(date: Date, now: Date): number {
  return Math.floor((now.getTime() - date.getTime()) / DAY_MS);
}

/** Only SAML sign-in allowed (the login methods are not in the spec: only plain names are trusted here). */
function samlOnly(user: User): boolean {
  const methods = user.attributes.allowed_login_methods;
  return Array.isArray(methods) && methods.length > 0 && methods.every((m) => typeof m === "string" && m.toLowerCase() === "saml");
}

function who(user: User): string {
  const name = nonEmpty(user.attributes.name);
  return name ? `${name} (${user.attributes.email})` : user.attributes.email;
}

function isDisabled(user: User): boolean {
  return user.attributes.disabled === true || (user.attributes.status ?? "").toLowerCase() === "disabled";
}

/** The insights about one user. `admin` names the admin roles the user holds (name by id). */
export function userFindings(user: User, adminRoles: Map<string, string>, settings: InsightSettings, now: Date): Finding[] {
  const a = user.attributes;
  if (isDisabled(user)) return [];
  const target = { type: USER, id: user.id, email: a.email } as const;
  const held = (user.relationships?.roles?.data ?? []).map((r) => r.id).filter((id) => adminRoles.has(id));
  const heldNames = held.map((id) => adminRoles.get(id)!);
  const out: Finding[] = [];
  const pending = (a.status ?? "").toLowerCase() === "pending";
  if (held.length > 0 && a.service_account === true) {
    out.push({
      kind: "admin-service-account",
      target,
      title: `Service account with admin permissions: ${who(user)}`,
      detail: `holds ${heldNames.join(", ")}, which grant ${ADMIN_PERMISSIONS.join(" / ")}; its application keys can change anyone's access`,
      facts: { admin_roles: heldNames },
    });
  } else if (held.length > 0 && !pending && a.mfa_enabled === false && !samlOnly(user)) {
    out.push({
      kind: "admin-without-mfa",
      target,
      title: `Admin without MFA: ${who(user)}`,
      detail: `holds ${heldNames.join(", ")} (${ADMIN_PERMISSIONS.join(" / ")}) and has no multi-factor authentication`,
      facts: { admin_roles: heldNames, mfa_enabled: false },
    });
  }
  const invited = dateOf(a.created_at);
  if (pending && a.service_account !== true && invited) {
    const days = daysSince(invited, now);
    if (days >= settings.pendingInviteDays) {
      out.push({
        kind: "stale-invitation",
        target,
        title: `Invitation pending for ${days} days: ${a.email}`,
        detail: `invited ${invited.toISOString().slice(0, 10)} and never accepted (threshold ${settings.pendingInviteDays} days); resend or remove it`,
        facts: { invited_at: invited.toISOString(), days_pending: days },
      });
    }
  }
  return out;
}

function unusedFinding(
  kind: "unused-api-key" | "unused-application-key",
  target: Finding["target"],
  name: string,
  lastUsed: Date | undefined,
  createdAt: Date | undefined,
  settings: InsightSettings,
  now: Date,
): Finding | undefined {
  const since = lastUsed ?? createdAt;
  if (!since) return undefined;
  const days = daysSince(since, now);
  if (days < settings.unusedKeyDays) return undefined;
  const what = kind === "unused-api-key" ? "API key" : "Application key";
  return {
    kind,
    target,
    title: `${what} unused for ${days} days: ${name}`,
    detail: lastUsed
      ? `last used ${lastUsed.toISOString().slice(0, 10)} (threshold ${settings.unusedKeyDays} days); revoke it if nothing needs it`
      : `never used since it was created ${since.toISOString().slice(0, 10)} (threshold ${settings.unusedKeyDays} days); revoke it if nothing needs it`,
    facts: { last_used_at: lastUsed?.toISOString(), created_at: createdAt?.toISOString(), days_unused: days, never_used: lastUsed ? undefined : true },
  };
}

function disabledOwnerFinding(
  kind: "api-key-of-disabled-user" | "application-key-of-disabled-user",
  target: Finding["target"],
  name: string,
  owner: User,
): Finding {
  const api = kind === "api-key-of-disabled-user";
  return {
    kind,
    target,
    title: `${api ? "API key created by" : "Application key owned by"} a disabled user: ${name}`,
    detail: `${owner.attributes.email} is disabled; ${api ? "the key still works and nobody answers for it" : "the key is a credential of someone who left"}; revoke or replace it`,
    facts: { owner_id: owner.id, owner_email: owner.attributes.email },
  };
}

/** A page of keys as paging.ts reads pages: the findings, with the key counts that decide the paging. */
type KeyPage = Page<Finding>;

/** One page of keys with their creators / owners included (one request), and the insights on it. */
async function keyPage(
  client: DatadogClient,
  which: "api-keys" | "application-keys",
  page: number,
  settings: InsightSettings,
  now: Date,
  signal: AbortSignal,
): Promise<KeyPage> {
  const api = which === "api-keys";
  const info: OperationInfo = api ? operations.ListAPIKeys : operations.ListApplicationKeys;
  const res = await client.sendOperation(info, {
    path: info.path,
    query: { "page[size]": client.pageSize, "page[number]": checkPageNumber(page), include: api ? "created_by" : "owned_by" },
    retryable: true,
    signal,
  });
  const tally = new SkipTally();
  const listing = `${info.path} (page ${page})`;
  const findings: Finding[] = [];
  let received: number;
  let total: number | undefined;
  if (api) {
    const body = parseResponse(info.id, ApiKeysResponseSchema, res.body);
    const owners = new Map(readIncluded(info.id, body.included, "users", UserSchema, INCLUDED_ENTRY, tally).map((u) => [u.id, u]));
    for (const key of readEntries(info.id, ApiKeySchema, body.data, API_KEY_ENTRY, tally)) {
      const a = key.attributes ?? {};
      const name = nonEmpty(a.name) ?? key.id;
      const target = { type: API_KEY, id: key.id } as const;
      const lastUsed = latest(dateOf(a.date_last_used), instantOf(a.last_used_date?.timestamp));
      const unused = unusedFinding("unused-api-key", target, name, lastUsed, dateOf(a.created_at), settings, now);
      if (unused) findings.push(unused);
      const owner = owners.get(key.relationships?.created_by?.data?.id ?? "");
      if (owner && isDisabled(owner)) findings.push(disabledOwnerFinding("api-key-of-disabled-user", target, name, owner));
    }
    received = body.data.length;
    total = body.meta?.page?.total_filtered_count ?? undefined;
  } else {
    const body = parseResponse(info.id, ApplicationKeysResponseSchema, res.body);
    const owners = new Map(readIncluded(info.id, body.included, "users", UserSchema, INCLUDED_ENTRY, tally).map((u) => [u.id, u]));
    for (const key of readEntries(info.id, ApplicationKeySchema, body.data, APPLICATION_KEY_ENTRY, tally)) {
      const a = key.attributes ?? {};
      const name = nonEmpty(a.name) ?? key.id;
      const target = { type: APPLICATION_KEY, id: key.id } as const;
      const unused = unusedFinding("unused-application-key", target, name, dateOf(a.last_used_at), dateOf(a.created_at), settings, now);
      if (unused) findings.push(unused);
      const owner = owners.get(key.relationships?.owned_by?.data?.id ?? "");
      if (owner && isDisabled(owner)) findings.push(disabledOwnerFinding("application-key-of-disabled-user", target, name, owner));
    }
    received = body.data.length;
    total = body.meta?.page?.total_filtered_count ?? undefined;
  }
  tally.warn(client.logger, info.id, listing);
  return { items: findings, received, total, nextPage: nextPageNumber(page, client.pageSize, received, total) };
}

/** Role id → name for the roles that grant an admin permission; read once per sync, kept in ctx.session. */
function adminRoles(client: DatadogClient): (ctx: CallContext) => Promise<Map<string, string>> {
  const inFlight = new Map<string, Promise<Map<string, string>>>();
  const read = async (ctx: CallContext) => {
    const [permissions, all] = await Promise.all([
      call(client, () => client.listPermissions(ctx.signal)),
      call(client, async () => {
        const out = [];
        for await (const page of client.allRoles(ctx.signal)) out.push(...page);
        return out;
      }),
    ]);
    const adminIds = new Set(permissions.filter((p) => (ADMIN_PERMISSIONS as readonly string[]).includes(p.attributes.name)).map((p) => p.id));
    const found = new Map<string, string>();
    for (const role of all) {
      const refs = role.relationships?.permissions?.data;
      let grants: boolean;
      if (refs) grants = refs.some((r) => adminIds.has(r.id));
      else {
        // Only when an answer lacks the relationship: one request for this role.
        const names = (await call(client, () => client.listRolePermissions(role.id, ctx.signal))).map((p) => p.attributes.name);
        grants = names.some((n) => (ADMIN_PERMISSIONS as readonly string[]).includes(n));
      }
      if (grants) found.set(role.id, role.attributes.name);
    }
    await ctx.session.setJson(ADMIN_ROLES_KEY, [...found]).catch(() => undefined);
    return found;
  };
  return async (ctx) => {
    const kept = await ctx.session.getJson(ADMIN_ROLES_KEY, (raw) => AdminRolesSchema.parse(raw));
    if (kept) return new Map(kept);
    const join = ctx.activeSyncId;
    if (join === undefined) return read(ctx);
    let pending = inFlight.get(join);
    if (!pending) {
      pending = read(ctx).finally(() => inFlight.delete(join));
      inFlight.set(join, pending);
    }
    return pending;
  };
}

export function securityInsightSyncer(deps: SyncerDeps): ResourceSyncer {
  const { client, insights: settings } = deps;
  const adminRolesOf = adminRoles(client);

  return {
    resourceType: securityInsightType,
    async list(ctx, _parent, pageToken) {
      const { phase, inner } = parseToken(pageToken);
      const now = new Date();
      const toResources = (findings: Finding[]) => findings.map((f) => insightResource(f, settings, now));
      if (phase === "users") {
        const admins = adminRolesOf(ctx);
        admins.catch(() => undefined); // awaited below; read beside the users page, not after it
        const page = await numberedPage(inner, "security insights (users)", (n) => call(client, () => client.listUsersPage(n, ctx.signal)));
        const adminRoleNames = await admins;
        const items = toResources(page.items.flatMap((u) => userFindings(u, adminRoleNames, settings, now)));
        // The first page also starts the key listings: they do not depend on the users, so they run beside them.
        return { items, ...inPhase(phase, page, inner === "" ? ["api-keys:", "application-keys:"] : []) };
      }
      try {
        const page = await numberedPage(inner, `security insights (${phase})`, (n) => call(client, () => keyPage(client, phase, n, settings, now, ctx.signal)));
        return { items: toResources(page.items), ...inPhase(phase, page) };
      } catch (err) {
        if (!(err instanceof ConnectorError && err.code === Code.PERMISSION_DENIED)) throw err;
        ctx.logger.warn({ phase, err: err.message }, `security insights about ${phase} skipped: the credentials may not list them`);
        return { items: [], nextPageToken: "" };
      }
    },
  };
}

// No diagnosis read of its own: the users, roles and keys it reads are those types' reads (keys are optional here).
export const securityInsights = datadogResourceType({
  type: securityInsightType,
  operations,
  enabledBy: "syncSecurityInsights",
  syncer: securityInsightSyncer,
});
