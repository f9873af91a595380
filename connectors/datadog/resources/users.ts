/**
 * `user`: every Datadog user, service accounts included. Pending invitations are users too: they are reported
 * ENABLED (the account exists and works once the invitation is accepted) with the status detail
 * "pending invitation" and profile `status: "Pending"`, `pending_invitation: true`, so a reviewer can tell them
 * apart without treating them as disabled accounts. Account creation (invite by email) and soft deletion
 * (Datadog's DELETE /users/{id} disables) live here too.
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";
import { annotate, resourceType } from "../../../src/index.ts";
import { userResource } from "../../../src/index.ts";
import { Code, ConnectorError } from "../../../src/index.ts";
import type { AccountManager, CallContext, CreateAccountResult, ResourceDeleter, ResourceSyncer } from "../../../src/index.ts";
import { CapabilityDetailCredentialOption } from "../../../src/messages.ts";
import { ResourceType_Trait, UserTrait_AccountType, UserTrait_MFAStatusSchema, UserTrait_StructuredNameSchema } from "../../../src/messages.ts";
import type { AccountInfo, Resource } from "../../../src/messages.ts";
import type { DatadogClient } from "../client/datadog-client.ts";
import type { Role, User } from "../client/schemas.ts";
import { op } from "../client/operation-info.ts";
import { USER_STATE_OPERATIONS } from "../client/user-state.ts";
import type { SyncerDeps } from "./deps.ts";
import { call, callOrAbsent, isHttpStatus, datadogError } from "./errors.ts";
import { q } from "./links.ts";
import { findUsersByEmail } from "./lookups.ts";
import { numberedPage } from "./paging.ts";
import { datadogResourceType } from "./resource-type.ts";
import { userActions } from "./user-actions.ts";
import { dateOf, nonEmpty, profileOf } from "./values.ts";

/** Resource type ids are part of the contract (they are in every stored entitlement and grant id): never change them. */
export const USER = "user";

// Users have neither entitlements nor grants: saying so on the type saves the engine two calls per user.
export const userType = resourceType({
  id: USER,
  displayName: "User",
  description: "Datadog users, service accounts included",
  traits: [ResourceType_Trait.USER],
  annotations: [annotate.skipEntitlementsAndGrants()],
});

const operations = {
  ListUsers: op("ListUsers", "GET", "/api/v2/users", ["user_access_read"], "list users"),
  GetUser: op("GetUser", "GET", "/api/v2/users/{user_id}", ["user_access_read"], "read a user"),
  CreateUser: op("CreateUser", "POST", "/api/v2/users", ["user_access_invite"], "create users"),
  DisableUser: op("DisableUser", "DELETE", "/api/v2/users/{user_id}", ["user_access_manage", "service_account_write"], "disable users"),
  SendInvitations: op("SendInvitations", "POST", "/api/v2/user_invitations", ["user_access_invite"], "send user invitations"),
  // UpdateUser re-enables users (the enable_user action, user-actions.ts).
  ...USER_STATE_OPERATIONS,
} as const;

const link = (deps: SyncerDeps, id: string) => deps.appLink(`/organization-settings/users?user_id=${q(id)}`);

export const userNotFound = (userId: string) => `Datadog user "${userId}" does not exist (principal user:${userId})`;

type UserState = "active" | "pending" | "disabled";

function stateOf(user: User): UserState {
  const a = user.attributes;
  const status = (a.status ?? "").toLowerCase();
  if (a.disabled || status === "disabled") return "disabled";
  if (status === "pending") return "pending";
  return "active";
}

/** Given and family name from a display name, when it has at least two words (never guessed for service accounts). */
function structuredName(name: string | undefined, serviceAccount: boolean) {
  if (!name || serviceAccount) return undefined;
  const parts = name.split(/\s+/).filter(Boolean);
  if (parts.length < 2) return undefined;
  return create(UserTrait_StructuredNameSchema, { givenName: parts[0], familyName: parts.slice(1).join(" ") });
}

/**
 * The login methods a user may use (`allowed_login_methods`, not in the spec): entries are read as names when
 * they are strings, or objects naming one by `type`, `name` or `id`; sorted, once each. Undefined when the answer
 * does not carry the field (unknown, not "none").
 */
export function loginMethodsOf(value: readonly unknown[] | null | undefined): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const names = new Set<string>();
  for (const entry of value) {
    const raw = typeof entry === "string" ? entry : entry && typeof entry === "object" ? pickName(entry as Record<string, unknown>) : undefined;
    const name = nonEmpty(raw);
    if (name) names.add(name.slice(0, 100));
    if (names.size >= 32) break;
  }
  return [...names].sort();
}

