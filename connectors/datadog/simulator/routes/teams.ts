/**
 * Teams: ListTeams, GetTeam, GetTeamMemberships, CreateTeamMembership, UpdateTeamMembership,
 * DeleteTeamMembership. Membership pages carry their users in `included`, as Datadog does, so a client needs
 * no request per member.
 */
import { parseBody, UserTeamRequest, UserTeamUpdateRequest } from "../bodies.ts";
import type { SimMembership, SimTeam } from "../model.ts";
import { readPage, slicePage, teamPaging } from "../paging.ts";
import { memberUserResource, membershipResource, teamResource } from "../resources.ts";
import type { RouteDef } from "../router.ts";

// The spec's x-permission lists teams_read for every team operation, writes included.
const TEAMS = ["teams_read"];

function membershipDocument(team: SimTeam, membership: SimMembership): Record<string, unknown> {
  return { data: membershipResource(team, membership), included: [memberUserResource(membership.user)] };
}

export function teamRoutes(): RouteDef[] {
  return [
    {
      method: "GET",
      template: "/api/v2/team",
      rateLimit: "team",
      errorObjects: true,
      permissions: TEAMS,
      paged: true,
      handler: ({ org, query, url }) => {
        const page = readPage(query);
        const needle = query.get("filter[keyword]")?.toLowerCase() ?? "";
        const all = org.teams.values();
        const filtered = needle
          ? all.filter((t) => t.name.toLowerCase().includes(needle) || t.handle.toLowerCase().includes(needle))
          : all;
        const { links, meta } = teamPaging(url, page, filtered.length);
        return { status: 200, body: { data: slicePage(filtered, page).map(teamResource), links, meta } };
      },
    },
    {
      method: "GET",
      template: "/api/v2/team/{team_id}",
      rateLimit: "team",
      errorObjects: true,
      permissions: TEAMS,
      handler: ({ org, params }) => ({ status: 200, body: { data: teamResource(org.team(params.team_id)) } }),
    },
    {
      method: "GET",
      template: "/api/v2/team/{team_id}/memberships",
      rateLimit: "team",
      errorObjects: true,
      permissions: TEAMS,
      paged: true,
      handler: ({ org, params, query, url }) => {
        const team = org.team(params.team_id);
        const page = readPage(query);
        const needle = query.get("filter[keyword]")?.toLowerCase() ?? "";
        const all = team.members.values();
        const filtered = needle
          ? all.filter((m) => m.user.email.toLowerCase().includes(needle) || (m.user.name?.toLowerCase().includes(needle) ?? false))
          : all;
        const memberships = slicePage(filtered, page);
        const { links, meta } = teamPaging(url, page, filtered.length);
        return {
          status: 200,
          body: {
            data: memberships.map((m) => membershipResource(team, m)),
            included: memberships.map((m) => memberUserResource(m.user)),
            links,
            meta,
          },
        };
      },
    },
    {
      method: "POST",
      template: "/api/v2/team/{team_id}/memberships",
      rateLimit: "team",
      errorObjects: true,
      permissions: TEAMS,
      handler: ({ org, params, rawBody }) => {
        const team = org.team(params.team_id);
        const body = parseBody(rawBody, UserTeamRequest);
        const membership = org.addTeamMember(team.id, body.data.relationships.user.data.id, body.data.attributes?.role ?? null);
        return { status: 200, body: membershipDocument(team, membership) };
      },
    },
    {
      method: "PATCH",
      template: "/api/v2/team/{team_id}/memberships/{user_id}",
      rateLimit: "team",
      errorObjects: true,
      permissions: TEAMS,
      handler: ({ org, params, rawBody }) => {
        const team = org.team(params.team_id);
        const body = parseBody(rawBody, UserTeamUpdateRequest);
        const attributes = body.data.attributes;
        // Absent `role` leaves the membership as it is; an explicit null demotes an admin to member.
        const role = attributes && "role" in attributes ? (attributes.role ?? null) : undefined;
        const membership = org.updateTeamMember(team.id, params.user_id, role);
        return { status: 200, body: membershipDocument(team, membership) };
      },
    },
    {
      method: "DELETE",
      template: "/api/v2/team/{team_id}/memberships/{user_id}",
      rateLimit: "team",
      errorObjects: true,
      permissions: TEAMS,
      handler: ({ org, params }) => {
        org.removeTeamMember(params.team_id, params.user_id);
        return { status: 204 };
      },
    },
  ];
}
