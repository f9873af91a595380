/**
 * The Datadog operations the connector uses: method, path template and the permission the spec documents for
 * each (x-permission, or the AuthZ scope where x-permission is absent). The permission names feed the
 * diagnosis ("missing permission user_access_read, needed to list users and roles").
 */

export interface OperationInfo {
  id: string;
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  /** Any one of these is enough (the spec's operator is OR for all of ours). */
  permissions: readonly string[];
  /** What the operation is for, in words, e.g. "list users". */
  purpose: string;
}

function op(id: string, method: OperationInfo["method"], path: string, permissions: string[], purpose: string): OperationInfo {
  return { id, method, path, permissions, purpose };
}

export const OPERATIONS = {
  Validate: op("Validate", "GET", "/api/v1/validate", [], "validate the API key"),
  ListUsers: op("ListUsers", "GET", "/api/v2/users", ["user_access_read"], "list users"),
  GetUser: op("GetUser", "GET", "/api/v2/users/{user_id}", ["user_access_read"], "read a user"),
  CreateUser: op("CreateUser", "POST", "/api/v2/users", ["user_access_invite"], "create users"),
  DisableUser: op("DisableUser", "DELETE", "/api/v2/users/{user_id}", ["user_access_manage", "service_account_write"], "disable users"),
  SendInvitations: op("SendInvitations", "POST", "/api/v2/user_invitations", ["user_access_invite"], "send user invitations"),
  ListRoles: op("ListRoles", "GET", "/api/v2/roles", ["user_access_read"], "list roles"),
  ListUserPermissions: op("ListUserPermissions", "GET", "/api/v2/users/{user_id}/permissions", ["user_access_read"], "list the permissions a user's roles grant"),
  ListCurrentUserApplicationKeys: op(
    "ListCurrentUserApplicationKeys",
    "GET",
    "/api/v2/current_user/application_keys",
    ["user_app_keys"],
    "list the caller's own application keys",
  ),
  ListPermissions: op("ListPermissions", "GET", "/api/v2/permissions", ["user_access_read"], "list permissions"),
  ListRoleUsers: op("ListRoleUsers", "GET", "/api/v2/roles/{role_id}/users", ["user_access_read"], "list the users of a role"),
  ListRolePermissions: op("ListRolePermissions", "GET", "/api/v2/roles/{role_id}/permissions", ["user_access_read"], "list the permissions of a role"),
  AddUserToRole: op("AddUserToRole", "POST", "/api/v2/roles/{role_id}/users", ["user_access_manage"], "add users to roles"),
  RemoveUserFromRole: op("RemoveUserFromRole", "DELETE", "/api/v2/roles/{role_id}/users", ["user_access_manage"], "remove users from roles"),
  ListTeams: op("ListTeams", "GET", "/api/v2/team", ["teams_read"], "list teams"),
  GetTeam: op("GetTeam", "GET", "/api/v2/team/{team_id}", ["teams_read"], "read a team"),
  GetTeamMemberships: op("GetTeamMemberships", "GET", "/api/v2/team/{team_id}/memberships", ["teams_read"], "list team members"),
  CreateTeamMembership: op("CreateTeamMembership", "POST", "/api/v2/team/{team_id}/memberships", ["teams_read"], "add team members"),
  UpdateTeamMembership: op("UpdateTeamMembership", "PATCH", "/api/v2/team/{team_id}/memberships/{user_id}", ["teams_read"], "change team member roles"),
  DeleteTeamMembership: op("DeleteTeamMembership", "DELETE", "/api/v2/team/{team_id}/memberships/{user_id}", ["teams_read"], "remove team members"),
  GetOnCallTeamRoutingRules: op("GetOnCallTeamRoutingRules", "GET", "/api/v2/on-call/teams/{team_id}/routing-rules", ["on_call_read"], "read on-call routing rules"),
  GetOnCallEscalationPolicy: op("GetOnCallEscalationPolicy", "GET", "/api/v2/on-call/escalation-policies/{policy_id}", ["on_call_read"], "read on-call escalation policies"),
  GetOnCallSchedule: op("GetOnCallSchedule", "GET", "/api/v2/on-call/schedules/{schedule_id}", ["on_call_read"], "read on-call schedules"),
  ListAPIKeys: op("ListAPIKeys", "GET", "/api/v2/api_keys", ["api_keys_read"], "list API keys"),
  GetAPIKey: op("GetAPIKey", "GET", "/api/v2/api_keys/{api_key_id}", ["api_keys_read"], "read an API key"),
  DeleteAPIKey: op("DeleteAPIKey", "DELETE", "/api/v2/api_keys/{api_key_id}", ["api_keys_delete"], "delete API keys"),
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
} as const satisfies Record<string, OperationInfo>;

export type OperationId = keyof typeof OPERATIONS;
