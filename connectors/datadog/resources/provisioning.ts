/**
 * Checks shared by the provisioners: which Datadog object a grant request names, with INVALID_ARGUMENT or
 * NOT_FOUND errors that say which id is wrong and how.
 */
import type { Entitlement } from "../../../src/messages.ts";
import type { Grant } from "../../../src/messages.ts";
import type { Resource } from "../../../src/messages.ts";
import { Code, ConnectorError } from "../../../src/index.ts";
import { USER } from "./users.ts";

/** The Datadog user id of a principal, which must be a `user` resource. */
export function principalUserId(principal: Resource | undefined, action: string): string {
  const id = principal?.id;
  if (!id?.resource) throw new ConnectorError(Code.INVALID_ARGUMENT, `${action}: the principal has no id`);
  if (id.resourceType !== USER) {
    throw new ConnectorError(
      Code.INVALID_ARGUMENT,
      `${action}: principal ${id.resourceType}:${id.resource} is not a user; only users can hold this entitlement`,
    );
  }
  return id.resource;
}

/** The resource id and slug of an entitlement on `resourceType`, checked against the slugs that type has. */
export function entitlementTarget(
  ent: Entitlement | undefined,
  resourceType: string,
  slugs: readonly string[],
): { resourceId: string; slug: string; entitlementId: string } {
  const rid = ent?.resource?.id;
  const entitlementId = ent?.id ?? "";
  if (!rid?.resource || rid.resourceType !== resourceType) {
    throw new ConnectorError(Code.INVALID_ARGUMENT, `entitlement "${entitlementId}" does not belong to a ${resourceType} resource`);
  }
  const prefix = `${resourceType}:${rid.resource}:`;
  const slug = ent?.slug || (entitlementId.startsWith(prefix) ? entitlementId.slice(prefix.length) : "");
  if (!slugs.includes(slug)) {
    throw new ConnectorError(
      Code.NOT_FOUND,
      `entitlement "${entitlementId}" does not exist: a Datadog ${resourceType} has only ${slugs.map((s) => `"${s}"`).join(" and ")}`,
    );
  }
  return { resourceId: rid.resource, slug, entitlementId: entitlementId || prefix + slug };
}

export function grantParts(grant: Grant, resourceType: string, slugs: readonly string[], action: string) {
  const target = entitlementTarget(grant.entitlement, resourceType, slugs);
  const userId = principalUserId(grant.principal, action);
  return { ...target, userId };
}

