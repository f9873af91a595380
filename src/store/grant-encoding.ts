// The stored bytes of a page of grants, written straight into one buffer. A grant is mostly references (its
// entitlement's id and resource, its principal's id), and toBinary spends more on its writer's bookkeeping (a
// fork and a copy per nested message, five levels deep) than on those few strings: a page of grants took about
// as much CPU to encode as to fetch. This writer emits the bytes protobuf-es would (fields in field-number order,
// proto3 implicit presence, message fields when set, unknown fields last; test/store/grant-encoding.test.ts
// compares them with toBinary) for the shapes grants have. A resource with a profile, status or the like, or an
// entitlement with grantable types, goes to the general fast writer (wire/fast-binary.ts), and what neither handles
// goes to toBinary.
import { toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { EntitlementSchema, type Entitlement } from "../gen/c1/connector/v2/entitlement_pb.js";
import { GrantSchema, type Grant } from "../gen/c1/connector/v2/grant_pb.js";
import { ResourceIdSchema, ResourceSchema, type Resource, type ResourceId } from "../gen/c1/connector/v2/resource_pb.js";
import { writeMessage } from "../wire/fast-binary.ts";
import { Sink } from "../wire/sink.ts";

/** Field numbers by name this writer knows; a regenerated schema with any other field turns it off (toBinary). */
const KNOWN_FIELDS: ReadonlyArray<[{ fields: ReadonlyArray<{ localName: string; number: number }> }, string]> = [
  [GrantSchema, "entitlement=1,principal=2,id=3,annotations=4,sources=5"],
  [EntitlementSchema, "resource=1,id=2,displayName=3,description=4,grantableTo=5,annotations=6,purpose=7,slug=8"],
  [
    ResourceSchema,
    "id=1,parentResourceId=2,displayName=3,annotations=4,description=5,batonResource=6,externalId=7,creationSource=8,profile=9,icon=10,status=11,createdAt=12",
  ],
  [ResourceIdSchema, "resourceType=1,resource=2,batonResource=3"],
];

let schemasMatch: boolean | undefined;

/** Whether the generated schemas have exactly the fields this writer encodes (checked once). */
export function grantWriterApplies(): boolean {
  schemasMatch ??= KNOWN_FIELDS.every(
    ([schema, expected]) =>
      schema.fields
        .map((f) => `${f.localName}=${f.number}`)
        .sort()
        .join(",") === expected.split(",").sort().join(","),
  );
  return schemasMatch;
}

/** A message field with a message this file's writers leave to the general one (a profile, a status...). */
function embed<Desc extends DescMessage>(sink: Sink, tag: number, schema: Desc, message: MessageShape<Desc>): void {
  sink.byte(tag);
  const at = sink.reserve();
  if (!writeMessage(sink, schema, message)) sink.raw(toBinary(schema, message));
  sink.close(at);
}

/** A message field is written when its value is set on the message itself (explicit presence, as toBinary). */
function isSet(message: object, name: string, value: unknown): boolean {
  return value !== undefined && Object.prototype.hasOwnProperty.call(message, name);
}

function writeUnknown(sink: Sink, unknown: Grant["$unknown"]): void {
  if (!unknown) return;
  for (const { no, wireType, data } of unknown) {
    sink.varint(((no << 3) | wireType) >>> 0);
    sink.raw(data);
  }
}

const TAG = (field: number) => (field << 3) | 2;

function writeResourceId(sink: Sink, tag: number, id: ResourceId): void {
  const at = sink.open(tag);
  sink.string(TAG(1), id.resourceType);
  sink.string(TAG(2), id.resource);
  if (id.batonResource !== false) {
    sink.byte(3 << 3);
    sink.byte(id.batonResource ? 1 : 0);
  }
  writeUnknown(sink, id.$unknown);
  sink.close(at);
}

function writeAny(sink: Sink, tag: number, a: Any): void {
  const at = sink.open(tag);
  sink.string(TAG(1), a.typeUrl);
  if (!(a.value instanceof Uint8Array) || a.value.byteLength > 0) sink.embedded(TAG(2), a.value);
  writeUnknown(sink, a.$unknown);
  sink.close(at);
}

/** A resource as a grant refers to it; one with a profile, icon, status or the like goes to toBinary whole. */
function writeResource(sink: Sink, tag: number, r: Resource): void {
  if (
    isSet(r, "externalId", r.externalId) ||
    r.creationSource !== 0 ||
    isSet(r, "profile", r.profile) ||
    isSet(r, "icon", r.icon) ||
    isSet(r, "status", r.status) ||
    isSet(r, "createdAt", r.createdAt)
  ) {
    embed(sink, tag, ResourceSchema, r);
    return;
  }
  const at = sink.open(tag);
  if (isSet(r, "id", r.id)) writeResourceId(sink, TAG(1), r.id!);
  if (isSet(r, "parentResourceId", r.parentResourceId)) writeResourceId(sink, TAG(2), r.parentResourceId!);
  sink.string(TAG(3), r.displayName);
  for (const a of r.annotations) writeAny(sink, TAG(4), a);
  sink.string(TAG(5), r.description);
  if (r.batonResource !== false) {
    sink.byte(6 << 3);
    sink.byte(r.batonResource ? 1 : 0);
  }
  writeUnknown(sink, r.$unknown);
  sink.close(at);
}

function writeEntitlement(sink: Sink, tag: number, e: Entitlement): void {
  if (e.grantableTo.length > 0 || !Number.isInteger(e.purpose) || e.purpose < 0 || e.purpose > 0x7fffffff) {
    embed(sink, tag, EntitlementSchema, e);
    return;
  }
  const at = sink.open(tag);
  if (isSet(e, "resource", e.resource)) writeResource(sink, TAG(1), e.resource!);
  sink.string(TAG(2), e.id);
  sink.string(TAG(3), e.displayName);
  sink.string(TAG(4), e.description);
  for (const a of e.annotations) writeAny(sink, TAG(6), a);
  if (e.purpose !== 0) {
    sink.byte(7 << 3);
    sink.varint(e.purpose);
  }
  sink.string(TAG(8), e.slug);
  writeUnknown(sink, e.$unknown);
  sink.close(at);
}

/** The bytes of `g` without the annotations `dropAnnotation` picks; one with sources goes to toBinary whole. */
function writeGrant(sink: Sink, g: Grant, dropAnnotation: (a: Any) => boolean): void {
  if (isSet(g, "sources", g.sources)) {
    const kept = g.annotations.some(dropAnnotation) ? { ...g, annotations: g.annotations.filter((a) => !dropAnnotation(a)) } : g;
    sink.raw(toBinary(GrantSchema, kept));
    return;
  }
  if (isSet(g, "entitlement", g.entitlement)) writeEntitlement(sink, TAG(1), g.entitlement!);
  if (isSet(g, "principal", g.principal)) writeResource(sink, TAG(2), g.principal!);
  sink.string(TAG(3), g.id);
  for (const a of g.annotations) if (!dropAnnotation(a)) writeAny(sink, TAG(4), a);
  writeUnknown(sink, g.$unknown);
}

/**
 * Each grant's encoding (without the annotations `dropAnnotation` picks), as views of one buffer per page:
 * byte for byte what toBinary(GrantSchema, …) gives.
 */
export function encodeGrants(grants: readonly Grant[], dropAnnotation: (a: Any) => boolean): Uint8Array[] {
  const sink = new Sink();
  const ends: number[] = [];
  for (const g of grants) {
    writeGrant(sink, g, dropAnnotation);
    ends.push(sink.pos);
  }
  // One right-sized copy: the views keep the whole buffer alive, and the sink's may be twice the bytes.
  return sink.views(ends);
}
