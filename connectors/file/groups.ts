/** `group`: one resource per entry of `groups`, with a `member` entitlement held by its members. */
import { groupResource, resourceType, type ResourceSyncer } from "../../src/index.ts";
import { ResourceType_Trait } from "../../src/messages.ts";
import type { InputGroup } from "./input.ts";
import { memberSyncer } from "./members.ts";

export const GROUP = "group";

export const groupType = resourceType({
  id: GROUP,
  displayName: "Group",
  traits: [ResourceType_Trait.GROUP],
  description: "A group listed in the input file",
});

export function groupSyncer(groups: readonly InputGroup[]): ResourceSyncer {
  return memberSyncer(
    groupType,
    groups,
    (g) => groupResource({ type: GROUP, id: g.id, displayName: g.displayName ?? g.id, description: g.description }),
    (group) => `Member of the group ${group.displayName}`,
  );
}
