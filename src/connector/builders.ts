/**
 * Helpers that build well-formed resources, entitlements and grants, so that connectors never spell ids or
 * trait annotations by hand. Ids follow Baton's conventions: entitlement `type:id:slug`, grant
 * `entitlementId:principalType:principalId`. Since baton-sdk v0.25 `status`, `profile` and `created_at` live on
 * Resource; the deprecated copies on the traits are still read by older consumers, so both are set.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate, type Any } from "@bufbuild/protobuf/wkt";
import { packAny } from "../wire/fast-binary.ts";
import type { JsonObject } from "@bufbuild/protobuf";
import {
  ResourceIdSchema,
  ResourceSchema,
  ResourceTypeSchema,
  Status_ResourceStatus,
  StatusSchema,
  type Resource,
  type ResourceId,
  type ResourceType,
  type ResourceType_Trait,
} from "../gen/c1/connector/v2/resource_pb.js";
import { EntitlementSchema, Entitlement_PurposeValue, type Entitlement } from "../gen/c1/connector/v2/entitlement_pb.js";
import { GrantSchema, type Grant } from "../gen/c1/connector/v2/grant_pb.js";
import {
  GroupTraitSchema,
  RoleTraitSchema,
  AppTraitSchema,
  SecretTraitSchema,
  UserTraitSchema,
  UserTrait_StatusSchema,
  UserTrait_Status_Status,
} from "../gen/c1/connector/v2/annotation_trait_pb.js";

export type ResourceStatus = "enabled" | "disabled" | "deleted";

export function resourceId(resourceType: string, id: string): ResourceId {
  return create(ResourceIdSchema, { resourceType, resource: id });
}

export function resourceType(init: {
  id: string;
  displayName: string;
  traits: ResourceType_Trait[];
  description?: string;
  annotations?: Any[];
}): ResourceType {
  return create(ResourceTypeSchema, init);
}

interface ResourceCommon {
  type: string;
  id: string;
  displayName: string;
  description?: string;
  parent?: ResourceId;
  profile?: JsonObject;
  status?: ResourceStatus;
  statusDetails?: string;
  createdAt?: Date;
  annotations?: Any[];
}

const resourceStatus: Record<ResourceStatus, Status_ResourceStatus> = {
  enabled: Status_ResourceStatus.ENABLED,
  disabled: Status_ResourceStatus.DISABLED,
  deleted: Status_ResourceStatus.DELETED,
};

const userStatus: Record<ResourceStatus, UserTrait_Status_Status> = {
  enabled: UserTrait_Status_Status.ENABLED,
  disabled: UserTrait_Status_Status.DISABLED,
  deleted: UserTrait_Status_Status.DELETED,
};

function baseResource(common: ResourceCommon, trait: Any | undefined): Resource {
  const annotations = [...(trait ? [trait] : []), ...(common.annotations ?? [])];
  return create(ResourceSchema, {
    id: resourceId(common.type, common.id),
    parentResourceId: common.parent,
    displayName: common.displayName,
    description: common.description ?? "",
    annotations,
    profile: common.profile,
    status: common.status
      ? create(StatusSchema, { status: resourceStatus[common.status], details: common.statusDetails ?? "" })
      : undefined,
    createdAt: common.createdAt ? timestampFromDate(common.createdAt) : undefined,
  });
}

// Struct fields are plain JSON objects in protobuf-es v2.
const structOf = (profile: JsonObject | undefined) => profile;

function timestampOf(date: Date | undefined) {
  return date ? timestampFromDate(date) : undefined;
}

export type UserTraitInit = Omit<
  MessageInitShape<typeof UserTraitSchema>,
  "status" | "profile" | "createdAt" | "$typeName"
>;

export function userResource(common: ResourceCommon & { user: UserTraitInit }): Resource {
  const trait = create(UserTraitSchema, {
    ...common.user,
    status: common.status
      ? create(UserTrait_StatusSchema, { status: userStatus[common.status], details: common.statusDetails ?? "" })
      : undefined,
    profile: structOf(common.profile),
    createdAt: timestampOf(common.createdAt),
  });
  return baseResource(common, packAny(UserTraitSchema, trait));
}

export function groupResource(common: ResourceCommon): Resource {
  const trait = create(GroupTraitSchema, { profile: structOf(common.profile) });
  return baseResource(common, packAny(GroupTraitSchema, trait));
}

export function roleResource(common: ResourceCommon): Resource {
  const trait = create(RoleTraitSchema, { profile: structOf(common.profile) });
  return baseResource(common, packAny(RoleTraitSchema, trait));
}

export function appResource(common: ResourceCommon & { helpUrl?: string }): Resource {
  const trait = create(AppTraitSchema, { profile: structOf(common.profile), helpUrl: common.helpUrl ?? "" });
  return baseResource(common, packAny(AppTraitSchema, trait));
}

export function secretResource(
  common: ResourceCommon & {
    secret: { lastUsedAt?: Date; expiresAt?: Date; createdById?: ResourceId; identityId?: ResourceId };
  },
): Resource {
  const trait = create(SecretTraitSchema, {
    profile: structOf(common.profile),
    createdAt: timestampOf(common.createdAt),
    lastUsedAt: timestampOf(common.secret.lastUsedAt),
    expiresAt: timestampOf(common.secret.expiresAt),
    createdById: common.secret.createdById,
    identityId: common.secret.identityId,
  });
  return baseResource(common, packAny(SecretTraitSchema, trait));
}

/** A resource reduced to what a grant or entitlement needs to reference it. */
export function resourceRef(resource: Resource | ResourceId): Resource {
  if (resource.$typeName === "c1.connector.v2.ResourceId") return create(ResourceSchema, { id: resource });
  return resource;
}

