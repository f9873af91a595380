/**
 * `team`: Datadog teams with two entitlements. Every member holds `member`; a member whose membership role is
 * `admin` also holds `admin`. A membership page brings its users in the same answer (`included`), so listing
 * grants costs one request per page of members, never one per member.
 *
 * Provisioning follows the membership model: granting `admin` creates the membership as admin or promotes an
 * existing member; revoking `admin` demotes (the membership stays); revoking `member` removes the membership,
 * so an admin loses both.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { annotate, pack, resourceType } from "../../../src/index.ts";
import { GrantMetadataSchema, ResourceType_Trait } from "../../../src/messages.ts";
import { entitlement, grant, groupResource, resourceId } from "../../../src/index.ts";
import { Code, ConnectorError } from "../../../src/index.ts";
import type { CallContext, Provisioner, ResourceSyncer } from "../../../src/index.ts";
import type { Resource } from "../../../src/messages.ts";
import type { Team, TeamMembership } from "../client/schemas.ts";
import { op } from "../client/operation-info.ts";
import type { SyncerDeps } from "./deps.ts";
import { call, callOrAbsent, datadogError, isHttpStatus } from "./errors.ts";
import { q } from "./links.ts";
import { findTeamMembership, teamExists } from "./lookups.ts";
import { AUTHN_MAPPING_OPERATIONS } from "./sso-mappings.ts";
import { numberedPage } from "./paging.ts";
import { entitlementTarget, grantParts, principalUserId } from "./provisioning.ts";
import { datadogResourceType } from "./resource-type.ts";
import { USER, userNotFound, userType } from "./users.ts";
import { dateOf, nonEmpty, profileOf } from "./values.ts";

export const TEAM = "team";

export const teamType = resourceType({
  id: TEAM,
  displayName: "Team",
  description: "Datadog teams, with member and admin entitlements",
  traits: [ResourceType_Trait.GROUP],
});

const operations = {
  ListTeams: op("ListTeams", "GET", "/api/v2/team", ["teams_read"], "list teams"),
  GetTeam: op("GetTeam", "GET", "/api/v2/team/{team_id}", ["teams_read"], "read a team"),
  GetTeamMemberships: op("GetTeamMemberships", "GET", "/api/v2/team/{team_id}/memberships", ["teams_read"], "list team members"),
  CreateTeamMembership: op("CreateTeamMembership", "POST", "/api/v2/team/{team_id}/memberships", ["teams_read"], "add team members"),
  UpdateTeamMembership: op("UpdateTeamMembership", "PATCH", "/api/v2/team/{team_id}/memberships/{user_id}", ["teams_read"], "change team member roles"),
  DeleteTeamMembership: op("DeleteTeamMembership", "DELETE", "/api/v2/team/{team_id}/memberships/{user_id}", ["teams_read"], "remove team members"),
  // The SAML mappings that grant team membership (sso-mappings.ts): profiles with --sync-sso-mappings, revoke warnings.
  ...AUTHN_MAPPING_OPERATIONS,
} as const;

const link = (deps: SyncerDeps, handle: string) => deps.appLink(`/teams/${q(handle)}`);

const SLUGS = ["member", "admin"] as const;

const teamNotFound = (teamId: string, slug: string) => `Datadog team "${teamId}" does not exist (entitlement team:${teamId}:${slug})`;

export function teamEntitlements(team: Resource) {
  return {
    member: entitlement(team, "member", {
      displayName: `${team.displayName} member`,
      description: `Member of the Datadog team ${team.displayName}`,
      grantableTo: [userType],
      purpose: "assignment",
    }),
    admin: entitlement(team, "admin", {
      displayName: `${team.displayName} admin`,
      description: `Administrator of the Datadog team ${team.displayName} (also a member)`,
      grantableTo: [userType],
      purpose: "permission",
    }),
  };
}

/**
 * Who or what made a membership (`provisioned_by`: null for a person, "service_account", "saml_mapping"; and
 * `provisioned_by_id`, the person or service account), as GrantMetadata on its grants; none when neither is set.
 */
export function membershipAnnotations(m: TeamMembership) {
  const metadata = profileOf({ provisioned_by: nonEmpty(m.attributes?.provisioned_by), provisioned_by_id: nonEmpty(m.attributes?.provisioned_by_id) });
  return Object.keys(metadata).length ? [pack(GrantMetadataSchema, { metadata })] : [];
}

/** `sso`: the profile fields of the SAML mappings that grant the team (sso-mappings.ts), when they are synced. */
export function teamToResource(team: Team, deps: SyncerDeps, sso: JsonObject = {}): Resource {
  const a = team.attributes;
  return groupResource({
    type: TEAM,
    id: team.id,
    displayName: a.name,
    description: nonEmpty(a.summary) ?? nonEmpty(a.description),
    profile: profileOf({
      name: a.name,
      handle: a.handle,
      summary: nonEmpty(a.summary),
      description: nonEmpty(a.description),
      user_count: a.user_count ?? undefined,
      link_count: a.link_count ?? undefined,
      is_managed: a.is_managed ?? undefined,
      ...sso,
    }),
    createdAt: dateOf(a.created_at),
    annotations: link(deps, a.handle),
  });
}

