/** `user`: one resource per entry of `users`; users hold grants but offer no entitlements. */
import { annotate, resourceType, userResource, type ResourceSyncer } from "../../src/index.ts";
import { ResourceType_Trait, UserTrait_AccountType, type Resource } from "../../src/messages.ts";
import type { InputUser } from "./input.ts";
import { pageOf } from "./paging.ts";

export const USER = "user";

export const userType = resourceType({
  id: USER,
  displayName: "User",
  traits: [ResourceType_Trait.USER],
  description: "An account listed in the input file",
  annotations: [annotate.skipEntitlementsAndGrants()],
});

function toResource(u: InputUser): Resource {
  return userResource({
    type: USER,
    id: u.id,
    displayName: u.displayName ?? u.login ?? u.email ?? u.id,
    status: u.status,
    profile: { ...(u.email ? { email: u.email } : {}), ...(u.login ? { login: u.login } : {}) },
    user: {
      emails: u.email ? [{ address: u.email, isPrimary: true }] : [],
      login: u.login ?? u.email ?? u.id,
      accountType: UserTrait_AccountType.HUMAN,
    },
  });
}

export function userSyncer(users: readonly InputUser[]): ResourceSyncer {
  return {
    resourceType: userType,
    // No entitlements or grants methods: the SDK answers empty pages for a type that has none.
    async list(_ctx, _parent, pageToken) {
      return pageOf(users, pageToken, toResource);
    },
  };
}
