// Message ↔ row: the column values PROTOCOL.md §2 derives from each c1.connector.v2 message.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { GrantExpandableSchema, type GrantExpandable } from "../gen/c1/connector/v2/annotation_grant_pb.js";
import { EntitlementSchema, type Entitlement } from "../gen/c1/connector/v2/entitlement_pb.js";
import { GrantSchema, type Grant } from "../gen/c1/connector/v2/grant_pb.js";
import { encodeGrants, grantWriterApplies } from "./grant-encoding.ts";
import { encodeAll } from "../wire/fast-binary.ts";
import {
  ResourceSchema,
  ResourceTypeSchema,
  type Resource,
  type ResourceType,
} from "../gen/c1/connector/v2/resource_pb.js";

const GRANT_EXPANDABLE_TYPE = "c1.connector.v2.GrantExpandable";

export interface ResourceTypeRowValues {
  externalId: string;
  data: Uint8Array;
}

export interface ResourceRowValues {
  resourceTypeId: string;
  externalId: string;
  parentResourceTypeId: string | null;
  parentResourceId: string | null;
  data: Uint8Array;
}

export interface EntitlementRowValues {
  resourceTypeId: string;
  resourceId: string;
  externalId: string;
  data: Uint8Array;
}

export interface GrantRowValues {
  resourceTypeId: string;
  resourceId: string;
  entitlementId: string;
  principalResourceTypeId: string;
  principalResourceId: string;
  externalId: string;
  expansion: Uint8Array | null;
  needsExpansion: 0 | 1;
  data: Uint8Array;
}

/** external_id of a resource: "<type>:<id>". */
export function resourceExternalId(resourceTypeId: string, resourceId: string): string {
  return `${resourceTypeId}:${resourceId}`;
}

/** As required(), with the message built only when it is needed: every row of a sync comes through here. */
function requiredField(value: string | undefined, kind: "resource" | "entitlement" | "grant", name: string, field: string): string {
  if (!value) throw new Error(`cannot store ${kind} ${kind === "resource" ? `"${name}"` : name}: ${field}: it is empty`);
  return value;
}

function required(value: string | undefined, what: string): string {
  if (!value) throw new Error(`cannot store ${what}: it is empty`);
  return value;
}

export function resourceTypeRow(rt: ResourceType): ResourceTypeRowValues {
  return { externalId: required(rt.id, "a resource type without id"), data: toBinary(ResourceTypeSchema, rt) };
}

export function resourceRows(resources: readonly Resource[]): ResourceRowValues[] {
  const data = encodeAll(ResourceSchema, resources);
  return resources.map((r, i) => {
    const type = requiredField(r.id?.resourceType, "resource", r.displayName, "id.resource_type");
    const id = requiredField(r.id?.resource, "resource", r.displayName, "id.resource");
    const parent = r.parentResourceId;
    const hasParent = Boolean(parent && (parent.resourceType || parent.resource));
    return {
      resourceTypeId: type,
      externalId: resourceExternalId(type, id),
      parentResourceTypeId: hasParent ? parent!.resourceType : null,
      parentResourceId: hasParent ? parent!.resource : null,
      data: data[i],
    };
  });
}

export function entitlementRows(entitlements: readonly Entitlement[]): EntitlementRowValues[] {
  const data = encodeAll(EntitlementSchema, entitlements);
  return entitlements.map((e, i) => {
    const id = required(e.id, "an entitlement without id");
    return {
      resourceTypeId: requiredField(e.resource?.id?.resourceType, "entitlement", id, "resource.id.resource_type"),
      resourceId: requiredField(e.resource?.id?.resource, "entitlement", id, "resource.id.resource"),
      externalId: id,
      data: data[i],
    };
  });
}

function isGrantExpandable(a: Any): boolean {
  return a.typeUrl.slice(a.typeUrl.lastIndexOf("/") + 1) === GRANT_EXPANDABLE_TYPE;
}

/** The GrantExpandable annotation leaves `data` and goes, serialized, into `expansion`. */
export function grantRows(grants: readonly Grant[]): GrantRowValues[] {
  const direct = grantWriterApplies();
  const stored: Grant[] = [];
  const rows = grants.map((g): GrantRowValues => {
    const id = required(g.id, "a grant without id");
    let expansion: Uint8Array | null = null;
    let needsExpansion: 0 | 1 = 0;
    // Most grants carry no annotation at all: no search, no copy.
    const expandable = g.annotations.length > 0 ? g.annotations.find(isGrantExpandable) : undefined;
    if (expandable) {
      let decoded: GrantExpandable;
      try {
        decoded = fromBinary(GrantExpandableSchema, expandable.value);
      } catch (err) {
        throw new Error(`cannot store grant ${id}: its GrantExpandable annotation does not decode`, { cause: err });
      }
      expansion = toBinary(GrantExpandableSchema, decoded);
      needsExpansion = decoded.entitlementIds.length > 0 ? 1 : 0;
    }
    // A shallow copy: the caller's message stays as it was (grant-encoding.ts drops the annotation itself).
    if (!direct) stored.push(expandable ? { ...g, annotations: g.annotations.filter((a) => !isGrantExpandable(a)) } : g);
    return {
      resourceTypeId: requiredField(g.entitlement?.resource?.id?.resourceType, "grant", id, "entitlement.resource.id.resource_type"),
      resourceId: requiredField(g.entitlement?.resource?.id?.resource, "grant", id, "entitlement.resource.id.resource"),
      entitlementId: requiredField(g.entitlement?.id, "grant", id, "entitlement.id"),
      principalResourceTypeId: requiredField(g.principal?.id?.resourceType, "grant", id, "principal.id.resource_type"),
      principalResourceId: requiredField(g.principal?.id?.resource, "grant", id, "principal.id.resource"),
      externalId: id,
      expansion,
      needsExpansion,
      data: EMPTY,
    };
  });
  const data = direct ? encodeGrants(grants, isGrantExpandable) : encodeAll(GrantSchema, stored);
  for (let i = 0; i < rows.length; i++) rows[i].data = data[i];
  return rows;
}

const EMPTY = new Uint8Array(0);

export function decodeResourceType(data: Uint8Array): ResourceType {
  return fromBinary(ResourceTypeSchema, data);
}
export function decodeResource(data: Uint8Array): Resource {
  return fromBinary(ResourceSchema, data);
}
export function decodeEntitlement(data: Uint8Array): Entitlement {
  return fromBinary(EntitlementSchema, data);
}
export function decodeGrant(data: Uint8Array): Grant {
  return fromBinary(GrantSchema, data);
}
export function decodeExpansion(data: Uint8Array | null | undefined): GrantExpandable | undefined {
  return data ? fromBinary(GrantExpandableSchema, data) : undefined;
}