export function entitlementId(resource: Resource | ResourceId, slug: string): string {
  const id = resource.$typeName === "c1.connector.v2.ResourceId" ? resource : resource.id;
  if (!id) throw new Error("entitlementId: resource has no id");
  return `${id.resourceType}:${id.resource}:${slug}`;
}

export type Purpose = "assignment" | "permission" | "ownership";
const purposes: Record<Purpose, Entitlement_PurposeValue> = {
  assignment: Entitlement_PurposeValue.ASSIGNMENT,
  permission: Entitlement_PurposeValue.PERMISSION,
  ownership: Entitlement_PurposeValue.OWNERSHIP,
};

export function entitlement(
  resource: Resource,
  slug: string,
  opts: {
    displayName?: string;
    description?: string;
    grantableTo?: ResourceType[];
    purpose?: Purpose;
    annotations?: Any[];
  } = {},
): Entitlement {
  return create(EntitlementSchema, {
    resource,
    id: entitlementId(resource, slug),
    slug,
    displayName: opts.displayName ?? `${resource.displayName} ${slug}`,
    description: opts.description ?? "",
    grantableTo: opts.grantableTo ?? [],
    purpose: purposes[opts.purpose ?? "assignment"],
    annotations: opts.annotations ?? [],
  });
}

export function grantId(entitlementIdValue: string, principal: ResourceId): string {
  return `${entitlementIdValue}:${principal.resourceType}:${principal.resource}`;
}

/**
 * The entitlement as a grant references it: its id and its resource's id, parent and name, as Go's
 * grant.NewGrant does. Copying the whole entitlement and resource (profile, annotations) into each of
 * 100,000 grants would multiply the c1z's size for no reader's benefit.
 */
export function entitlementRef(ent: Entitlement): Entitlement {
  const known = refs.get(ent);
  if (known !== undefined && known.id === ent.id) return known;
  const r = ent.resource;
  const ref = create(EntitlementSchema, {
    id: ent.id,
    resource: r ? create(ResourceSchema, { id: r.id, parentResourceId: r.parentResourceId, displayName: r.displayName }) : undefined,
  });
  refs.set(ent, ref);
  return ref;
}

/**
 * The reference made for each entitlement object: a page of 100 memberships of one team makes one, not 100 (two
 * messages fewer per grant). Grants of one entitlement then share it, as messages to read, not to change.
 */
const refs = new WeakMap<Entitlement, Entitlement>();

export function grant(
  ent: Entitlement,
  principal: Resource | ResourceId,
  opts: { annotations?: Any[] } = {},
): Grant {
  const principalResource = resourceRef(principal);
  if (!principalResource.id) throw new Error("grant: principal has no id");
  return create(GrantSchema, {
    id: grantId(ent.id, principalResource.id),
    entitlement: entitlementRef(ent),
    principal: principalResource,
    annotations: opts.annotations ?? [],
  });
}
