/**
 * The simulated Datadog organisation: its records and the API's own rules for changing them. HTTP handlers
 * translate requests into these calls; the rules (unknown ids, duplicate memberships) live here, once.
 * Timestamps are epoch milliseconds (formatted as ISO 8601 only when serialised): it keeps a 100,000-user org
 * small in memory.
 */
import { randomBytes, randomUUID } from "node:crypto";
import * as audit from "./audit-events.ts";
import { AuditLog } from "./audit-log.ts";
import { ApiError, notFound } from "./errors.ts";
import { IndexedList } from "./indexed-list.ts";

export type UserStatus = "Active" | "Pending" | "Disabled";

export interface SimUser {
  readonly id: string;
  name: string | null;
  email: string;
  handle: string;
  title: string | null;
  status: UserStatus;
  disabled: boolean;
  verified: boolean;
  readonly serviceAccount: boolean;
  mfaEnabled: boolean;
  /** `allowed_login_methods`: shared arrays (a few variants), never mutated. */
  readonly allowedLoginMethods: readonly string[];
  readonly createdAt: number;
  modifiedAt: number;
  lastLoginTime: number | null;
  /** Roles held, in the order they were granted (a user holds a handful, so an array is enough). */
  readonly roles: SimRole[];
}

export interface SimPermission {
  readonly id: string;
  readonly name: string;
  readonly displayName: string;
  readonly groupName: string;
  readonly displayType: "read" | "write" | "other";
  readonly created: number;
  readonly restricted: boolean;
}

export interface SimRole {
  readonly id: string;
  name: string;
  readonly createdAt: number;
  modifiedAt: number;
  readonly permissions: readonly SimPermission[];
  readonly users: IndexedList<string, SimUser>;
}

/** A team membership role: plain member (`null`) or team admin. */
export type TeamRole = "admin" | null;

export interface SimMembership {
  readonly user: SimUser;
  role: TeamRole;
  /** null (added by a person), "service_account" or "saml_mapping". */
  readonly provisionedBy: string | null;
  /** The person or service account that added the membership; null for SAML mappings. */
  readonly provisionedById: string | null;
}

export interface SimTeam {
  readonly id: string;
  name: string;
  handle: string;
  summary: string | null;
  readonly createdAt: number;
  modifiedAt: number;
  readonly linkCount: number;
  readonly members: IndexedList<string, SimMembership>;
  readonly routingRules: SimRoutingRule[];
}

export interface SimLayerMember {
  readonly id: string;
  readonly user: SimUser;
}

export interface SimLayer {
  readonly id: string;
  readonly name: string;
  readonly effectiveDate: number;
  readonly rotationStart: number;
  readonly intervalDays: number;
  readonly members: readonly SimLayerMember[];
}

export interface SimSchedule {
  readonly id: string;
  readonly name: string;
  readonly timeZone: string;
  readonly layers: readonly SimLayer[];
  readonly teams: readonly SimTeam[];
}

export type SchedulePosition = "previous" | "current" | "next";

export type PolicyTarget =
  | { readonly kind: "schedule"; readonly schedule: SimSchedule }
  | { readonly kind: "configured-schedule"; readonly schedule: SimSchedule; readonly position: SchedulePosition }
  | { readonly kind: "user"; readonly user: SimUser }
  | { readonly kind: "team"; readonly team: SimTeam };

export interface SimPolicyStep {
  readonly id: string;
  readonly escalateAfterSeconds: number;
  readonly assignment: "default" | "round-robin";
  readonly targets: readonly PolicyTarget[];
}

export interface SimPolicy {
  readonly id: string;
  readonly name: string;
  readonly retries: number;
  readonly resolvePageOnPolicyEnd: boolean;
  readonly steps: readonly SimPolicyStep[];
  readonly teams: readonly SimTeam[];
}

export interface SimRoutingRule {
  readonly id: string;
  readonly query: string;
  readonly urgency: "low" | "high" | "dynamic";
  /** Null for a rule that only notifies a channel. */
  readonly policy: SimPolicy | null;
  readonly slackChannel: string | null;
  readonly timeRestriction: { timeZone: string; startDay: string; endDay: string } | null;
}

