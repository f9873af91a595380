/**
 * Typed access to the Datadog operations the connector reads and writes. Every answer is validated with zod
 * (unknown fields tolerated, required fields checked); a malformed answer fails with the operation id and the
 * field path. Lists are offered a page at a time (the SDK's sync engine asks for one page per call with an
 * opaque token, here the page number), plus async generators for callers that want everything.
 *
 * Errors are HttpError (src/http) with the operation id in front; `toConnectorError` maps them to gRPC codes.
 * A 403 names the permission the spec documents for the operation.
 */
import type { Logger } from "pino";
import { z } from "zod";
import type { HttpClient, HttpResponse, QueryValue } from "../../../src/api-client.ts";
import { HttpError, HttpErrorCode } from "../../../src/api-client.ts";
import type { HttpMetrics } from "../../../src/api-client.ts";
import type { CredentialProvider } from "./credentials.ts";
import { checkId, id, ID_KINDS, isValidId, path, type IdKind } from "./ids.ts";
import { OPERATIONS, type OperationId, type OperationInfo } from "./operations.ts";
import { checkPageNumber, MAX_PAGE_SIZE, nextPageNumber, teamsNextPage, type Page } from "./paging.ts";
import { RepeatedPageGuard } from "./page-guard.ts";
import { parseResponse } from "./parse.ts";
import { countUntyped, readEntries, readIncluded, SkipTally, type EntryRule } from "./tolerant.ts";
import {
  API_KEY_ENTRY,
  APPLICATION_KEY_ENTRY,
  ApiKeySchema,
  ApiKeysResponseSchema,
  ApplicationKeyResponseSchema,
  ApplicationKeySchema,
  ApplicationKeysResponseSchema,
  CreatedApplicationKeyResponseSchema,
  EscalationPolicyResponseSchema,
  EscalationStepSchema,
  INCLUDED_ENTRY,
  LayerSchema,
  PERMISSION_ENTRY,
  PermissionSchema,
  PermissionsResponseSchema,
  ROLE_ENTRY,
  RoleSchema,
  RolesResponseSchema,
  RoutingRuleSchema,
  RoutingRulesResponseSchema,
  ScheduleMemberSchema,
  ScheduleResponseSchema,
  ScheduleTargetSchema,
  ScheduleUserSchema,
  TEAM_ENTRY,
  TEAM_MEMBERSHIP_ENTRY,
  TeamMembershipResponseSchema,
  TeamMembershipSchema,
  TeamMembershipsResponseSchema,
  TeamReferenceSchema,
  TeamSchema,
  TeamsResponseSchema,
  UserInvitationsResponseSchema,
  USER_ENTRY,
  USER_REF_ENTRY,
  UserRefSchema,
  UserResponseSchema,
  UserSchema,
  UserRefsResponseSchema,
  UsersResponseSchema,
  type ApiKey,
  type ApplicationKey,
  type Permission,
  type Role,
  type Team,
  type TeamMembership,
  type User,
  type UserRef,
  type UserInvitation,
} from "./schemas.ts";
import { DatadogConnection, type DatadogConnectionOptions } from "./connection.ts";

/** A users listing read only for the org its users belong to (the tenant identity): nothing else is checked. */
const UsersOrgResponseSchema = z.object({
  data: z.array(
    z.object({
      relationships: z.object({ org: z.object({ data: z.object({ id: z.string().min(1).max(256) }).nullish() }).nullish() }).nullish(),
    }),
  ),
});

/** GetTeam's answer: one team. */
const TeamResponseSchema = z.object({ data: TeamSchema });
/** GetAPIKey's answer: one key, whose value comes along (ApiKeySchema does not name it, so the parse drops it). */
const ApiKeyResponseSchema = z.object({ data: ApiKeySchema });

/** A client opens its own connection from the connection's options, or is built on one opened earlier. */
export type DatadogClientOptions = {
  /** Items per page for paged lists (1..100, default 100, the API's maximum). */
  pageSize?: number;
  logger?: Logger;
} & (DatadogConnectionOptions | { connection: DatadogConnection });

/** A membership with its user (from the same answer's `included`). */
export interface TeamMembershipPage extends Page<TeamMembership> {
  /** Users of this page by id, from `included` (no request per member). */
  users: Map<string, User>;
}