export function teamSyncer(deps: SyncerDeps): ResourceSyncer {
  const { client } = deps;

  /** After a 404 on a membership call: which of the team or the user is missing (undefined: both exist). */
  const missing = async (ctx: CallContext, teamId: string, userId: string, slug: string): Promise<ConnectorError | undefined> => {
    if (!(await call(client, () => teamExists(client, teamId, ctx.signal)))) return new ConnectorError(Code.NOT_FOUND, teamNotFound(teamId, slug));
    if (!(await callOrAbsent(client, () => client.getUser(userId, ctx.signal)))) return new ConnectorError(Code.NOT_FOUND, userNotFound(userId));
    return undefined;
  };

  const membershipOf = async (ctx: CallContext, teamId: string, userId: string, slug: string) => {
    const user = await call(client, () => client.getUser(userId, ctx.signal), { notFound: userNotFound(userId) });
    const membership = await call(client, () => findTeamMembership(client, teamId, { id: userId, email: user.attributes.email }, ctx.signal), {
      notFound: teamNotFound(teamId, slug),
    });
    return membership;
  };

  const provisioner: Provisioner = {
    async grant(ctx, principal, ent) {
      const { resourceId: teamId, slug } = entitlementTarget(ent, TEAM, SLUGS);
      const userId = principalUserId(principal, `grant team ${slug}`);
      const team = ent.resource!;
      const ents = teamEntitlements(team);
      const asAdmin = slug === "admin";
      try {
        await client.createTeamMembership(teamId, userId, asAdmin ? "admin" : null, ctx.signal);
        ctx.logger.info({ teamId, userId, admin: asAdmin }, "added user to Datadog team");
        return { grants: asAdmin ? [grant(ents.member, principal), grant(ent, principal)] : [grant(ent, principal)] };
      } catch (err) {
        if (isHttpStatus(err, 404)) throw (await missing(ctx, teamId, userId, slug)) ?? datadogError(err, client);
        if (!isHttpStatus(err, 409)) throw datadogError(err, client);
      }
      // 409: already a member.
      if (!asAdmin) return { annotations: [annotate.grantAlreadyExists()], grants: [grant(ent, principal)] };
      const membership = await membershipOf(ctx, teamId, userId, slug);
      if (!membership) {
        throw new ConnectorError(Code.ABORTED, `the membership of user ${userId} in team ${teamId} changed while it was being granted; try again`);
      }
      if (membership.attributes?.role === "admin") return { annotations: [annotate.grantAlreadyExists()], grants: [grant(ent, principal)] };
      await call(client, () => client.updateTeamMembership(teamId, userId, "admin", ctx.signal));
      ctx.logger.info({ teamId, userId }, "promoted Datadog team member to admin");
      return { grants: [grant(ent, principal)] };
    },

    async revoke(ctx, g) {
      const { resourceId: teamId, slug, userId } = grantParts(g, TEAM, SLUGS, `revoke team ${SLUGS.join("/")}`);
      if (slug === "member") {
        try {
          await client.deleteTeamMembership(teamId, userId, ctx.signal);
        } catch (err) {
          if (!isHttpStatus(err, 404)) throw datadogError(err, client);
          const why = await missing(ctx, teamId, userId, slug);
          if (why) throw why;
          return { annotations: [annotate.grantAlreadyRevoked(), ...(await deps.sso.revokeWarning(ctx, TEAM, teamId, userId))] };
        }
        ctx.logger.info({ teamId, userId }, "removed user from Datadog team");
        // A SAML mapping that grants the membership gives it back at the next login (admin is never mapped).
        return { annotations: await deps.sso.revokeWarning(ctx, TEAM, teamId, userId) };
      }
      const membership = await membershipOf(ctx, teamId, userId, slug);
      if (membership?.attributes?.role !== "admin") return { annotations: [annotate.grantAlreadyRevoked()] };
      await call(client, () => client.updateTeamMembership(teamId, userId, null, ctx.signal));
      ctx.logger.info({ teamId, userId }, "demoted Datadog team admin to member");
      return {};
    },
  };

  return {
    resourceType: teamType,
    async list(ctx, _parent, pageToken) {
      const page = await numberedPage(pageToken, "teams", (n) => call(client, () => client.listTeamsPage(n, ctx.signal)));
      const items = await Promise.all(page.items.map(async (t) => teamToResource(t, deps, await deps.sso.profileFields(ctx, TEAM, t.id))));
      return { ...page, items };
    },
    async entitlements(_ctx, resource) {
      const { member, admin } = teamEntitlements(resource);
      return { items: [member, admin] };
    },
    async grants(ctx, resource, pageToken) {
      const teamId = resource.id.resource;
      const page = await numberedPage(pageToken, `members of team ${teamId}`, (n) =>
        call(client, () => client.listTeamMembershipsPage(teamId, n, ctx.signal), { notFound: `Datadog team "${teamId}" no longer exists` }),
      );
      const { member, admin } = teamEntitlements(resource);
      const items = page.items.flatMap((m) => {
        const principal = resourceId(USER, m.relationships.user.data.id);
        const opts = { annotations: membershipAnnotations(m) };
        return m.attributes?.role === "admin" ? [grant(member, principal, opts), grant(admin, principal, opts)] : [grant(member, principal, opts)];
      });
      return { ...page, items };
    },
    async get(ctx, id) {
      const team = await call(client, () => client.getTeam(id.resource, ctx.signal), { notFound: `Datadog team "${id.resource}" does not exist` });
      return teamToResource(team, deps, await deps.sso.profileFields(ctx, TEAM, team.id));
    },
    provisioner,
  };
}

export const teams = datadogResourceType({
  type: teamType,
  operations,
  diagnose: { what: "teams", operation: operations.ListTeams },
  syncer: teamSyncer,
});
