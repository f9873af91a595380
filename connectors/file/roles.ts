/** `role`: one resource per entry of `roles`, with a `member` entitlement held by the users who have it. */
import { resourceType, roleResource, type ResourceSyncer } from "../../src/index.ts";
import { ResourceType_Trait } from "../../src/messages.ts";
import type { InputGroup } from "./input.ts";
import { memberSyncer } from "./members.ts";

export const ROLE = "role";

export const roleType = resourceType({
  id: ROLE,
  displayName: "Role",
  traits: [ResourceType_Trait.ROLE],
  description: "A role listed in the input file",
});

export function roleSyncer(roles: readonly InputGroup[]): ResourceSyncer {
  return memberSyncer(
    roleType,
    roles,
    (r) => roleResource({ type: ROLE, id: r.id, displayName: r.displayName ?? r.id, description: r.description }),
    (role) => `Has the role ${role.displayName}`,
  );
}
