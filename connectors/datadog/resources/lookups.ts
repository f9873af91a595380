/**
 * Look-ups the provisioning code needs and DatadogClient does not offer yet: users by email (ListUsers'
 * documented `filter`), a role by id (GetRole), a team by id (GetTeam) and one user's membership of a team
 * (GetTeamMemberships' documented `filter[keyword]`). They go through the client's HttpClient (same pool,
 * pacing, retries, credentials) and parse with the client's schemas. They belong in DatadogClient; they live
 * here only because this module's author does not own the client.
 */
import { HttpError, HttpErrorCode } from "../../../src/index.ts";
import { z } from "zod";
// The client's leaf modules, not client/index.ts: see resource-type.ts.
import type { DatadogClient } from "../client/datadog-client.ts";
import { id, path } from "../client/ids.ts";
import { nextPageNumber, teamsNextPage } from "../client/paging.ts";
import { parseResponse } from "../client/parse.ts";
import { readEntries, SkipTally } from "../client/tolerant.ts";
import {
  RoleSchema,
  TEAM_MEMBERSHIP_ENTRY,
  TeamMembershipSchema,
  TeamMembershipsResponseSchema,
  USER_ENTRY,
  UserSchema,
  UsersResponseSchema,
  type Role,
  type TeamMembership,
  type User,
} from "../client/schemas.ts";

const RoleResponseSchema = z.object({ data: RoleSchema });

/** Users whose email equals `email` (case-insensitive). Datadog's `filter` is a substring match, so we narrow. */
export async function findUsersByEmail(client: DatadogClient, email: string, signal?: AbortSignal): Promise<User[]> {
  const wanted = email.trim().toLowerCase();
  const found: User[] = [];
  for (let page: number | undefined = 0; page !== undefined; ) {
    const res = await client.http.request({
      method: "GET",
      path: "/api/v2/users",
      query: { "page[size]": client.pageSize, "page[number]": page, filter: wanted },
      operation: "ListUsers",
      signal,
    });
    const body = parseResponse("ListUsers", UsersResponseSchema, res.body);
    // A look-up, not a listing: entries it cannot use are skipped without a warning.
    for (const user of readEntries("ListUsers", UserSchema, body.data, USER_ENTRY, new SkipTally())) {
      if (user.attributes.email.toLowerCase() === wanted) found.push(user);
    }
    const total = body.meta?.page?.total_filtered_count ?? undefined;
    page = nextPageNumber(page, client.pageSize, body.data.length, total);
  }
  return found;
}

async function exists(client: DatadogClient, operation: string, path: string, signal?: AbortSignal): Promise<boolean> {
  try {
    await client.http.request({ method: "GET", path, operation, signal });
    return true;
  } catch (err) {
    if (err instanceof HttpError && err.code === HttpErrorCode.HTTP_STATUS && err.status === 404) return false;
    throw err;
  }
}

/** One role (GetRole), or undefined when Datadog answers 404. */
export async function getRole(client: DatadogClient, roleId: string, signal?: AbortSignal): Promise<Role | undefined> {
  try {
    const res = await client.http.request({ method: "GET", path: path`/api/v2/roles/${id.role(roleId)}`, operation: "GetRole", signal });
    return parseResponse("GetRole", RoleResponseSchema, res.body).data;
  } catch (err) {
    if (err instanceof HttpError && err.code === HttpErrorCode.HTTP_STATUS && err.status === 404) return undefined;
    throw err;
  }
}

export function teamExists(client: DatadogClient, teamId: string, signal?: AbortSignal): Promise<boolean> {
  return exists(client, "GetTeam", path`/api/v2/team/${id.team(teamId)}`, signal);
}

/**
 * The membership of `user` in team `teamId`, or undefined. Throws HttpError 404 when the team does not exist.
 * Searches by the user's email first (one small page); Datadog's keyword search is a text match, so when it
 * finds nothing the team is walked in full before answering "not a member".
 */
export async function findTeamMembership(
  client: DatadogClient,
  teamId: string,
  user: { id: string; email: string },
  signal?: AbortSignal,
): Promise<TeamMembership | undefined> {
  return (await scanMemberships(client, teamId, user.id, user.email, signal)) ?? (await scanMemberships(client, teamId, user.id, undefined, signal));
}

async function scanMemberships(
  client: DatadogClient,
  teamId: string,
  userId: string,
  keyword: string | undefined,
  signal: AbortSignal | undefined,
): Promise<TeamMembership | undefined> {
  for (let page: number | undefined = 0; page !== undefined; ) {
    const query: Record<string, string | number> = { "page[size]": client.pageSize, "page[number]": page };
    if (keyword !== undefined) query["filter[keyword]"] = keyword;
    const res = await client.http.request({ method: "GET", path: path`/api/v2/team/${id.team(teamId)}/memberships`, query, operation: "GetTeamMemberships", signal });
    const body = parseResponse("GetTeamMemberships", TeamMembershipsResponseSchema, res.body);
    const memberships = readEntries("GetTeamMemberships", TeamMembershipSchema, body.data, TEAM_MEMBERSHIP_ENTRY, new SkipTally());
    const hit = memberships.find((m) => m.relationships.user.data.id === userId);
    if (hit) return hit;
    page = teamsNextPage(page, client.pageSize, body.data.length, { pagination: body.meta?.pagination, links: body.links }).nextPage;
  }
  return undefined;
}
