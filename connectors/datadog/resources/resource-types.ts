/**
 * The Datadog connector's resource types. Ids are part of the contract (they appear in every entitlement and
 * grant id stored by the platform), so they never change.
 */
import { annotate } from "../../../src/index.ts";
import { resourceType } from "../../../src/index.ts";
import { ResourceType_Trait } from "../../../src/messages.ts";

export const USER = "user";
export const ROLE = "role";
export const TEAM = "team";
export const SCHEDULE = "schedule";
export const API_KEY = "api-key";
export const APPLICATION_KEY = "application-key";

// Users and keys have neither entitlements nor grants: saying so on the type saves the engine two calls each.
export const userType = resourceType({
  id: USER,
  displayName: "User",
  description: "Datadog users, service accounts included",
  traits: [ResourceType_Trait.USER],
  annotations: [annotate.skipEntitlementsAndGrants()],
});

export const roleType = resourceType({
  id: ROLE,
  displayName: "Role",
  description: "Datadog roles; their permissions are in the profile",
  traits: [ResourceType_Trait.ROLE],
});

export const teamType = resourceType({
  id: TEAM,
  displayName: "Team",
  description: "Datadog teams, with member and admin entitlements",
  traits: [ResourceType_Trait.GROUP],
});

export const scheduleType = resourceType({
  id: SCHEDULE,
  displayName: "On-Call Schedule",
  description: "Datadog On-Call schedules (read-only): a user in any layer is a member",
  traits: [ResourceType_Trait.GROUP],
});

export const apiKeyType = resourceType({
  id: API_KEY,
  displayName: "API Key",
  description: "Datadog API keys (metadata only, never the key's value)",
  traits: [ResourceType_Trait.SECRET],
  annotations: [annotate.skipEntitlementsAndGrants()],
});

export const applicationKeyType = resourceType({
  id: APPLICATION_KEY,
  displayName: "Application Key",
  description: "Datadog application keys (metadata only, never the key's value)",
  traits: [ResourceType_Trait.SECRET],
  annotations: [annotate.skipEntitlementsAndGrants()],
});
