/**
 * Every Datadog operation the connector uses, by id: the few the client itself makes (the API key check and
 * the permission reads of `check -p`) plus those each resource type declares in its own file
 * (resources/<type>.ts, `operations`), gathered from the registry. The permission names feed the 403
 * messages and the diagnosis ("missing permission user_access_read, needed to list users and roles"); the
 * contract tests check every entry against Datadog's spec.
 */
import { op, type OperationInfo } from "./operation-info.ts";
import { RESOURCE_TYPES } from "../resources/registry.ts";
import { AUDIT_OPERATIONS } from "./audit.ts";
import { VALIDATE } from "./connection.ts";

export { op, type OperationInfo } from "./operation-info.ts";

/** Operations that belong to no resource type. */
const CLIENT_OPERATIONS = {
  Validate: VALIDATE,
  ListUserPermissions: op("ListUserPermissions", "GET", "/api/v2/users/{user_id}/permissions", ["user_access_read"], "list the permissions a user's roles grant"),
  ListCurrentUserApplicationKeys: op(
    "ListCurrentUserApplicationKeys",
    "GET",
    "/api/v2/current_user/application_keys",
    ["user_app_keys"],
    "list the caller's own application keys",
  ),
  // The Audit Trail event feeds (resources/audit-feed.ts).
  ...AUDIT_OPERATIONS,
} as const satisfies Record<string, OperationInfo>;

type Merged<U> = (U extends unknown ? (u: U) => void : never) extends (m: infer M) => void ? M : never;
type DeclaredOperations = Merged<(typeof RESOURCE_TYPES)[number]["operations"]>;

function gather(): typeof CLIENT_OPERATIONS & DeclaredOperations {
  const all: Record<string, OperationInfo> = { ...CLIENT_OPERATIONS };
  for (const type of RESOURCE_TYPES) {
    for (const [key, info] of Object.entries(type.operations as Record<string, OperationInfo>)) {
      if (key !== info.id) throw new Error(`resource type ${type.type.id}: operation key "${key}" names operation "${info.id}"`);
      const known = all[key];
      // Two types may both use one operation (schedules walk the teams listing), but only as the same entry.
      if (known && (known.method !== info.method || known.path !== info.path)) {
        throw new Error(`resource type ${type.type.id} declares operation ${key} as ${info.method} ${info.path}, already ${known.method} ${known.path}`);
      }
      all[key] = known ?? info;
    }
  }
  return all as typeof CLIENT_OPERATIONS & DeclaredOperations;
}

export const OPERATIONS = gather();

export type OperationId = keyof typeof OPERATIONS;
