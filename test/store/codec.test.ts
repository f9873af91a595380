/**
 * Rows are encoded a page at a time (one list message, sliced): every row's `data` must still be exactly the
 * message's own encoding, which is what Baton's readers decode.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { entitlementRows, grantRows, resourceRows } from "../../src/store/codec.ts";
import { EntitlementSchema } from "../../src/gen/c1/connector/v2/entitlement_pb.js";
import { GrantSchema } from "../../src/gen/c1/connector/v2/grant_pb.js";
import { ResourceSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { sampleObjects, user } from "./fixtures.ts";

describe("row codec", () => {
  it("gives each resource, entitlement and grant the bytes toBinary gives it alone", () => {
    const o = sampleObjects();
    // Sizes around the varint boundaries of the length prefix (127/128, 16383/16384 bytes).
    const big = [100, 127, 128, 16_383, 16_384, 70_000].map((n, i) => create(ResourceSchema, { ...user(`u${i}`), description: "x".repeat(n) }));
    const resources = [...o.resources, ...big];
    expect(resourceRows(resources).map((r) => r.data)).toEqual(resources.map((r) => toBinary(ResourceSchema, r)));
    expect(entitlementRows(o.entitlements).map((r) => r.data)).toEqual(o.entitlements.map((e) => toBinary(EntitlementSchema, e)));
    const plain = o.grants.filter((g) => g.annotations.length === 0);
    expect(grantRows(plain).map((r) => r.data)).toEqual(plain.map((g) => toBinary(GrantSchema, g)));
  });

  it("moves GrantExpandable out of a grant's data into its expansion, leaving the caller's grant as it was", () => {
    const o = sampleObjects();
    const expandable = o.grants.find((g) => g.annotations.length > 0)!;
    const rows = grantRows(o.grants);
    const row = rows[o.grants.indexOf(expandable)];
    expect(row.needsExpansion).toBe(1);
    expect(row.expansion).not.toBeNull();
    expect(row.data).toEqual(toBinary(GrantSchema, { ...expandable, annotations: [] }));
    expect(expandable.annotations).toHaveLength(1);
    expect(rows.filter((r) => r.needsExpansion === 0)).toHaveLength(o.grants.length - 1);
  });

  it("encodes an empty page as no rows", () => {
    expect(resourceRows([])).toEqual([]);
    expect(grantRows([])).toEqual([]);
  });
});