export interface SimApiKey {
  readonly id: string;
  readonly name: string;
  /** The key's value; Datadog returns it from GET /api/v2/api_keys/{id} only, never in lists. */
  readonly key: string;
  readonly createdAt: number;
  readonly modifiedAt: number;
  readonly dateLastUsed: number | null;
  /**
   * Whether answers still fill the older `date_last_used` for this key. When false it is null and only the newer
   * `last_used_date.timestamp` tells the last use, as in some real answers.
   */
  readonly legacyLastUsed: boolean;
  /** `used_in_last_24_hours`, fixed when the org is made (answers never depend on the clock). */
  readonly usedInLast24Hours: boolean;
  readonly createdBy: SimUser;
  readonly category: string;
  readonly remoteConfigReadEnabled: boolean;
}

export interface SimAppKey {
  readonly id: string;
  readonly name: string;
  readonly last4: string;
  readonly createdAt: number;
  lastUsedAt: number | null;
  readonly scopes: readonly string[] | null;
  readonly owner: SimUser;
}

export interface SimInvitation {
  readonly id: string;
  readonly user: SimUser;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly inviteType: string;
}

/** A SAML AuthN mapping: a login whose assertion has `attributeKey` = `attributeValue` gets the role or the team. */
export interface SimAuthnMapping {
  readonly id: string;
  readonly attributeKey: string;
  readonly attributeValue: string;
  /** The SAML assertion attribute's id (Datadog numbers them; the mapping relates to it). */
  readonly samlAttributeId: string;
  readonly target: { readonly kind: "role"; readonly role: SimRole } | { readonly kind: "team"; readonly team: SimTeam };
  readonly createdAt: number;
}

/** `allowed_login_methods` variants (shared arrays: a 100,000-user org holds a handful). */
export const LOGIN_METHODS = {
  default: Object.freeze(["password", "google"]),
  sso: Object.freeze(["saml"]),
  any: Object.freeze(["password", "google", "saml"]),
  none: Object.freeze([] as string[]),
} as const;

/** How long a Datadog invitation stays valid. */
export const INVITATION_TTL_MS = 48 * 60 * 60 * 1000;

export class Org {
  readonly uuid: string;
  readonly name: string;
  readonly publicId: string;
  readonly permissions: readonly SimPermission[];
  readonly users = new IndexedList<string, SimUser>();
  readonly roles = new IndexedList<string, SimRole>();
  readonly teams = new IndexedList<string, SimTeam>();
  readonly schedules = new IndexedList<string, SimSchedule>();
  readonly policies = new Map<string, SimPolicy>();
  readonly apiKeys = new IndexedList<string, SimApiKey>();
  readonly appKeys = new IndexedList<string, SimAppKey>();
  readonly invitations: SimInvitation[] = [];
  /** SAML AuthN mappings (routes/authn-mappings.ts), in creation order. */
  readonly authnMappings = new IndexedList<string, SimAuthnMapping>();
  /** The Audit Trail: every write below records its event here (audit-events.ts). */
  readonly audit = new AuditLog();
  readonly #usersByEmail = new Map<string, SimUser>();

  constructor(init: { uuid: string; name: string; publicId: string; permissions: readonly SimPermission[] }) {
    this.uuid = init.uuid;
    this.name = init.name;
    this.publicId = init.publicId;
    this.permissions = init.permissions;
  }

  // ---- look-ups that answer 404 the way Datadog does ----

  user(id: string): SimUser {
    const user = this.users.get(id);
    if (!user) throw notFound(`User ${id}`);
    return user;
  }

  role(id: string): SimRole {
    const role = this.roles.get(id);
    if (!role) throw notFound(`Role ${id}`);
    return role;
  }

  team(id: string): SimTeam {
    const team = this.teams.get(id);
    if (!team) throw notFound(`Team ${id}`);
    return team;
  }

  schedule(id: string): SimSchedule {
    const schedule = this.schedules.get(id);
    if (!schedule) throw notFound(`Schedule ${id}`);
    return schedule;
  }

  policy(id: string): SimPolicy {
    const policy = this.policies.get(id);
    if (!policy) throw notFound(`Escalation policy ${id}`);
    return policy;
  }

  apiKey(id: string): SimApiKey {
    const key = this.apiKeys.get(id);
    if (!key) throw notFound(`API key ${id}`);
    return key;
  }

  appKey(id: string): SimAppKey {
    const key = this.appKeys.get(id);
    if (!key) throw notFound(`Application key ${id}`);
    return key;
  }

  serviceAccount(id: string): SimUser {
    const user = this.users.get(id);
    if (!user || !user.serviceAccount) throw notFound(`Service account ${id}`);
    return user;
  }

