/**
 * Roles and permissions: ListRoles, GetRole, ListRolePermissions, ListRoleUsers, AddUserToRole, RemoveUserFromRole,
 * ListPermissions.
 */
import { parseBody, RelationshipToUser } from "../bodies.ts";
import type { Org, SimRole } from "../model.ts";
import { readPage, slicePage, type PageRequest } from "../paging.ts";
import { permissionResource, roleResource, userResource } from "../resources.ts";
import type { RouteDef } from "../router.ts";
import { includedRoles } from "./users.ts";

const READ = ["user_access_read"];
const MANAGE = ["user_access_manage"];

/** Schema UsersResponse for one page of a role's users. */
function roleUsersPage(org: Org, role: SimRole, page: PageRequest): Record<string, unknown> {
  const all = role.users.values();
  const users = slicePage(all, page);
  return {
    data: users.map((u) => userResource(u, org)),
    included: includedRoles(users),
    meta: { page: { total_count: all.length, total_filtered_count: all.length } },
  };
}

/** AddUserToRole / RemoveUserFromRole: the same body and answer, one change to the org between them. */
function memberChange(method: "POST" | "DELETE", change: (org: Org, roleId: string, userId: string) => void): RouteDef {
  return {
    method,
    template: "/api/v2/roles/{role_id}/users",
    rateLimit: "roles",
    permissions: MANAGE,
    handler: ({ org, params, rawBody }) => {
      const body = parseBody(rawBody, RelationshipToUser);
      const role = org.role(params.role_id);
      change(org, role.id, body.data.id);
      return { status: 200, body: roleUsersPage(org, role, { number: 0, size: 10 }) };
    },
  };
}

export function roleRoutes(): RouteDef[] {
  return [
    {
      method: "GET",
      template: "/api/v2/roles",
      rateLimit: "roles",
      permissions: READ,
      paged: true,
      handler: ({ org, query }) => {
        const page = readPage(query);
        const needle = query.get("filter")?.toLowerCase() ?? "";
        const ids = query.get("filter[id]")?.split(",").filter(Boolean);
        const all = org.roles.values();
        const filtered =
          needle || ids ? all.filter((r) => (!needle || r.name.toLowerCase().includes(needle)) && (!ids || ids.includes(r.id))) : all;
        return {
          status: 200,
          body: {
            data: slicePage(filtered, page).map((r) => roleResource(r)),
            meta: { page: { total_count: all.length, total_filtered_count: filtered.length } },
          },
        };
      },
    },
    {
      method: "GET",
      template: "/api/v2/roles/{role_id}",
      rateLimit: "roles",
      permissions: READ,
      handler: ({ org, params }) => ({ status: 200, body: { data: roleResource(org.role(params.role_id)) } }),
    },
    {
      method: "GET",
      template: "/api/v2/roles/{role_id}/permissions",
      rateLimit: "roles",
      permissions: READ,
      handler: ({ org, params }) => ({ status: 200, body: { data: org.role(params.role_id).permissions.map(permissionResource) } }),
    },
    {
      method: "GET",
      template: "/api/v2/roles/{role_id}/users",
      rateLimit: "roles",
      permissions: READ,
      paged: true,
      handler: ({ org, params, query }) => {
        const role = org.role(params.role_id);
        return { status: 200, body: roleUsersPage(org, role, readPage(query)) };
      },
    },
    // Datadog answers 200 with the role's users whether or not the user already held (or lacked) the role.
    memberChange("POST", (org, roleId, userId) => org.addUserToRole(roleId, userId)),
    memberChange("DELETE", (org, roleId, userId) => org.removeUserFromRole(roleId, userId)),
    {
      method: "GET",
      template: "/api/v2/permissions",
      rateLimit: "roles",
      permissions: READ,
      handler: ({ org }) => ({ status: 200, body: { data: org.permissions.map(permissionResource) } }),
    },
  ];
}
