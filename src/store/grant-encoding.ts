// The stored bytes of a page of grants, written straight into one buffer. A grant is mostly references (its
// entitlement's id and resource, its principal's id), and toBinary spends more on its writer's bookkeeping (a
// fork and a copy per nested message, five levels deep) than on those few strings: a page of grants took about
// as much CPU to encode as to fetch. This writer emits the bytes protobuf-es would (fields in field-number order,
// proto3 implicit presence, message fields when set, unknown fields last; test/store/grant-encoding.test.ts
// compares them with toBinary) for the shapes grants have, and hands anything else, whole, to toBinary.
import { toBinary } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { EntitlementSchema, type Entitlement } from "../gen/c1/connector/v2/entitlement_pb.js";
import { GrantSchema, type Grant } from "../gen/c1/connector/v2/grant_pb.js";
import { ResourceIdSchema, ResourceSchema, type Resource, type ResourceId } from "../gen/c1/connector/v2/resource_pb.js";

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

/**
 * A growable byte buffer with the few protobuf primitives grants need (tags of fields 1-15 are one byte).
 * A Buffer, not a plain Uint8Array: `write` puts a string's UTF-8 straight at an offset, where TextEncoder's
 * encodeInto needs a subarray view per string (eight or so per grant: ~70 MB of garbage in a bench sync).
 * Zero-filled, so bytes past what was written are never old memory.
 */
class Sink {
  buf = Buffer.alloc(16 * 1024);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const grown = Buffer.alloc(size);
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  varint(v: number): void {
    this.ensure(5);
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }

  /** Starts a length-delimited field: its tag and one byte reserved for the length. */
  open(tag: number): number {
    this.ensure(2);
    this.buf[this.pos++] = tag;
    return this.pos++;
  }

  /** Ends the field opened at `at`: a length of 128 or more needs more bytes, so the content moves right. */
  close(at: number): void {
    const len = this.pos - at - 1;
    if (len < 0x80) {
      this.buf[at] = len;
      return;
    }
    const size = varintSize(len);
    this.ensure(size - 1);
    this.buf.copyWithin(at + size, at + 1, this.pos);
    this.pos += size - 1;
    let v = len;
    let i = at;
    while (v > 0x7f) {
      this.buf[i++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[i] = v;
  }

  /** A string field, left out when empty (implicit presence). */
  string(tag: number, s: string): void {
    if (s === "") return;
    // UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair: 4 bytes for 2 units); a lone surrogate is
    // written as U+FFFD, as toBinary's TextEncoder does.
    this.ensure(2 + 5 + 3 * s.length);
    const at = this.open(tag);
    this.pos += this.buf.write(s, this.pos, "utf8");
    this.close(at);
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.byteLength);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.byteLength;
  }

  /** A length-delimited field holding bytes encoded elsewhere. */
  embedded(tag: number, bytes: Uint8Array): void {
    this.byte(tag);
    this.varint(bytes.byteLength);
    this.raw(bytes);
  }
}

function varintSize(v: number): number {
  let n = 1;
  while (v > 0x7f) {
    v >>>= 7;
    n++;
  }
  return n;
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
    sink.embedded(tag, toBinary(ResourceSchema, r));
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
    sink.embedded(tag, toBinary(EntitlementSchema, e));
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
  // One right-sized copy: the views keep the whole buffer alive, and the sink's may be twice the bytes. A plain
  // Uint8Array (Buffer's slice would be a view of the sink, not a copy), as toBinary gives.
  const all = new Uint8Array(sink.pos);
  all.set(sink.buf.subarray(0, sink.pos));
  const out: Uint8Array[] = new Array(grants.length);
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    out[i] = all.subarray(start, ends[i]);
    start = ends[i];
  }
  return out;
}
