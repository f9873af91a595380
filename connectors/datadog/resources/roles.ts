/**
 * `role`: Datadog roles with one entitlement, `member`, held by the role's users. The permission names go in
 * the profile: the list answer already carries each role's permission ids, so names come from one
 * ListPermissions per sync (kept in ctx.session, so a resumed sync does not ask again) instead of one request
 * per role.
 */
import { z } from "zod";
import { annotate, resourceType } from "../../../src/index.ts";
import { entitlement, grant, resourceId, roleResource } from "../../../src/index.ts";
import { Code, ConnectorError } from "../../../src/index.ts";
import type { CallContext, Provisioner, ResourceSyncer } from "../../../src/index.ts";
import { ResourceType_Trait, type Resource } from "../../../src/messages.ts";
import type { DatadogClient } from "../client/datadog-client.ts";
import type { Role } from "../client/schemas.ts";
import { op } from "../client/operation-info.ts";
import type { SyncerDeps } from "./deps.ts";
import { call } from "./errors.ts";
import { q } from "./links.ts";
import { getRole } from "./lookups.ts";
import { AUTHN_MAPPING_OPERATIONS } from "./sso-mappings.ts";
import { numberedPage } from "./paging.ts";
import { entitlementTarget, grantParts, principalUserId } from "./provisioning.ts";
import { datadogResourceType } from "./resource-type.ts";
import { USER, userNotFound, userType } from "./users.ts";
import { dateOf, profileOf } from "./values.ts";

export const ROLE = "role";

export const roleType = resourceType({
  id: ROLE,
  displayName: "Role",
  description: "Datadog roles; their permissions are in the profile",
  traits: [ResourceType_Trait.ROLE],
});

const operations = {
  ListRoles: op("ListRoles", "GET", "/api/v2/roles", ["user_access_read"], "list roles"),
  ListPermissions: op("ListPermissions", "GET", "/api/v2/permissions", ["user_access_read"], "list permissions"),
  ListRoleUsers: op("ListRoleUsers", "GET", "/api/v2/roles/{role_id}/users", ["user_access_read"], "list the users of a role"),
  ListRolePermissions: op("ListRolePermissions", "GET", "/api/v2/roles/{role_id}/permissions", ["user_access_read"], "list the permissions of a role"),
  AddUserToRole: op("AddUserToRole", "POST", "/api/v2/roles/{role_id}/users", ["user_access_manage"], "add users to roles"),
  RemoveUserFromRole: op("RemoveUserFromRole", "DELETE", "/api/v2/roles/{role_id}/users", ["user_access_manage"], "remove users from roles"),
  // The SAML mappings that grant roles (sso-mappings.ts): profiles with --sync-sso-mappings, revoke warnings.
  ...AUTHN_MAPPING_OPERATIONS,
} as const;

const link = (deps: SyncerDeps, id: string) => deps.appLink(`/organization-settings/roles/${q(id)}`);

const SLUGS = ["member"] as const;

const roleNotFound = (roleId: string) => `Datadog role "${roleId}" does not exist (entitlement role:${roleId}:member)`;

export function memberEntitlement(role: Resource) {
  return entitlement(role, "member", {
    displayName: `${role.displayName} member`,
    description: `Has the Datadog role ${role.displayName}`,
    grantableTo: [userType],
    purpose: "assignment",
  });
}

/** ctx.session key of the permission names: pairs, not an object, so no permission id can be "__proto__". */
const PERMISSION_NAMES_KEY = "role:permission-names";
const PermissionNamesSchema = z.array(z.tuple([z.string(), z.string()])).max(100_000);

/**
 * Permission id → name, fetched once per sync and kept in ctx.session (a resumed sync finds it there).
 * Pages of one sync that ask at the same moment share the one request in flight; that join is not a cache,
 * it ends when the request does.
 */
function permissionNames(client: DatadogClient): (ctx: CallContext) => Promise<Map<string, string>> {
  const inFlight = new Map<string, Promise<Map<string, string>>>();
  const fetchAndKeep = async (ctx: CallContext) => {
    const list = await call(client, () => client.listPermissions(ctx.signal));
    const names = new Map(list.map((p) => [p.id, p.attributes.name]));
    try {
      await ctx.session.setJson(PERMISSION_NAMES_KEY, [...names]);
    } catch (err) {
      // Only a cache: a value the session refuses (too large) means asking again, not failing the listing.
      ctx.logger.debug({ err: (err as Error).message }, "permission names not kept in the session");
    }
    return names;
  };
  return async (ctx) => {
    const kept = await ctx.session.getJson(PERMISSION_NAMES_KEY, (raw) => PermissionNamesSchema.parse(raw));
    if (kept) return new Map(kept);
    const join = ctx.activeSyncId;
    if (join === undefined) return fetchAndKeep(ctx);
    let pending = inFlight.get(join);
    if (!pending) {
      pending = fetchAndKeep(ctx).finally(() => inFlight.delete(join));
      inFlight.set(join, pending);
    }
    return pending;
  };
}