function pickName(entry: Record<string, unknown>): string | undefined {
  for (const key of ["type", "name", "id"]) if (typeof entry[key] === "string") return entry[key];
  return undefined;
}

export function userToResource(user: User, deps: SyncerDeps): Resource {
  const a = user.attributes;
  const serviceAccount = a.service_account === true;
  const state = stateOf(user);
  const name = nonEmpty(a.name);
  const handle = nonEmpty(a.handle) ?? a.email;
  const lastLogin = dateOf(a.last_login_time);
  const roleIds = (user.relationships?.roles?.data ?? []).map((r) => r.id);
  const profile: Record<string, JsonValue | null | undefined> = {
    email: a.email,
    handle,
    name,
    title: nonEmpty(a.title),
    status: a.status ?? (state === "disabled" ? "Disabled" : undefined),
    verified: a.verified ?? undefined,
    disabled: a.disabled ?? undefined,
    service_account: serviceAccount,
    // Absent on older accounts: left out (unknown), never false.
    mfa_enabled: a.mfa_enabled ?? undefined,
    allowed_login_methods: loginMethodsOf(a.allowed_login_methods),
    pending_invitation: state === "pending" ? true : undefined,
    role_ids: roleIds.length ? roleIds : undefined,
  };
  return userResource({
    type: USER,
    id: user.id,
    displayName: name ?? handle,
    description: serviceAccount ? "Datadog service account" : undefined,
    profile: profileOf(profile),
    status: state === "disabled" ? "disabled" : "enabled",
    statusDetails: state === "pending" ? "pending invitation" : undefined,
    createdAt: dateOf(a.created_at),
    annotations: link(deps, user.id),
    user: {
      emails: [{ address: a.email, isPrimary: true }],
      login: handle,
      loginAliases: handle.toLowerCase() !== a.email.toLowerCase() ? [a.email] : [],
      accountType: serviceAccount ? UserTrait_AccountType.SERVICE : UserTrait_AccountType.HUMAN,
      lastLogin: lastLogin ? timestampFromDate(lastLogin) : undefined,
      mfaStatus: a.mfa_enabled === null || a.mfa_enabled === undefined ? undefined : create(UserTrait_MFAStatusSchema, { mfaEnabled: a.mfa_enabled }),
      structuredName: structuredName(name, serviceAccount),
    },
  });
}

// ---- account creation ------------------------------------------------------------------------------------

function str(value: JsonValue | undefined): string | undefined {
  return typeof value === "string" ? nonEmpty(value) : undefined;
}

