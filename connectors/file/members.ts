/**
 * What groups and roles share: one `member` entitlement per entry, granted to each user id in its `members`.
 * input.ts has already checked that every member is a user, so a grant never points at a missing principal.
 */
import { entitlement, grant, resourceId, type ResourceSyncer } from "../../src/index.ts";
import type { Resource, ResourceType } from "../../src/messages.ts";
import type { InputGroup } from "./input.ts";
import { pageOf } from "./paging.ts";
import { USER, userType } from "./users.ts";

export function memberSyncer(
  type: ResourceType,
  entries: readonly InputGroup[],
  toResource: (entry: InputGroup) => Resource,
  describe: (resource: Resource) => string,
): ResourceSyncer {
  const byId = new Map(entries.map((e) => [e.id, e]));
  const member = (resource: Resource) =>
    entitlement(resource, "member", {
      displayName: `${resource.displayName} member`,
      description: describe(resource),
      grantableTo: [userType],
      purpose: "assignment",
    });
  return {
    resourceType: type,
    async list(_ctx, _parent, pageToken) {
      return pageOf(entries, pageToken, toResource);
    },
    async entitlements(_ctx, resource, pageToken) {
      return pageOf([resource], pageToken, member);
    },
    async grants(_ctx, resource, pageToken) {
      const ent = member(resource);
      const members = byId.get(resource.id?.resource ?? "")?.members ?? [];
      return pageOf(members, pageToken, (userId) => grant(ent, resourceId(USER, userId)));
    },
  };
}
