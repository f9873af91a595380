/**
 * The Datadog connector's resource types, in the order they are synced and diagnosed. Adding one: write
 * resources/<type>.ts (see resource-type.ts and users.ts for the shape), add it to this list, and serve its
 * routes in the simulator (simulator/routes/).
 */
import { users } from "./users.ts";
import { roles } from "./roles.ts";
import { teams } from "./teams.ts";
import { schedules } from "./schedules.ts";
import { apiKeys } from "./api-keys.ts";
import { applicationKeys } from "./application-keys.ts";
import { securityInsights } from "./security-insights.ts";

export const RESOURCE_TYPES = [users, roles, teams, schedules, apiKeys, applicationKeys, securityInsights] as const;
