/**
 * Annotations are `repeated google.protobuf.Any`. These helpers pack the ones connectors use and find them
 * again in a list, so that no code compares type URLs by hand.
 */
import { create, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { anyIs, anyUnpack, timestampFromDate, type Any } from "@bufbuild/protobuf/wkt";
import { packAny } from "../wire/fast-binary.ts";
import {
  ChildResourceTypeSchema,
  SkipEntitlementsAndGrantsSchema,
  SkipEntitlementsSchema,
  SkipGrantsSchema,
} from "../gen/c1/connector/v2/annotation_resource_tree_pb.js";
import { ExternalLinkSchema } from "../gen/c1/connector/v2/annotation_external_link_pb.js";
import {
  GrantAlreadyExistsSchema,
  GrantAlreadyRevokedSchema,
  GrantExpandableSchema,
  GrantImmutableSchema,
} from "../gen/c1/connector/v2/annotation_grant_pb.js";
import {
  RateLimitDescriptionSchema,
  RateLimitDescription_Status,
} from "../gen/c1/connector/v2/annotation_ratelimit_pb.js";
import { V1IdentifierSchema } from "../gen/c1/connector/v2/annotation_v1_identifier_pb.js";

export function pack<Desc extends DescMessage>(schema: Desc, init?: MessageInitShape<Desc>): Any {
  return packAny(schema, create(schema, init));
}

/** The first annotation of the given type, decoded, or undefined. */
export function findAnnotation<Desc extends DescMessage>(
  annotations: readonly Any[] | undefined,
  schema: Desc,
): MessageShape<Desc> | undefined {
  for (const a of annotations ?? []) {
    if (anyIs(a, schema)) return anyUnpack(a, schema);
  }
  return undefined;
}

export function hasAnnotation(annotations: readonly Any[] | undefined, schema: DescMessage): boolean {
  return (annotations ?? []).some((a) => anyIs(a, schema));
}

export function withoutAnnotation(annotations: readonly Any[], schema: DescMessage): Any[] {
  return annotations.filter((a) => !anyIs(a, schema));
}

export const annotate = {
  childResourceType: (resourceTypeId: string) => pack(ChildResourceTypeSchema, { resourceTypeId }),
  externalLink: (url: string) => pack(ExternalLinkSchema, { url }),
  skipEntitlementsAndGrants: () => pack(SkipEntitlementsAndGrantsSchema),
  skipEntitlements: () => pack(SkipEntitlementsSchema),
  skipGrants: () => pack(SkipGrantsSchema),
  grantExpandable: (init: { entitlementIds: string[]; shallow?: boolean; resourceTypeIds?: string[] }) =>
    pack(GrantExpandableSchema, init),
  grantImmutable: (sourceId = "") => pack(GrantImmutableSchema, { sourceId }),
  grantAlreadyExists: () => pack(GrantAlreadyExistsSchema),
  grantAlreadyRevoked: () => pack(GrantAlreadyRevokedSchema),
  v1Identifier: (id: string) => pack(V1IdentifierSchema, { id }),
  rateLimit: (init: { limit: number; remaining: number; resetAt: Date; overLimit: boolean }) =>
    pack(RateLimitDescriptionSchema, {
      status: init.overLimit ? RateLimitDescription_Status.OVERLIMIT : RateLimitDescription_Status.OK,
      limit: BigInt(init.limit),
      remaining: BigInt(init.remaining),
      resetAt: timestampFromDate(init.resetAt),
    }),
};
