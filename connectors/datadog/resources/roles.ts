/**
 * `role`: Datadog roles with one entitlement, `member`, held by the role's users. The permission names go in
 * the profile: the list answer already carries each role's permission ids, so names come from one
 * ListPermissions per sync (cached by sync id) instead of one request per role.
 */
import { annotate } from "../../../src/index.ts";
import { entitlement, grant, resourceId, roleResource } from "../../../src/index.ts";
import { Code, ConnectorError } from "../../../src/index.ts";
import type { CallContext, Provisioner, ResourceSyncer } from "../../../src/index.ts";
import type { Resource } from "../../../src/messages.ts";
import type { DatadogClient, Role } from "../client/index.ts";
import { call } from "./errors.ts";
import { getRole } from "./lookups.ts";
import { numberedPage } from "./paging.ts";
import { entitlementTarget, grantParts, principalUserId, userNotFound } from "./provisioning.ts";
import { ROLE, roleType, USER, userType } from "./resource-types.ts";
import type { SyncerDeps } from "./users.ts";
import { dateOf, profileOf } from "./values.ts";

const SLUGS = ["member"] as const;

const roleNotFound = (roleId: string) => `Datadog role "${roleId}" does not exist (entitlement role:${roleId}:member)`;

function memberEntitlement(role: Resource) {
  return entitlement(role, "member", {
    displayName: `${role.displayName} member`,
    description: `Has the Datadog role ${role.displayName}`,
    grantableTo: [userType],
    purpose: "assignment",
  });
}

/** Permission id → name, fetched once per sync (or once a minute outside a sync). */
class PermissionNames {
  #key = "";
  #at = 0;
  #names: Promise<Map<string, string>> | undefined;
  readonly #client: DatadogClient;

  constructor(client: DatadogClient) {
    this.#client = client;
  }

  get(ctx: CallContext): Promise<Map<string, string>> {
    const key = ctx.activeSyncId ?? "";
    const fresh = key !== "" ? key === this.#key : Date.now() - this.#at < 60_000 && this.#key === "";
    if (!this.#names || !fresh) {
      this.#key = key;
      this.#at = Date.now();
      const pending = call(this.#client, () => this.#client.listPermissions(ctx.signal)).then(
        (list) => new Map(list.map((p) => [p.id, p.attributes.name])),
      );
      // A failed fetch must not be cached: the next page asks again.
      pending.catch(() => {
        if (this.#names === pending) this.#names = undefined;
      });
      this.#names = pending;
    }
    return this.#names;
  }
}

export function roleSyncer(deps: SyncerDeps): ResourceSyncer {
  const { client, links } = deps;
  const permissionNames = new PermissionNames(client);

  const toResource = async (ctx: CallContext, role: Role): Promise<Resource> => {
    const refs = role.relationships?.permissions?.data;
    let permissions: string[];
    if (refs) {
      const names = await permissionNames.get(ctx);
      permissions = refs.map((r) => names.get(r.id) ?? r.id);
    } else {
      // Only when an answer lacks the relationship: one request for this role.
      permissions = (await call(client, () => client.listRolePermissions(role.id, ctx.signal))).map((p) => p.attributes.name);
    }
    return roleResource({
      type: ROLE,
      id: role.id,
      displayName: role.attributes.name,
      profile: profileOf({
        name: role.attributes.name,
        permissions: [...new Set(permissions)].sort(),
        user_count: role.attributes.user_count ?? undefined,
        modified_at: role.attributes.modified_at ?? undefined,
      }),
      createdAt: dateOf(role.attributes.created_at),
      annotations: links.role(role.id),
    });
  };

  const provisioner: Provisioner = {
    async grant(ctx, principal, ent) {
      const { resourceId: roleId } = entitlementTarget(ent, ROLE, SLUGS);
      const userId = principalUserId(principal, "grant role membership");
      const user = await call(client, () => client.getUser(userId, ctx.signal), { notFound: userNotFound(userId) });
      const granted = grant(ent, principal);
      if ((user.relationships?.roles?.data ?? []).some((r) => r.id === roleId)) {
        return { annotations: [annotate.grantAlreadyExists()], grants: [granted] };
      }
      // The user exists, so a 404 here can only be the role.
      await call(client, () => client.addUserToRole(roleId, userId, ctx.signal), { notFound: roleNotFound(roleId) });
      ctx.logger.info({ roleId, userId }, "added user to Datadog role");
      return { grants: [granted] };
    },

    async revoke(ctx, g) {
      const { resourceId: roleId, userId } = grantParts(g, ROLE, SLUGS, "revoke role membership");
      const user = await call(client, () => client.getUser(userId, ctx.signal), { notFound: userNotFound(userId) });
      if (!(user.relationships?.roles?.data ?? []).some((r) => r.id === roleId)) {
        if (!(await call(client, () => getRole(client, roleId, ctx.signal)))) throw new ConnectorError(Code.NOT_FOUND, roleNotFound(roleId));
        return { annotations: [annotate.grantAlreadyRevoked()] };
      }
      await call(client, () => client.removeUserFromRole(roleId, userId, ctx.signal), { notFound: roleNotFound(roleId) });
      ctx.logger.info({ roleId, userId }, "removed user from Datadog role");
      return {};
    },
  };

  return {
    resourceType: roleType,
    async list(ctx, _parent, pageToken) {
      const page = await numberedPage(pageToken, "roles", (n) => call(client, () => client.listRolesPage(n, ctx.signal)));
      return { ...page, items: await Promise.all(page.items.map((r) => toResource(ctx, r))) };
    },
    async entitlements(_ctx, resource) {
      return { items: [memberEntitlement(resource)] };
    },
    async grants(ctx, resource, pageToken) {
      const roleId = resource.id!.resource;
      // A role can hold most of the org: its pages are fetched side by side, not as one long chain.
      const page = await numberedPage(pageToken, `users of role ${roleId}`, (n) =>
        call(client, () => client.listRoleUsersPage(roleId, n, ctx.signal), { notFound: `Datadog role "${roleId}" no longer exists` }),
      );
      const ent = memberEntitlement(resource);
      return { ...page, items: page.items.map((u) => grant(ent, resourceId(USER, u.id))) };
    },
    async get(ctx, id) {
      // The permission names are asked for alongside the role (one round trip, not two); a failure is seen below.
      permissionNames.get(ctx).catch(() => undefined);
      const role = await call(client, () => getRole(client, id.resource, ctx.signal));
      if (!role) throw new ConnectorError(Code.NOT_FOUND, `Datadog role "${id.resource}" does not exist`);
      return toResource(ctx, role);
    },
    provisioner,
  };
}
