/**
 * JSON:API objects for users, roles, permissions, teams and team memberships, with the attribute names, types
 * and `type` values of Datadog's OpenAPI v2 spec (schemas User, Role, Permission, Team, UserTeam).
 */
import { createHash } from "node:crypto";
import { iso, isoOrNull, type Org, type SimMembership, type SimPermission, type SimRole, type SimTeam, type SimUser } from "./model.ts";

export type Json = Record<string, unknown>;

export const userRef = (id: string): Json => ({ id, type: "users" });

/** Accounts created before this have no `mfa_enabled` and no `last_login_time` at all, as older real accounts. */
export const LEGACY_ACCOUNTS_BEFORE = Date.UTC(2022, 6, 1);

// Derived from the id rather than stored: one string fewer per user.
const iconOf = (user: SimUser): string => `https://secure.gravatar.com/avatar/${user.id.replaceAll("-", "")}?s=48&d=retro`;

export function userAttributes(user: SimUser): Json {
  const attributes: Json = {
    name: user.name,
    handle: user.handle,
    created_at: iso(user.createdAt),
    modified_at: iso(user.modifiedAt),
    email: user.email,
    icon: iconOf(user),
    title: user.title,
    verified: user.verified,
    service_account: user.serviceAccount,
    disabled: user.disabled,
    status: user.status,
    allowed_login_methods: [...user.allowedLoginMethods],
  };
  if (user.createdAt >= LEGACY_ACCOUNTS_BEFORE) {
    attributes.mfa_enabled = user.mfaEnabled;
    attributes.last_login_time = isoOrNull(user.lastLoginTime);
  }
  return attributes;
}

/** A user as a membership's `included` carries it: a few attributes, no relationships. */
export function memberUserResource(user: SimUser): Json {
  return {
    type: "users",
    id: user.id,
    attributes: {
      name: user.name,
      handle: user.handle,
      email: user.email,
      icon: iconOf(user),
      disabled: user.disabled,
      service_account: user.serviceAccount,
    },
  };
}

/** Schema `User`. Without relationships for `included` copies, as Datadog sends them. */
export function userResource(user: SimUser, org: Org | null): Json {
  const resource: Json = { type: "users", id: user.id, attributes: userAttributes(user) };
  if (org) {
    resource.relationships = {
      roles: { data: user.roles.map((role) => ({ id: role.id, type: "roles" })) },
      org: { data: { id: org.uuid, type: "orgs" } },
    };
  }
  return resource;
}

/** Schema `Role`. */
export function roleResource(role: SimRole, withPermissions = true): Json {
  const resource: Json = {
    type: "roles",
    id: role.id,
    attributes: {
      name: role.name,
      created_at: iso(role.createdAt),
      modified_at: iso(role.modifiedAt),
      user_count: role.users.size,
    },
  };
  if (withPermissions) {
    resource.relationships = {
      permissions: { data: role.permissions.map((p) => ({ id: p.id, type: "permissions" })) },
    };
  }
  return resource;
}

/** Schema `Permission`. */
export function permissionResource(permission: SimPermission): Json {
  return {
    type: "permissions",
    id: permission.id,
    attributes: {
      name: permission.name,
      display_name: permission.displayName,
      display_type: permission.displayType,
      group_name: permission.groupName,
      created: iso(permission.created),
      restricted: permission.restricted,
    },
  };
}

/** Schema `Team` (type "team", singular, unlike on-call's "teams"). */
export function teamResource(team: SimTeam): Json {
  return {
    type: "team",
    id: team.id,
    attributes: {
      name: team.name,
      handle: team.handle,
      summary: team.summary,
      avatar: null,
      banner: null,
      user_count: team.members.size,
      link_count: team.linkCount,
      created_at: iso(team.createdAt),
      modified_at: iso(team.modifiedAt),
      is_managed: false,
      visible_modules: [],
      hidden_modules: [],
    },
    relationships: {
      team_links: { links: { related: `/api/v2/team/${team.id}/links` } },
      user_team_permissions: { links: { related: `/api/v2/team/${team.id}/permission-settings` } },
    },
  };
}

/**
 * A membership's own id: a UUID of its own (not the user's), derived from team and user so that it is stable
 * without being stored.
 */
export function membershipId(team: SimTeam, user: SimUser): string {
  const h = createHash("sha256").update(`${team.id}/${user.id}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Schema `UserTeam` (type "team_memberships"); `role` is null for a plain member. No `team` relationship, as real answers. */
export function membershipResource(team: SimTeam, membership: SimMembership): Json {
  return {
    type: "team_memberships",
    id: membershipId(team, membership.user),
    attributes: {
      role: membership.role,
      provisioned_by: membership.provisionedBy,
      provisioned_by_id: membership.provisionedById,
    },
    relationships: {
      user: { data: userRef(membership.user.id) },
    },
  };
}
