/**
 * The Audit Trail events the simulator records, one builder per kind of change. Names from Datadog's Audit Trail
 * documentation (docs.datadoghq.com/account_management/audit_trail/events):
 *
 *   user created / disabled / enabled   @evt.name:"Access Management" @asset.type:user @action:created|modified
 *   invitation sent                     @evt.name:"Access Management" @asset.type:user_invitation @action:created
 *   user added to / removed from role   @evt.name:"Access Management" @asset.type:role @action:modified
 *   team membership                     @evt.name:"Teams Management" @asset.type:team_membership @action:created|modified|deleted
 *   service account application key     @evt.name:"Access Management" @asset.type:application_key @action:created|deleted
 *   org application key / API key       @evt.name:Authentication @asset.type:application_key|api_key @action:created|deleted
 *   user login                          @evt.name:Authentication @action:login (@auth_method)
 *   key used for a request              @evt.name:Request @action:accessed (@metadata.api_key.id, @metadata.application_key.id)
 *
 * Which member joined or left a role or team is not in Datadog's documentation; the simulator puts it in
 * `metadata` (role: `added_user_ids` / `removed_user_ids`; team: `user_id`, `team_role`, `previous_team_role`).
 */
import type { AuditRecord } from "./audit-log.ts";
import type { SimApiKey, SimAppKey, SimInvitation, SimRole, SimTeam, SimUser, TeamRole } from "./model.ts";

const ACCESS = "Access Management";
const TEAMS = "Teams Management";
const AUTHENTICATION = "Authentication";

const userAsset = (user: SimUser) => ({ type: "user", id: user.id, name: user.email });

export function userCreated(user: SimUser): AuditRecord {
  return {
    evtName: ACCESS,
    action: "created",
    asset: { ...userAsset(user), new_value: { email: user.email, status: user.status, service_account: user.serviceAccount } },
    message: `User ${user.email} was created`,
  };
}

export function userDisabledChanged(user: SimUser, disabled: boolean): AuditRecord {
  return {
    evtName: ACCESS,
    action: "modified",
    asset: { ...userAsset(user), prev_value: { disabled: !disabled }, new_value: { disabled } },
    message: `User ${user.email} was ${disabled ? "disabled" : "enabled"}`,
  };
}

export function invitationSent(invitation: SimInvitation): AuditRecord {
  return {
    evtName: ACCESS,
    action: "created",
    asset: { type: "user_invitation", id: invitation.id, name: invitation.user.email },
    metadata: { user_id: invitation.user.id },
    message: `An invitation was sent to ${invitation.user.email}`,
  };
}

export function roleMemberChanged(role: SimRole, user: SimUser, added: boolean): AuditRecord {
  return {
    evtName: ACCESS,
    action: "modified",
    asset: { type: "role", id: role.id, name: role.name },
    metadata: added ? { added_user_ids: [user.id] } : { removed_user_ids: [user.id] },
    message: `User ${user.email} was ${added ? "added to" : "removed from"} role ${role.name}`,
  };
}

export function teamMembershipChanged(
  team: SimTeam,
  user: SimUser,
  action: "created" | "modified" | "deleted",
  role: TeamRole,
  previousRole?: TeamRole,
): AuditRecord {
  const metadata: Record<string, unknown> = { user_id: user.id, team_role: role };
  if (previousRole !== undefined) metadata.previous_team_role = previousRole;
  const what = action === "created" ? "added to" : action === "deleted" ? "removed from" : "given another role in";
  return {
    evtName: TEAMS,
    action,
    asset: { type: "team_membership", id: team.id, name: team.name },
    metadata,
    message: `User ${user.email} was ${what} team ${team.name}`,
  };
}

export function applicationKeyChanged(key: SimAppKey, action: "created" | "deleted"): AuditRecord {
  // The documentation files service-account keys under Access Management, keys of the Organization Settings page
  // under Authentication.
  return {
    evtName: key.owner.serviceAccount ? ACCESS : AUTHENTICATION,
    action,
    asset: { type: "application_key", id: key.id, name: key.name },
    metadata: { owner_id: key.owner.id },
    message: `Application key ${key.name} was ${action}`,
  };
}

export function apiKeyChanged(key: SimApiKey, action: "created" | "deleted"): AuditRecord {
  return {
    evtName: AUTHENTICATION,
    action,
    asset: { type: "api_key", id: key.id, name: key.name },
    message: `API key ${key.name} was ${action}`,
  };
}

export function userLoggedIn(user: SimUser, method: string): AuditRecord {
  return {
    evtName: AUTHENTICATION,
    action: "login",
    asset: { type: "user", id: user.id, name: user.email },
    extra: { auth_method: method, status: "info" },
    message: `User ${user.email} logged in with ${method}`,
  };
}

export function keyUsed(key: { api?: SimApiKey; app?: SimAppKey }, path: string, method: string): AuditRecord {
  const metadata: Record<string, unknown> = {};
  if (key.api) metadata.api_key = { id: key.api.id };
  if (key.app) metadata.application_key = { id: key.app.id };
  return {
    evtName: "Request",
    action: "accessed",
    metadata,
    extra: { http: { method, url_details: { path } } },
    message: `${method} ${path}`,
  };
}