  userByEmail(email: string): SimUser | undefined {
    return this.#usersByEmail.get(email.toLowerCase());
  }

  // ---- building (generator and writes) ----

  insertUser(user: SimUser): void {
    this.users.set(user.id, user);
    this.#usersByEmail.set(user.email.toLowerCase(), user);
  }

  // ---- writes, with the API's rules ----

  /** Returns false when the user already held the role (Datadog answers 200 either way). */
  addUserToRole(roleId: string, userId: string): boolean {
    const role = this.role(roleId);
    const user = this.user(userId);
    if (role.users.has(user.id)) return false;
    role.users.set(user.id, user);
    user.roles.push(role);
    this.audit.record(audit.roleMemberChanged(role, user, true));
    return true;
  }

  /** Returns false when the user did not hold the role. */
  removeUserFromRole(roleId: string, userId: string): boolean {
    const role = this.role(roleId);
    const user = this.user(userId);
    if (!role.users.delete(user.id)) return false;
    user.roles.splice(user.roles.indexOf(role), 1);
    this.audit.record(audit.roleMemberChanged(role, user, false));
    return true;
  }

  addTeamMember(teamId: string, userId: string, role: TeamRole): SimMembership {
    const team = this.team(teamId);
    const user = this.user(userId);
    if (team.members.has(user.id)) throw new ApiError(409, `User ${user.id} is already a member of team ${team.id}`);
    const membership: SimMembership = { user, role, provisionedBy: null, provisionedById: null };
    team.members.set(user.id, membership);
    team.modifiedAt = Date.now();
    this.audit.record(audit.teamMembershipChanged(team, user, "created", role));
    return membership;
  }

  /** `role` undefined leaves the role unchanged. */
  updateTeamMember(teamId: string, userId: string, role: TeamRole | undefined): SimMembership {
    const team = this.team(teamId);
    const membership = team.members.get(userId);
    if (!membership) throw notFound(`Membership of user ${userId} in team ${team.id}`);
    const previous = membership.role;
    if (role !== undefined) membership.role = role;
    team.modifiedAt = Date.now();
    if (membership.role !== previous) this.audit.record(audit.teamMembershipChanged(team, membership.user, "modified", membership.role, previous));
    return membership;
  }

  removeTeamMember(teamId: string, userId: string): void {
    const team = this.team(teamId);
    const membership = team.members.get(userId);
    if (!membership || !team.members.delete(userId)) throw notFound(`Membership of user ${userId} in team ${team.id}`);
    team.modifiedAt = Date.now();
    this.audit.record(audit.teamMembershipChanged(team, membership.user, "deleted", null, membership.role));
  }

  createUser(input: { email: string; name?: string; title?: string; roleIds?: readonly string[] }): SimUser {
    if (this.userByEmail(input.email)) throw new ApiError(409, `User with email ${input.email} already exists`);
    const roles = (input.roleIds ?? []).map((id) => {
      const role = this.roles.get(id);
      if (!role) throw new ApiError(400, `Role ${id} does not exist`);
      return role;
    });
    const now = Date.now();
    const user: SimUser = {
      id: randomUUID(),
      name: input.name ?? null,
      email: input.email,
      handle: input.email,
      title: input.title ?? null,
      status: "Pending",
      disabled: false,
      verified: false,
      serviceAccount: false,
      mfaEnabled: false,
      allowedLoginMethods: LOGIN_METHODS.default,
      createdAt: now,
      modifiedAt: now,
      lastLoginTime: null,
      roles: [],
    };
    this.insertUser(user);
    this.audit.record(audit.userCreated(user));
    for (const role of roles) this.addUserToRole(role.id, user.id);
    return user;
  }

  inviteUser(userId: string, now = Date.now()): SimInvitation {
    const user = this.user(userId);
    if (user.disabled) throw new ApiError(400, `User ${user.id} is disabled and cannot be invited`);
    const invitation: SimInvitation = {
      id: randomUUID(),
      user,
      createdAt: now,
      expiresAt: now + INVITATION_TTL_MS,
      inviteType: "basic_invite",
    };
    this.invitations.push(invitation);
    this.audit.record(audit.invitationSent(invitation));
    return invitation;
  }