export interface TeamRoutingRules {
  teamId: string;
  rules: { id: string; policyId: string | undefined }[];
  /** Distinct escalation policy ids referenced by the rules. */
  policyIds: string[];
}

export interface EscalationPolicy {
  id: string;
  name: string | undefined;
  teamIds: string[];
  steps: { id: string; targets: { id: string; type: string }[] }[];
  /** Schedules the policy pages: "schedules" targets and "schedule_target" targets resolved to their schedule. */
  scheduleIds: string[];
  userIds: string[];
  teamTargetIds: string[];
}

export interface OnCallScheduleUser {
  id: string;
  email: string | undefined;
  name: string | undefined;
  status: string | undefined;
}

export interface OnCallSchedule {
  id: string;
  name: string | undefined;
  timeZone: string | undefined;
  teams: { id: string; name: string | undefined; handle: string | undefined }[];
  layers: { id: string; name: string | undefined; userIds: string[] }[];
  /** Every user in any layer, once, in order of first appearance. */
  users: OnCallScheduleUser[];
}

export interface NewUser {
  email: string;
  name?: string;
  title?: string;
  roleIds?: readonly string[];
}

export interface CreatedApplicationKey {
  id: string;
  name: string | undefined;
  scopes: string[] | null | undefined;
  createdAt: string | undefined;
  ownerId: string | undefined;
  /** The key's secret value: returned once, never log or store it. */
  key: string;
}

export interface CallOptions {
  path: string;
  query?: Record<string, QueryValue>;
  body?: unknown;
  retryable?: boolean;
  signal?: AbortSignal;
  acceptStatus?: (status: number) => boolean;
}

/** A configured schedule target's id: the schedule's id, "_" and the position (ScheduleTargetPosition). */
const SCHEDULE_TARGET_ID = /^(.+)_(?:previous|current|next)$/;