export function roleSyncer(deps: SyncerDeps): ResourceSyncer {
  const { client } = deps;
  const namesOf = permissionNames(client);

  const toResource = async (ctx: CallContext, role: Role): Promise<Resource> => {
    const refs = role.relationships?.permissions?.data;
    let permissions: string[];
    if (refs) {
      const names = await namesOf(ctx);
      permissions = refs.map((r) => names.get(r.id) ?? r.id);
    } else {
      // Only when an answer lacks the relationship: one request for this role.
      permissions = (await call(client, () => client.listRolePermissions(role.id, ctx.signal))).map((p) => p.attributes.name);
    }
    const sso = await deps.sso.profileFields(ctx, ROLE, role.id);
    return roleResource({
      type: ROLE,
      id: role.id,
      displayName: role.attributes.name,
      profile: profileOf({
        name: role.attributes.name,
        permissions: [...new Set(permissions)].sort(),
        user_count: role.attributes.user_count ?? undefined,
        modified_at: role.attributes.modified_at ?? undefined,
        ...sso,
      }),
      createdAt: dateOf(role.attributes.created_at),
      annotations: link(deps, role.id),
    });
  };

  const provisioner: Provisioner = {
    async grant(ctx, principal, ent) {
      const { resourceId: roleId } = entitlementTarget(ent, ROLE, SLUGS);
      const userId = principalUserId(principal, "grant role membership");
      const user = await call(client, () => client.getUser(userId, ctx.signal), { notFound: userNotFound(userId) });
      const granted = grant(ent, principal);
      if ((user.relationships?.roles?.data ?? []).some((r) => r.id === roleId)) {
        return { annotations: [annotate.grantAlreadyExists()], grants: [granted] };
      }
      // The user exists, so a 404 here can only be the role.
      await call(client, () => client.addUserToRole(roleId, userId, ctx.signal), { notFound: roleNotFound(roleId) });
      ctx.logger.info({ roleId, userId }, "added user to Datadog role");
      return { grants: [granted] };
    },

    async revoke(ctx, g) {
      const { resourceId: roleId, userId } = grantParts(g, ROLE, SLUGS, "revoke role membership");
      const user = await call(client, () => client.getUser(userId, ctx.signal), { notFound: userNotFound(userId) });
      if (!(user.relationships?.roles?.data ?? []).some((r) => r.id === roleId)) {
        if (!(await call(client, () => getRole(client, roleId, ctx.signal)))) throw new ConnectorError(Code.NOT_FOUND, roleNotFound(roleId));
        return { annotations: [annotate.grantAlreadyRevoked(), ...(await deps.sso.revokeWarning(ctx, ROLE, roleId, userId))] };
      }
      await call(client, () => client.removeUserFromRole(roleId, userId, ctx.signal), { notFound: roleNotFound(roleId) });
      ctx.logger.info({ roleId, userId }, "removed user from Datadog role");
      // A SAML mapping that grants the role gives it back at the next login: said, not refused.
      return { annotations: await deps.sso.revokeWarning(ctx, ROLE, roleId, userId) };
    },
  };

  return {
    resourceType: roleType,
    async list(ctx, _parent, pageToken) {
      const page = await numberedPage(pageToken, "roles", (n) => call(client, () => client.listRolesPage(n, ctx.signal)));
      return { ...page, items: await Promise.all(page.items.map((r) => toResource(ctx, r))) };
    },
    async entitlements(_ctx, resource) {
      return { items: [memberEntitlement(resource)] };
    },
    async grants(ctx, resource, pageToken) {
      const roleId = resource.id.resource;
      // A role can hold most of the org: its pages are fetched side by side, not as one long chain.
      const page = await numberedPage(pageToken, `users of role ${roleId}`, (n) =>
        call(client, () => client.listRoleUsersPage(roleId, n, ctx.signal), { notFound: `Datadog role "${roleId}" no longer exists` }),
      );
      const ent = memberEntitlement(resource);
      return { ...page, items: page.items.map((u) => grant(ent, resourceId(USER, u.id))) };
    },
    async get(ctx, id) {
      // The permission names are asked for alongside the role (one round trip, not two); a failure is seen below.
      namesOf(ctx).catch(() => undefined);
      const role = await call(client, () => getRole(client, id.resource, ctx.signal));
      if (!role) throw new ConnectorError(Code.NOT_FOUND, `Datadog role "${id.resource}" does not exist`);
      return toResource(ctx, role);
    },
    provisioner,
  };
}

export const roles = datadogResourceType({
  type: roleType,
  operations,
  diagnose: { what: "roles", operation: operations.ListRoles },
  syncer: roleSyncer,
});