  /** Datadog's DELETE /users/{id}: a soft delete; roles and memberships stay. A disabled user answers 404, as Datadog. */
  disableUser(userId: string): void {
    const user = this.user(userId);
    if (user.disabled) throw new ApiError(404, `${user.id} not found`);
    user.disabled = true;
    user.status = "Disabled";
    user.modifiedAt = Date.now();
    this.audit.record(audit.userDisabledChanged(user, true));
  }

  /**
   * Datadog's PATCH /users/{id} `disabled`: false re-enables (Active once verified, else Pending again), true
   * disables. Setting the state the user already has changes nothing and records nothing.
   */
  setUserDisabled(userId: string, disabled: boolean): SimUser {
    const user = this.user(userId);
    if (user.disabled === disabled) return user;
    user.disabled = disabled;
    user.status = disabled ? "Disabled" : user.verified ? "Active" : "Pending";
    user.modifiedAt = Date.now();
    this.audit.record(audit.userDisabledChanged(user, disabled));
    return user;
  }

  /** A login Datadog would have recorded (the simulator has no login page: tests tell it). */
  recordLogin(userId: string, method = "password"): void {
    const user = this.user(userId);
    user.lastLoginTime = Date.now();
    this.audit.record(audit.userLoggedIn(user, method), { type: "USER", userId: user.id, email: user.email, name: user.name });
  }

  /** A request made with an org API key or application key, as the Audit Trail's Request events record it. */
  recordKeyUse(keyId: string, path = "/api/v2/users", method = "GET"): void {
    const api = this.apiKeys.get(keyId);
    const app = api ? undefined : this.appKey(keyId);
    if (app) app.lastUsedAt = Date.now();
    // An API key alone names no user; an application key acts as its owner.
    const actor = app
      ? { type: "USER" as const, userId: app.owner.id, email: app.owner.email, name: app.owner.name }
      : { type: "API_KEY" as const, userId: null, email: null, name: null };
    this.audit.record(audit.keyUsed({ api, app }, path, method), actor);
  }

  deleteApiKey(id: string): void {
    const key = this.apiKey(id);
    this.apiKeys.delete(id);
    this.audit.record(audit.apiKeyChanged(key, "deleted"));
  }

  deleteAppKey(id: string): SimAppKey {
    const key = this.appKey(id);
    this.appKeys.delete(id);
    this.audit.record(audit.applicationKeyChanged(key, "deleted"));
    return key;
  }

  /** Creates an application key; the returned `secret` exists only in this answer, as with Datadog. */
  createAppKey(owner: SimUser, name: string, scopes: readonly string[] | null): { appKey: SimAppKey; secret: string } {
    const secret = randomBytes(20).toString("hex");
    const appKey: SimAppKey = {
      id: randomUUID(),
      name,
      last4: secret.slice(-4),
      createdAt: Date.now(),
      lastUsedAt: null,
      scopes: scopes === null ? null : [...scopes],
      owner,
    };
    this.appKeys.set(appKey.id, appKey);
    this.audit.record(audit.applicationKeyChanged(appKey, "created"));
    return { appKey, secret };
  }

  /** Adds a SAML AuthN mapping granting a role or a team (ids checked: an unknown one answers 404, as Datadog). */
  addAuthnMapping(input: { attributeKey: string; attributeValue: string; roleId?: string; teamId?: string; id?: string; createdAt?: number }): SimAuthnMapping {
    if ((input.roleId === undefined) === (input.teamId === undefined)) throw new ApiError(400, "An AuthN mapping grants exactly one role or one team");
    const target = input.roleId !== undefined ? { kind: "role" as const, role: this.role(input.roleId) } : { kind: "team" as const, team: this.team(input.teamId!) };
    const mapping: SimAuthnMapping = {
      id: input.id ?? randomUUID(),
      attributeKey: input.attributeKey,
      attributeValue: input.attributeValue,
      samlAttributeId: String(this.authnMappings.size + 1),
      target,
      createdAt: input.createdAt ?? Date.now(),
    };
    this.authnMappings.set(mapping.id, mapping);
    return mapping;
  }

  removeAuthnMapping(id: string): void {
    if (!this.authnMappings.delete(id)) throw notFound(`AuthN mapping ${id}`);
  }

  appKeysOwnedBy(userId: string): SimAppKey[] {
    return this.appKeys.values().filter((key) => key.owner.id === userId);
  }
}

/** ISO 8601 with milliseconds and Z, as Datadog's date-time fields. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : iso(ms);
}