function unique(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

/** The ids that can be followed (put into a request path); the others are counted in `tally`. */
function usableIds(ids: readonly string[], kind: IdKind, what: string, tally: SkipTally): string[] {
  const out: string[] = [];
  for (const value of ids) {
    tally.saw();
    if (isValidId(kind, value)) out.push(value);
    else tally.skip(`${what} references with an id that is not a ${ID_KINDS[kind].label}`);
  }
  return out;
}

export class DatadogClient {
  readonly http: HttpClient;
  readonly baseUrl: string;
  readonly credentials: CredentialProvider;
  readonly pageSize: number;
  readonly #pages = new RepeatedPageGuard();
  readonly #logger: Logger | undefined;
  readonly #connection: DatadogConnection;

  constructor(options: DatadogClientOptions) {
    const size = options.pageSize ?? MAX_PAGE_SIZE;
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw new RangeError(`pageSize must be 1..${MAX_PAGE_SIZE}, got ${size}`);
    this.pageSize = size;
    this.#connection = "connection" in options ? options.connection : new DatadogConnection(options);
    this.http = this.#connection.http;
    this.baseUrl = this.#connection.baseUrl;
    this.credentials = this.#connection.credentials;
    this.#logger = options.logger;
  }

  get logger(): Logger | undefined {
    return this.#logger;
  }

  get metrics(): HttpMetrics {
    return this.http.metrics;
  }

  close(): Promise<void> {
    return this.#connection.close();
  }

  // ---- plumbing ------------------------------------------------------------------------------------------------

  async #send(id: OperationId, call: CallOptions): Promise<HttpResponse> {
    return this.sendOperation(OPERATIONS[id], call);
  }

  /** The Datadog calls of the client modules in other files (audit.ts, user-state.ts): one request of `info`. */
  async sendOperation(info: OperationInfo, call: CallOptions): Promise<HttpResponse> {
    const id = info.id;
    try {
      return await this.http.request({
        method: info.method,
        path: call.path,
        query: call.query,
        body: call.body,
        operation: id,
        retryable: call.retryable,
        signal: call.signal,
        acceptStatus: call.acceptStatus,
      });
    } catch (err) {
      if (err instanceof HttpError && err.code === HttpErrorCode.HTTP_STATUS && err.status === 403 && info.permissions.length > 0) {
        throw new HttpError({
          code: err.code,
          operation: id,
          method: err.method,
          url: err.url,
          status: err.status,
          serverErrors: err.serverErrors,
          attempts: err.attempts,
          message: `${err.detail} (to ${info.purpose} the application key needs the ${info.permissions.join(" or ")} permission)`,
          cause: err,
        });
      }
      throw err;
    }
  }

  async #get<S extends z.ZodType>(id: OperationId, schema: S, call: CallOptions): Promise<z.output<S>> {
    const res = await this.#send(id, call);
    return parseResponse(id, schema, res.body);
  }

  /** Fails when a page repeats an earlier page of the same listing (see page-guard.ts): a loop, not data. */
  #checkPage(id: OperationId, listing: string, page: number, items: readonly { id: string }[]): void {
    const earlier = this.#pages.check(`${id} ${listing}`, page, items.map((item) => item.id));
    if (earlier === undefined) return;
    throw new HttpError({
      code: HttpErrorCode.INVALID_RESPONSE,
      operation: id,
      message:
        `page ${page} of GET ${listing} holds the same ${items.length} items as page ${earlier}: the API is repeating a page; ` +
        "stopping rather than storing duplicates, missing items or paging forever",
    });
  }

  /** The usable entries of a listing answer (tolerant.ts); what was skipped is told in one warning. */
  #entries<S extends z.ZodType>(id: OperationId, listing: string, schema: S, data: readonly unknown[], rule: EntryRule): z.output<S>[] {
    const tally = new SkipTally();
    const items = readEntries(id, schema, data, rule, tally);
    tally.warn(this.#logger, id, listing);
    return items;
  }

  #pageQuery(page: number, extra: Record<string, QueryValue> = {}): Record<string, QueryValue> {
    return { "page[size]": this.pageSize, "page[number]": checkPageNumber(page), ...extra };
  }

  // ---- validate ------------------------------------------------------------------------------------------------

  /** GET /api/v1/validate: checks the API key only (Datadog ignores the application key here); see connection.ts. */
  validateApiKey(signal?: AbortSignal): Promise<boolean> {
    return this.#connection.validateApiKey(signal);
  }

  // ---- users ---------------------------------------------------------------------------------------------------

  async listUsersPage(page: number, signal?: AbortSignal): Promise<Page<User>> {
    const res = await this.#get("ListUsers", UsersResponseSchema, { path: "/api/v2/users", query: this.#pageQuery(page), signal });
    const items = this.#entries("ListUsers", `/api/v2/users (page ${page})`, UserSchema, res.data, USER_ENTRY);
    this.#checkPage("ListUsers", "/api/v2/users", page, items);
    const total = res.meta?.page?.total_filtered_count ?? res.meta?.page?.total_count ?? undefined;
    return { items, total, received: res.data.length, nextPage: nextPageNumber(page, this.pageSize, res.data.length, total) };
  }

  /**
   * The UUID of the org these credentials reach, as its users' `relationships.org` names it (one user is read: the
   * listing is documented and needs the permission a sync needs anyway). Undefined when the answer names none.
   */
  async orgUuid(signal?: AbortSignal): Promise<string | undefined> {
    const res = await this.#get("ListUsers", UsersOrgResponseSchema, { path: "/api/v2/users", query: { "page[size]": 1, "page[number]": 0 }, signal });
    return res.data[0]?.relationships?.org?.data?.id || undefined;
  }

  async getUser(userId: string, signal?: AbortSignal): Promise<User> {
    return (await this.#get("GetUser", UserResponseSchema, { path: path`/api/v2/users/${id.user(userId)}`, signal })).data;
  }

  // ---- roles ---------------------------------------------------------------------------------------------------

  async listRolesPage(page: number, signal?: AbortSignal): Promise<Page<Role>> {
    const res = await this.#get("ListRoles", RolesResponseSchema, { path: "/api/v2/roles", query: this.#pageQuery(page), signal });
    const items = this.#entries("ListRoles", `/api/v2/roles (page ${page})`, RoleSchema, res.data, ROLE_ENTRY);
    this.#checkPage("ListRoles", "/api/v2/roles", page, items);
    const total = res.meta?.page?.total_filtered_count ?? res.meta?.page?.total_count ?? undefined;
    return { items, total, received: res.data.length, nextPage: nextPageNumber(page, this.pageSize, res.data.length, total) };
  }

  async listRoleUsersPage(roleId: string, page: number, signal?: AbortSignal): Promise<Page<UserRef>> {
    const res = await this.#get("ListRoleUsers", UserRefsResponseSchema, {
      path: path`/api/v2/roles/${id.role(roleId)}/users`,
      query: this.#pageQuery(page),
      signal,
    });
    const items = this.#entries("ListRoleUsers", `/api/v2/roles/${roleId}/users (page ${page})`, UserRefSchema, res.data, USER_REF_ENTRY);
    this.#checkPage("ListRoleUsers", `/api/v2/roles/${roleId}/users`, page, items);
    const total = res.meta?.page?.total_filtered_count ?? res.meta?.page?.total_count ?? undefined;
    return { items, total, received: res.data.length, nextPage: nextPageNumber(page, this.pageSize, res.data.length, total) };
  }

  async listRolePermissions(roleId: string, signal?: AbortSignal): Promise<Permission[]> {
    const res = await this.#get("ListRolePermissions", PermissionsResponseSchema, { path: path`/api/v2/roles/${id.role(roleId)}/permissions`, signal });
    return this.#entries("ListRolePermissions", `/api/v2/roles/${roleId}/permissions`, PermissionSchema, res.data, PERMISSION_ENTRY);
  }

  /** Every permission of the org (one request), to name the ids in a role's `relationships.permissions`. */
  async listPermissions(signal?: AbortSignal): Promise<Permission[]> {
    const res = await this.#get("ListPermissions", PermissionsResponseSchema, { path: "/api/v2/permissions", signal });
    return this.#entries("ListPermissions", "/api/v2/permissions", PermissionSchema, res.data, PERMISSION_ENTRY);
  }

  async addUserToRole(roleId: string, userId: string, signal?: AbortSignal): Promise<void> {
    // Adding a member twice is harmless, so a retry after a lost answer is safe.
    await this.#send("AddUserToRole", {
      path: path`/api/v2/roles/${id.role(roleId)}/users`,
      body: { data: { id: checkId("user", userId), type: "users" } },
      retryable: true,
      signal,
    });
  }

  async removeUserFromRole(roleId: string, userId: string, signal?: AbortSignal): Promise<void> {
    await this.#send("RemoveUserFromRole", { path: path`/api/v2/roles/${id.role(roleId)}/users`, body: { data: { id: checkId("user", userId), type: "users" } }, signal });
  }

  // ---- teams ---------------------------------------------------------------------------------------------------

  async listTeamsPage(page: number, signal?: AbortSignal): Promise<Page<Team>> {
    const res = await this.#get("ListTeams", TeamsResponseSchema, { path: "/api/v2/team", query: this.#pageQuery(page), signal });
    const items = this.#entries("ListTeams", `/api/v2/team (page ${page})`, TeamSchema, res.data, TEAM_ENTRY);
    this.#checkPage("ListTeams", "/api/v2/team", page, items);
    const { nextPage, total } = teamsNextPage(page, this.pageSize, res.data.length, { pagination: res.meta?.pagination, links: res.links });
    return { items, total, received: res.data.length, nextPage };
  }

  /** One team by id (GetTeam). */
  async getTeam(teamId: string, signal?: AbortSignal): Promise<Team> {
    return (await this.#get("GetTeam", TeamResponseSchema, { path: path`/api/v2/team/${id.team(teamId)}`, signal })).data;
  }

  /** One page of a team's memberships with their users (the API puts them in `included`: no request per member). */
  async listTeamMembershipsPage(teamId: string, page: number, signal?: AbortSignal): Promise<TeamMembershipPage> {
    const res = await this.#get("GetTeamMemberships", TeamMembershipsResponseSchema, {
      path: path`/api/v2/team/${id.team(teamId)}/memberships`,
      query: this.#pageQuery(page),
      signal,
    });
    const listing = `/api/v2/team/${teamId}/memberships`;
    const items = this.#entries("GetTeamMemberships", `${listing} (page ${page})`, TeamMembershipSchema, res.data, TEAM_MEMBERSHIP_ENTRY);
    this.#checkPage("GetTeamMemberships", listing, page, items);
    const { nextPage, total } = teamsNextPage(page, this.pageSize, res.data.length, { pagination: res.meta?.pagination, links: res.links });
    // The members' user records come along in `included`; validating them costs more than the whole rest of a
    // sync's team listing, and a sync needs only the ids, so they are checked when first asked for.
    let users: Map<string, User> | undefined;
    const logger = this.#logger;
    return {
      items,
      total,
      received: res.data.length,
      nextPage,
      get users() {
        if (!users) {
          users = new Map();
          const tally = new SkipTally();
          for (const user of readIncluded("GetTeamMemberships", res.included, "users", UserSchema, INCLUDED_ENTRY, tally)) users.set(user.id, user);
          countUntyped(res.included, tally);
          tally.warn(logger, "GetTeamMemberships", `${listing} (page ${page}, included users)`);
        }
        return users;
      },
    };
  }

  async createTeamMembership(teamId: string, userId: string, role: "admin" | null, signal?: AbortSignal): Promise<TeamMembership> {
    const data: Record<string, unknown> = {
      type: "team_memberships",
      relationships: { user: { data: { id: checkId("user", userId), type: "users" } } },
    };
    if (role !== null) data.attributes = { role };
    // A repeat after a lost answer gets 409, which callers treat as "already a member".
    const res = await this.#get("CreateTeamMembership", TeamMembershipResponseSchema, {
      path: path`/api/v2/team/${id.team(teamId)}/memberships`,
      body: { data },
      retryable: true,
      signal,
    });
    return res.data;
  }

  async updateTeamMembership(teamId: string, userId: string, role: "admin" | null, signal?: AbortSignal): Promise<TeamMembership> {
    const res = await this.#get("UpdateTeamMembership", TeamMembershipResponseSchema, {
      path: path`/api/v2/team/${id.team(teamId)}/memberships/${id.user(userId)}`,
      body: { data: { type: "team_memberships", attributes: { role } } },
      retryable: true,
      signal,
    });
    return res.data;
  }

  async deleteTeamMembership(teamId: string, userId: string, signal?: AbortSignal): Promise<void> {
    await this.#send("DeleteTeamMembership", { path: path`/api/v2/team/${id.team(teamId)}/memberships/${id.user(userId)}`, signal });
  }

  // ---- on-call -------------------------------------------------------------------------------------------------

  /** A team's routing rules and the escalation policies they use (include=rules brings the rules' relationships). */
  async getTeamOnCallRoutingRules(teamId: string, signal?: AbortSignal): Promise<TeamRoutingRules> {
    const op = "GetOnCallTeamRoutingRules";
    const res = await this.#get(op, RoutingRulesResponseSchema, {
      path: path`/api/v2/on-call/teams/${id.team(teamId)}/routing-rules`,
      query: { include: "rules" },
      signal,
    });
    const tally = new SkipTally();
    const byId = new Map(readIncluded(op, res.included, "team_routing_rules", RoutingRuleSchema, INCLUDED_ENTRY, tally).map((r) => [r.id, r]));
    const ruleRefs = res.data.relationships?.rules?.data ?? [];
    const rules = ruleRefs.map((ref) => ({ id: ref.id, policyId: byId.get(ref.id)?.relationships?.policy?.data?.id ?? undefined }));
    // Rules present in `included` but not referenced are still rules of this team.
    for (const rule of byId.values()) {
      if (!ruleRefs.some((r) => r.id === rule.id)) rules.push({ id: rule.id, policyId: rule.relationships?.policy?.data?.id ?? undefined });
    }
    const policyIds = usableIds(unique(rules.flatMap((r) => (r.policyId ? [r.policyId] : []))), "policy", "escalation policy", tally);
    tally.warn(this.#logger, op, `/api/v2/on-call/teams/${teamId}/routing-rules`);
    return { teamId, rules, policyIds };
  }

  async getOnCallEscalationPolicy(policyId: string, signal?: AbortSignal): Promise<EscalationPolicy> {
    const op = "GetOnCallEscalationPolicy";
    const res = await this.#get(op, EscalationPolicyResponseSchema, {
      path: path`/api/v2/on-call/escalation-policies/${id.policy(policyId)}`,
      query: { include: "steps.targets" },
      signal,
    });
    const tally = new SkipTally();
    const stepsById = new Map(readIncluded(op, res.included, "steps", EscalationStepSchema, INCLUDED_ENTRY, tally).map((s) => [s.id, s]));
    const scheduleTargets = new Map(readIncluded(op, res.included, "schedule_target", ScheduleTargetSchema, INCLUDED_ENTRY, tally).map((t) => [t.id, t]));
    const stepRefs = res.data.relationships?.steps?.data ?? [];
    const steps = stepRefs.map((ref) => ({
      id: ref.id,
      targets: (stepsById.get(ref.id)?.relationships?.targets?.data ?? []).map((t) => ({ id: t.id, type: t.type })),
    }));
    const targets = steps.flatMap((s) => s.targets);
    const scheduleIds: string[] = [];
    for (const t of targets) {
      if (t.type === "schedules") scheduleIds.push(t.id);
      else if (t.type === "schedule_target") {
        // Real answers name a configured target `<schedule id>_<position>` and may leave the target object out
        // of `included` (bringing the schedule instead): the id then names the schedule.
        const scheduleId = scheduleTargets.get(t.id)?.relationships?.schedule?.data?.id ?? SCHEDULE_TARGET_ID.exec(t.id)?.[1];
        if (scheduleId) scheduleIds.push(scheduleId);
      }
    }
    const usableScheduleIds = usableIds(unique(scheduleIds), "schedule", "on-call schedule", tally);
    tally.warn(this.#logger, op, `/api/v2/on-call/escalation-policies/${policyId}`);
    return {
      // The policy asked for: an answer that leaves its id out (the spec allows it) still describes it.
      id: policyId,
      name: res.data.attributes?.name ?? undefined,
      teamIds: (res.data.relationships?.teams?.data ?? []).map((t) => t.id),
      steps,
      scheduleIds: usableScheduleIds,
      userIds: unique(targets.filter((t) => t.type === "users").map((t) => t.id)),
      teamTargetIds: unique(targets.filter((t) => t.type === "teams").map((t) => t.id)),
    };
  }

  /** A schedule with its layers, the users in them and its teams, in one request. */
  async getOnCallSchedule(scheduleId: string, signal?: AbortSignal): Promise<OnCallSchedule> {
    const op = "GetOnCallSchedule";
    const res = await this.#get(op, ScheduleResponseSchema, {
      path: path`/api/v2/on-call/schedules/${id.schedule(scheduleId)}`,
      query: { include: "layers,layers.members,layers.members.user,teams" },
      signal,
    });
    const tally = new SkipTally();
    const layersById = new Map(readIncluded(op, res.included, "layers", LayerSchema, INCLUDED_ENTRY, tally).map((l) => [l.id, l]));
    const membersById = new Map(readIncluded(op, res.included, "members", ScheduleMemberSchema, INCLUDED_ENTRY, tally).map((m) => [m.id, m]));
    const usersById = new Map(readIncluded(op, res.included, "users", ScheduleUserSchema, INCLUDED_ENTRY, tally).map((u) => [u.id, u]));
    const teamsById = new Map(readIncluded(op, res.included, "teams", TeamReferenceSchema, INCLUDED_ENTRY, tally).map((t) => [t.id, t]));
    countUntyped(res.included, tally);
    tally.warn(this.#logger, op, `/api/v2/on-call/schedules/${scheduleId}`);

    const layerIds = (res.data.relationships?.layers?.data ?? []).map((l) => l.id);
    for (const id of layersById.keys()) if (!layerIds.includes(id)) layerIds.push(id);
    const layers = layerIds.map((id) => {
      const layer = layersById.get(id);
      const userIds = (layer?.relationships?.members?.data ?? []).flatMap((m) => {
        const userId = membersById.get(m.id)?.relationships?.user?.data?.id;
        return userId ? [userId] : [];
      });
      return { id, name: layer?.attributes?.name ?? undefined, userIds: unique(userIds) };
    });
    const users = unique(layers.flatMap((l) => l.userIds)).map((id) => {
      const u = usersById.get(id);
      return { id, email: u?.attributes?.email ?? undefined, name: u?.attributes?.name ?? undefined, status: u?.attributes?.status ?? undefined };
    });
    const teams = (res.data.relationships?.teams?.data ?? []).map((ref) => {
      const t = teamsById.get(ref.id);
      return { id: ref.id, name: t?.attributes?.name ?? undefined, handle: t?.attributes?.handle ?? undefined };
    });
    return {
      // The schedule asked for (its id was checked): an answer that leaves the id out still describes it.
      id: scheduleId,
      name: res.data.attributes?.name ?? undefined,
      timeZone: res.data.attributes?.time_zone ?? undefined,
      teams,
      layers,
      users,
    };
  }

  // ---- keys ----------------------------------------------------------------------------------------------------

  async listAPIKeysPage(page: number, signal?: AbortSignal): Promise<Page<ApiKey>> {
    const res = await this.#get("ListAPIKeys", ApiKeysResponseSchema, { path: "/api/v2/api_keys", query: this.#pageQuery(page), signal });
    const items = this.#entries("ListAPIKeys", `/api/v2/api_keys (page ${page})`, ApiKeySchema, res.data, API_KEY_ENTRY);
    this.#checkPage("ListAPIKeys", "/api/v2/api_keys", page, items);
    const total = res.meta?.page?.total_filtered_count ?? undefined;
    return { items, total, received: res.data.length, nextPage: nextPageNumber(page, this.pageSize, res.data.length, total) };
  }

  async listApplicationKeysPage(page: number, signal?: AbortSignal): Promise<Page<ApplicationKey>> {
    const res = await this.#get("ListApplicationKeys", ApplicationKeysResponseSchema, {
      path: "/api/v2/application_keys",
      query: this.#pageQuery(page),
      signal,
    });
    const items = this.#entries("ListApplicationKeys", `/api/v2/application_keys (page ${page})`, ApplicationKeySchema, res.data, APPLICATION_KEY_ENTRY);
    this.#checkPage("ListApplicationKeys", "/api/v2/application_keys", page, items);
    const total = res.meta?.page?.total_filtered_count ?? undefined;
    return { items: items, total, received: res.data.length, nextPage: nextPageNumber(page, this.pageSize, res.data.length, total) };
  }

  async listServiceAccountApplicationKeysPage(serviceAccountId: string, page: number, signal?: AbortSignal): Promise<Page<ApplicationKey>> {
    const res = await this.#get("ListServiceAccountApplicationKeys", ApplicationKeysResponseSchema, {
      path: path`/api/v2/service_accounts/${id.serviceAccount(serviceAccountId)}/application_keys`,
      query: this.#pageQuery(page),
      signal,
    });
    const listing = `/api/v2/service_accounts/${serviceAccountId}/application_keys`;
    const items = this.#entries("ListServiceAccountApplicationKeys", `${listing} (page ${page})`, ApplicationKeySchema, res.data, APPLICATION_KEY_ENTRY);
    this.#checkPage("ListServiceAccountApplicationKeys", listing, page, items);
    const total = res.meta?.page?.total_filtered_count ?? undefined;
    return { items: items, total, received: res.data.length, nextPage: nextPageNumber(page, this.pageSize, res.data.length, total) };
  }

  /** One API key's metadata. GetAPIKey also answers with the key's value: the parse drops it, before anyone sees it. */
  async getAPIKey(apiKeyId: string, signal?: AbortSignal): Promise<ApiKey> {
    const res = await this.#get("GetAPIKey", ApiKeyResponseSchema, { path: path`/api/v2/api_keys/${id.apiKey(apiKeyId)}`, signal });
    return res.data;
  }

  /** Key metadata (owner, scopes); the parse drops the secret value if the API sends it. */
  async getApplicationKey(appKeyId: string, signal?: AbortSignal): Promise<ApplicationKey> {
    const res = await this.#get("GetApplicationKey", ApplicationKeyResponseSchema, { path: path`/api/v2/application_keys/${id.appKey(appKeyId)}`, signal });
    return res.data;
  }

  async deleteAPIKey(apiKeyId: string, signal?: AbortSignal): Promise<void> {
    await this.#send("DeleteAPIKey", { path: path`/api/v2/api_keys/${id.apiKey(apiKeyId)}`, signal });
  }

  async deleteApplicationKey(appKeyId: string, signal?: AbortSignal): Promise<void> {
    await this.#send("DeleteApplicationKey", { path: path`/api/v2/application_keys/${id.appKey(appKeyId)}`, signal });
  }

  /** Creates a key for a service account. Not retried on failure: a repeat could create a second key. */
  async createServiceAccountApplicationKey(
    serviceAccountId: string,
    key: { name: string; scopes?: readonly string[] | null },
    signal?: AbortSignal,
  ): Promise<CreatedApplicationKey> {
    const attributes: Record<string, unknown> = { name: key.name };
    if (key.scopes !== undefined) attributes.scopes = key.scopes === null ? null : [...key.scopes];
    const res = await this.#get("CreateServiceAccountApplicationKey", CreatedApplicationKeyResponseSchema, {
      path: path`/api/v2/service_accounts/${id.serviceAccount(serviceAccountId)}/application_keys`,
      body: { data: { type: "application_keys", attributes } },
      signal,
    });
    const a = res.data.attributes;
    return {
      id: res.data.id,
      name: a.name ?? undefined,
      scopes: a.scopes,
      createdAt: a.created_at ?? undefined,
      ownerId: res.data.relationships?.owned_by?.data?.id ?? undefined,
      key: a.key,
    };
  }

  async deleteServiceAccountApplicationKey(serviceAccountId: string, appKeyId: string, signal?: AbortSignal): Promise<void> {
    await this.#send("DeleteServiceAccountApplicationKey", {
      path: path`/api/v2/service_accounts/${id.serviceAccount(serviceAccountId)}/application_keys/${id.appKey(appKeyId)}`,
      signal,
    });
  }

  // ---- accounts ------------------------------------------------------------------------------------------------

  /** Creates a user (not retried: the API has no idempotency key; a repeat would answer 409 at best). */
  async createUser(user: NewUser, signal?: AbortSignal): Promise<User> {
    const attributes: Record<string, string> = { email: user.email };
    if (user.name !== undefined) attributes.name = user.name;
    if (user.title !== undefined) attributes.title = user.title;
    const data: Record<string, unknown> = { type: "users", attributes };
    if (user.roleIds?.length) data.relationships = { roles: { data: user.roleIds.map((roleId) => ({ id: checkId("role", roleId), type: "roles" })) } };
    return (await this.#get("CreateUser", UserResponseSchema, { path: "/api/v2/users", body: { data }, signal })).data;
  }

  async sendInvitations(userIds: readonly string[], signal?: AbortSignal): Promise<UserInvitation[]> {
    const body = {
      data: userIds.map((userId) => ({ type: "user_invitations", relationships: { user: { data: { id: checkId("user", userId), type: "users" } } } })),
    };
    return (await this.#get("SendInvitations", UserInvitationsResponseSchema, { path: "/api/v2/user_invitations", body, signal })).data;
  }

  /** Disables a user (Datadog's soft delete). */
  async disableUser(userId: string, signal?: AbortSignal): Promise<void> {
    await this.#send("DisableUser", { path: path`/api/v2/users/${id.user(userId)}`, signal });
  }

  // ---- whole lists ---------------------------------------------------------------------------------------------

  /** Walks a page-at-a-time method to the end (for callers that want everything, e.g. tests and look-ups). */
  static async *paginate<T>(fetchPage: (page: number) => Promise<Page<T>>): AsyncGenerator<T[], void, void> {
    let page: number | undefined = 0;
    while (page !== undefined) {
      const res: Page<T> = await fetchPage(page);
      yield res.items;
      page = res.nextPage;
    }
  }

  allUsers(signal?: AbortSignal): AsyncGenerator<User[], void, void> {
    return DatadogClient.paginate((p) => this.listUsersPage(p, signal));
  }

  allRoles(signal?: AbortSignal): AsyncGenerator<Role[], void, void> {
    return DatadogClient.paginate((p) => this.listRolesPage(p, signal));
  }

  allTeams(signal?: AbortSignal): AsyncGenerator<Team[], void, void> {
    return DatadogClient.paginate((p) => this.listTeamsPage(p, signal));
  }
}