/** `roles` from a profile: a list of role ids or names, or one comma-separated string. */
export function rolesFromProfile(value: JsonValue | undefined): string[] {
  if (value === undefined || value === null) return [];
  const items = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : undefined;
  if (!items || items.some((v) => typeof v !== "string")) {
    throw new ConnectorError(Code.INVALID_ARGUMENT, 'create account: profile "roles" must be a list of role ids or names (or one comma-separated string)');
  }
  return [...new Set((items as string[]).map((s) => s.trim()).filter(Boolean))];
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function emailOf(info: AccountInfo, profile: JsonObject): string {
  const fromEmails = info.emails.find((e) => e.isPrimary)?.address ?? info.emails[0]?.address;
  const email = nonEmpty(fromEmails) ?? str(profile.email) ?? (info.login.includes("@") ? nonEmpty(info.login) : undefined);
  if (!email) {
    throw new ConnectorError(Code.INVALID_ARGUMENT, "create account: an email is required (account_info.emails, profile.email, or a login that is an email)");
  }
  if (!EMAIL.test(email)) throw new ConnectorError(Code.INVALID_ARGUMENT, `create account: "${email.slice(0, 254)}" is not an email address`);
  return email;
}

/** Role references (ids or exact names, case-insensitive) → role ids; an unknown one is NOT_FOUND naming it. */
async function resolveRoles(client: DatadogClient, refs: string[], signal: AbortSignal): Promise<string[]> {
  if (refs.length === 0) return [];
  const roles: Role[] = [];
  await call(client, async () => {
    for await (const page of client.allRoles(signal)) roles.push(...page);
  });
  const byId = new Map(roles.map((r) => [r.id, r.id]));
  const byName = new Map(roles.map((r) => [r.attributes.name.toLowerCase(), r.id]));
  return refs.map((ref) => {
    const id = byId.get(ref) ?? byName.get(ref.toLowerCase());
    if (!id) throw new ConnectorError(Code.NOT_FOUND, `create account: role "${ref}" does not exist in Datadog (give a role id or its exact name)`);
    return id;
  });
}

function accountManager(deps: SyncerDeps): AccountManager {
  const { client } = deps;
  const existing = async (email: string, signal: AbortSignal): Promise<CreateAccountResult | undefined> => {
    const [user] = await call(client, () => findUsersByEmail(client, email, signal));
    return user ? { kind: "already_exists", resource: userToResource(user, deps) } : undefined;
  };
  return {
    schema: {
      email: {
        displayName: "Email",
        required: true,
        description: "The user's email address; Datadog sends the invitation there",
        placeholder: "jane.doe@example.com",
        order: 1,
        field: { case: "stringField", value: {} },
      },
      name: { displayName: "Name", description: "Full name", placeholder: "Jane Doe", order: 2, field: { case: "stringField", value: {} } },
      title: { displayName: "Title", description: "Job title", placeholder: "SRE", order: 3, field: { case: "stringField", value: {} } },
      roles: {
        displayName: "Roles",
        description: "Initial roles: role ids or exact role names",
        placeholder: "Datadog Standard Role",
        order: 4,
        field: { case: "stringListField", value: {} },
      },
    },
    credentialOptions: [CapabilityDetailCredentialOption.NO_PASSWORD],
    preferredCredentialOption: CapabilityDetailCredentialOption.NO_PASSWORD,

    async create(ctx, info) {
      const profile = info.profile ?? {};
      const email = emailOf(info, profile);
      const name = str(profile.name);
      const title = str(profile.title);
      const roleRefs = rolesFromProfile(profile.roles);

      const before = await existing(email, ctx.signal);
      if (before) return before;
      const roleIds = await resolveRoles(client, roleRefs, ctx.signal);

      let user: User;
      try {
        user = await client.createUser({ email, name, title, roleIds }, ctx.signal);
      } catch (err) {
        // Someone created the same user between our look-up and the create: report theirs.
        if (isHttpStatus(err, 409)) {
          const after = await existing(email, ctx.signal);
          if (after) return after;
        }
        throw datadogError(err, client);
      }
      ctx.logger.info({ userId: user.id }, "created Datadog user");

      try {
        const [invitation] = await client.sendInvitations([user.id], ctx.signal);
        return {
          kind: "success",
          resource: userToResource(user, deps),
          invitationExpiresAt: dateOf(invitation?.attributes?.expires_at),
        };
      } catch (err) {
        // The account exists; only the e-mail is missing. Creating again would answer already_exists, so say
        // exactly what is left to do instead of failing.
        const reason = datadogError(err, client).message;
        ctx.logger.warn({ userId: user.id, err: reason }, "created the Datadog user but could not send the invitation");
        return {
          kind: "action_required",
          resource: userToResource(user, deps),
          message: `the user ${user.id} was created but the invitation could not be sent (${reason}); resend it from Datadog's user settings`,
        };
      }
    },
  };
}

function deleter(deps: SyncerDeps): ResourceDeleter {
  const { client } = deps;
  return {
    async delete(ctx, id) {
      const userId = id.resource;
      try {
        await client.disableUser(userId, ctx.signal);
      } catch (err) {
        if (!isHttpStatus(err, 404)) throw datadogError(err, client);
        // Datadog answers 404 for a user that is already disabled: that is success for a soft delete.
        const user = await callOrAbsent(client, () => client.getUser(userId, ctx.signal));
        if (!user) throw new ConnectorError(Code.NOT_FOUND, userNotFound(userId), { cause: err });
        if (stateOf(user) !== "disabled") throw datadogError(err, client);
        // Nothing changed: said the way a revoke of a revoked grant says it.
        ctx.logger.info({ userId }, "Datadog user was already disabled; nothing to do");
        return { annotations: [annotate.grantAlreadyRevoked()] };
      }
      ctx.logger.info({ userId }, "disabled Datadog user");
      return {};
    },
  };
}

export function userSyncer(deps: SyncerDeps): ResourceSyncer {
  const { client } = deps;
  return {
    resourceType: userType,
    async list(ctx: CallContext, _parent, pageToken) {
      const page = await numberedPage(pageToken, "users", (n) => call(client, () => client.listUsersPage(n, ctx.signal)));
      return { ...page, items: page.items.map((u) => userToResource(u, deps)) };
    },
    async get(ctx, id) {
      const user = await call(client, () => client.getUser(id.resource, ctx.signal), { notFound: userNotFound(id.resource) });
      return userToResource(user, deps);
    },
    accountManager: accountManager(deps),
    deleter: deleter(deps),
    actions: userActions(client),
  };
}

export const users = datadogResourceType({
  type: userType,
  operations,
  diagnose: { what: "users", operation: operations.ListUsers },
  syncer: userSyncer,
});
