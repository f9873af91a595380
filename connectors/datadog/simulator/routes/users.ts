/** Users and invitations: ListUsers, GetUser, CreateUser, UpdateUser, DisableUser, SendInvitations. */
import { parseBody, UserCreateRequest, UserInvitationsRequest, UserUpdateRequest } from "../bodies.ts";
import { ApiError } from "../errors.ts";
import { iso, type SimPermission, type SimRole, type SimUser } from "../model.ts";
import { readPage, slicePage } from "../paging.ts";
import { permissionResource, roleResource, userRef, userResource, type Json } from "../resources.ts";
import type { RouteDef } from "../router.ts";

const READ = ["user_access_read"];

/**
 * Roles referenced by a page of users, once each, with their permission ids, and those permissions themselves:
 * what real Datadog sends in `included` (about 150 entries for two users of the standard roles).
 */
export function includedRoles(users: readonly SimUser[]): Json[] {
  const roles = new Map<string, SimRole>();
  for (const user of users) for (const role of user.roles) roles.set(role.id, role);
  const permissions = new Map<string, SimPermission>();
  for (const role of roles.values()) for (const p of role.permissions) permissions.set(p.id, p);
  return [...[...roles.values()].map((role) => roleResource(role, true)), ...[...permissions.values()].map(permissionResource)];
}

function matchesFilter(user: SimUser, needle: string): boolean {
  return (
    user.email.toLowerCase().includes(needle) ||
    user.handle.toLowerCase().includes(needle) ||
    (user.name?.toLowerCase().includes(needle) ?? false)
  );
}

export function userRoutes(): RouteDef[] {
  return [
    {
      method: "GET",
      template: "/api/v2/users",
      rateLimit: "users",
      permissions: READ,
      paged: true,
      handler: ({ org, query }) => {
        const page = readPage(query);
        const needle = query.get("filter")?.toLowerCase() ?? "";
        const statuses = query.get("filter[status]")?.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean) ?? [];
        const all = org.users.values();
        const filtered =
          needle || statuses.length
            ? all.filter((u) => (!needle || matchesFilter(u, needle)) && (!statuses.length || statuses.includes(u.status.toLowerCase())))
            : all;
        const users = slicePage(filtered, page);
        return {
          status: 200,
          body: {
            data: users.map((u) => userResource(u, org)),
            included: includedRoles(users),
            meta: { page: { total_count: all.length, total_filtered_count: filtered.length } },
          },
        };
      },
    },
    {
      method: "GET",
      template: "/api/v2/users/{user_id}",
      rateLimit: "users",
      permissions: READ,
      handler: ({ org, params }) => {
        const user = org.user(params.user_id);
        return { status: 200, body: { data: userResource(user, org), included: includedRoles([user]) } };
      },
    },
    {
      // The permissions the user's roles grant (ListUserPermissions), each once.
      method: "GET",
      template: "/api/v2/users/{user_id}/permissions",
      rateLimit: "users",
      permissions: READ,
      handler: ({ org, params }) => {
        const user = org.user(params.user_id);
        const permissions = new Map<string, SimPermission>();
        for (const role of user.roles) for (const permission of role.permissions) permissions.set(permission.id, permission);
        return { status: 200, body: { data: [...permissions.values()].map(permissionResource) } };
      },
    },
    {
      method: "POST",
      template: "/api/v2/users",
      rateLimit: "users",
      permissions: ["user_access_invite"],
      handler: ({ org, rawBody }) => {
        const body = parseBody(rawBody, UserCreateRequest);
        const { email, name, title } = body.data.attributes;
        const roleIds = body.data.relationships?.roles?.data?.map((r) => r.id) ?? [];
        const user = org.createUser({ email, name, title, roleIds });
        return { status: 201, body: { data: userResource(user, org), included: includedRoles([user]) } };
      },
    },
    {
      method: "DELETE",
      template: "/api/v2/users/{user_id}",
      rateLimit: "users",
      permissions: ["user_access_manage", "service_account_write"],
      handler: ({ org, params }) => {
        org.disableUser(params.user_id);
        return { status: 204 };
      },
    },
    {
      // UpdateUser: `disabled` re-enables or disables; name is changed as given. (Email changes are not simulated.)
      method: "PATCH",
      template: "/api/v2/users/{user_id}",
      rateLimit: "users",
      permissions: ["user_access_manage", "service_account_write"],
      handler: ({ org, params, rawBody }) => {
        const body = parseBody(rawBody, UserUpdateRequest);
        const user = org.user(params.user_id);
        if (body.data.id !== user.id) throw new ApiError(422, `data.id ${body.data.id} does not match the user ${user.id} of the path`);
        const { disabled, name } = body.data.attributes;
        if (name !== undefined) user.name = name;
        if (disabled !== undefined) org.setUserDisabled(user.id, disabled);
        return { status: 200, body: { data: userResource(user, org), included: includedRoles([user]) } };
      },
    },
    {
      method: "POST",
      template: "/api/v2/user_invitations",
      rateLimit: "users",
      permissions: ["user_access_invite"],
      handler: ({ org, rawBody }) => {
        const body = parseBody(rawBody, UserInvitationsRequest);
        // Check every user first so that a bad id sends no invitation at all.
        const users = body.data.map((item) => org.user(item.relationships.user.data.id));
        const invitations = users.map((user) => org.inviteUser(user.id));
        return {
          status: 201,
          body: {
            data: invitations.map((inv) => ({
              type: "user_invitations",
              id: inv.id,
              attributes: {
                uuid: inv.id,
                created_at: iso(inv.createdAt),
                expires_at: iso(inv.expiresAt),
                invite_type: inv.inviteType,
              },
              relationships: { user: { data: userRef(inv.user.id) } },
            })),
          },
        };
      },
    },
  ];
}
