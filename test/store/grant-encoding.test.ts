/**
 * grant-encoding.ts writes grants itself instead of calling toBinary: its bytes must be toBinary's, byte for byte,
 * for every shape a grant can take (the c1z's rows are compared by bytes, and a diff of two syncs would see
 * every grant as changed otherwise). Hand-picked edge cases, then a few thousand random grants.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { anyPack, type Any } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { GrantExpandableSchema } from "../../src/gen/c1/connector/v2/annotation_grant_pb.js";
import { EntitlementSchema, type Entitlement } from "../../src/gen/c1/connector/v2/entitlement_pb.js";
import { GrantSchema, GrantSourcesSchema, type Grant } from "../../src/gen/c1/connector/v2/grant_pb.js";
import { ResourceIdSchema, ResourceSchema, ResourceTypeSchema, type Resource } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { entitlement, grant, groupResource } from "../../src/connector/builders.ts";
import { grantRows } from "../../src/store/codec.ts";
import { encodeGrants, grantWriterApplies } from "../../src/store/grant-encoding.ts";
import { seededRandom } from "../helpers/seeded-random.ts";

const EXPANDABLE = "c1.connector.v2.GrantExpandable";
const isExpandable = (a: Any) => a.typeUrl.endsWith(`/${EXPANDABLE}`);
const expected = (g: Grant) => toBinary(GrantSchema, { ...g, annotations: g.annotations.filter((a) => !isExpandable(a)) });
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function expectSameBytes(grants: Grant[]): void {
  const got = encodeGrants(grants, isExpandable);
  expect(got).toHaveLength(grants.length);
  for (let i = 0; i < grants.length; i++) expect(hex(got[i]), `grant ${i} (${grants[i].id})`).toBe(hex(expected(grants[i])));
}

const rid = (resourceType: string, id: string) => create(ResourceIdSchema, { resourceType, resource: id });
const unknownVarint = (no: number, value: number) => ({ no, wireType: WireType.Varint, data: Uint8Array.of(value) });

describe("grant encoding", () => {
  it("applies to the generated schemas (the fast path is the one under test)", () => {
    expect(grantWriterApplies()).toBe(true);
  });

  it("writes builder-made grants, annotated or not, as toBinary does", () => {
    const team = groupResource({ type: "team", id: "t-1", displayName: "Team One", parent: rid("org", "o"), description: "d", status: "enabled" });
    const member = entitlement(team, "member", { displayName: "Member", description: "is a member", purpose: "assignment" });
    const owner = entitlement(team, "owner", { purpose: "ownership" });
    const user = rid("user", "u-1");
    const expandable = anyPack(GrantExpandableSchema, create(GrantExpandableSchema, { entitlementIds: [member.id], shallow: true }));
    const other = anyPack(ResourceTypeSchema, create(ResourceTypeSchema, { id: "x", displayName: "X" }));
    expectSameBytes([
      grant(member, user),
      grant(owner, team),
      grant(member, user, { annotations: [expandable] }),
      grant(member, user, { annotations: [other, expandable, other] }),
      grant(member, create(ResourceSchema, { id: rid("user", "u-2"), displayName: "Ü ser", parentResourceId: rid("org", "o") })),
    ]);
  });

  it("writes lengths of two and three bytes, multi-byte UTF-8, lone surrogates and a growing buffer", () => {
    const long = "x".repeat(200);
    const huge = "é".repeat(20_000); // 40,000 bytes: a three-byte length, past the first buffer
    const r = create(ResourceSchema, { id: rid("user", "🙂-𝄞-\ud800-end"), displayName: long, description: huge });
    const e = create(EntitlementSchema, { id: long, resource: r, displayName: "名前", slug: "s" });
    const grants = [
      create(GrantSchema, { id: long, entitlement: e, principal: r }),
      create(GrantSchema, { id: "g\u0000nul", entitlement: e, principal: create(ResourceSchema, { id: rid("user", huge) }) }),
    ];
    expectSameBytes(grants);
  });

  it("writes empty sub-messages, missing sub-messages and every scalar's non-default value", () => {
    const grants = [
      create(GrantSchema, { id: "a" }),
      create(GrantSchema, { id: "b", entitlement: create(EntitlementSchema), principal: create(ResourceSchema) }),
      create(GrantSchema, {
        id: "c",
        entitlement: create(EntitlementSchema, { id: "e", purpose: 3, resource: create(ResourceSchema, { batonResource: true, id: create(ResourceIdSchema, { batonResource: true }) }) }),
        principal: create(ResourceSchema, { id: rid("", "only-id"), parentResourceId: create(ResourceIdSchema) }),
      }),
      create(GrantSchema, { id: "d", annotations: [anyPack(ResourceIdSchema, rid("a", "b"))] }),
      create(GrantSchema, { id: "e", annotations: [{ $typeName: "google.protobuf.Any", typeUrl: "", value: new Uint8Array(0) }] }),
    ];
    expectSameBytes(grants);
  });

  it("hands shapes it does not write (sources, grantable_to, a profile or status, a negative enum) to toBinary", () => {
    const user = create(ResourceSchema, { id: rid("user", "u"), profile: { email: "a@b.c", n: 1 }, createdAt: { seconds: 5n, nanos: 1 } });
    const ent = create(EntitlementSchema, { id: "e", grantableTo: [create(ResourceTypeSchema, { id: "user" })] });
    const expandable = anyPack(GrantExpandableSchema, create(GrantExpandableSchema, { entitlementIds: ["x"] }));
    expectSameBytes([
      create(GrantSchema, { id: "s", sources: create(GrantSourcesSchema, { sources: { a: { isDirect: true } } }), annotations: [expandable] }),
      create(GrantSchema, { id: "g", entitlement: ent, principal: user }),
      create(GrantSchema, { id: "n", entitlement: create(EntitlementSchema, { id: "e", purpose: -1 as never }) }),
      create(GrantSchema, { id: "st", principal: create(ResourceSchema, { id: rid("user", "u"), status: { status: 2 } }) }),
    ]);
  });

  it("keeps unknown fields at every level, last, as toBinary does", () => {
    const id = { ...rid("user", "u"), $unknown: [unknownVarint(40, 7)] };
    const principal = { ...create(ResourceSchema, { id }), $unknown: [unknownVarint(99, 1), { no: 100, wireType: WireType.LengthDelimited, data: Uint8Array.of(2, 9, 9) }] };
    const ent = { ...create(EntitlementSchema, { id: "e", resource: principal }), $unknown: [unknownVarint(536_870_911, 3)] };
    const annotation = { ...anyPack(ResourceIdSchema, rid("a", "b")), $unknown: [unknownVarint(9, 1)] };
    const g = { ...create(GrantSchema, { id: "u", entitlement: ent, principal, annotations: [annotation] }), $unknown: [unknownVarint(77, 4)] };
    expectSameBytes([g]);
    // The unknown fields survive a round trip through the stored bytes.
    expect(fromBinary(GrantSchema, encodeGrants([g], isExpandable)[0]).$unknown).toHaveLength(1);
  });

  it("matches toBinary for thousands of random grants", () => {
    const random = seededRandom(14);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
    const text = () => pick(["", "a", "team-42", "ü", "🙂", "x".repeat(130), "y".repeat(17_000), "\ud83d"]);
    const maybe = <T>(f: () => T): T | undefined => (random() < 0.5 ? f() : undefined);
    const resourceId = () => create(ResourceIdSchema, { resourceType: text(), resource: text(), batonResource: random() < 0.2 });
    const annotations = (): Any[] =>
      Array.from({ length: pick([0, 0, 1, 2]) }, () =>
        random() < 0.3
          ? anyPack(GrantExpandableSchema, create(GrantExpandableSchema, { entitlementIds: [text()] }))
          : anyPack(ResourceIdSchema, resourceId()),
      );
    const res = (): Resource =>
      create(ResourceSchema, {
        id: maybe(resourceId),
        parentResourceId: maybe(resourceId),
        displayName: text(),
        description: text(),
        batonResource: random() < 0.2,
        annotations: annotations(),
        profile: random() < 0.1 ? { k: text() } : undefined,
        creationSource: random() < 0.1 ? 1 : 0,
      });
    const ent = (): Entitlement =>
      create(EntitlementSchema, {
        resource: maybe(res),
        id: text(),
        displayName: text(),
        description: text(),
        slug: text(),
        purpose: pick([0, 1, 2, 3, 200]),
        annotations: annotations(),
        grantableTo: random() < 0.1 ? [create(ResourceTypeSchema, { id: text() })] : [],
      });
    const grants = Array.from({ length: 3000 }, () =>
      create(GrantSchema, {
        id: text(),
        entitlement: maybe(ent),
        principal: maybe(res),
        annotations: annotations(),
        sources: random() < 0.05 ? create(GrantSourcesSchema, { sources: { [text()]: { isDirect: random() < 0.5 } } }) : undefined,
      }),
    );
    expectSameBytes(grants);
  });

  it("is what grantRows stores", () => {
    const team = groupResource({ type: "team", id: "t", displayName: "T" });
    const member = entitlement(team, "member");
    const expandable = anyPack(GrantExpandableSchema, create(GrantExpandableSchema, { entitlementIds: [member.id] }));
    const grants = [grant(member, rid("user", "u1")), grant(member, rid("team", "t2"), { annotations: [expandable] })];
    const rows = grantRows(grants);
    expect(rows.map((r) => hex(r.data))).toEqual(grants.map((g) => hex(expected(g))));
    expect(rows[1].needsExpansion).toBe(1);
    expect(grants[1].annotations).toHaveLength(1); // the caller's message is left as it was
  });
});
