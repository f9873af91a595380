/** The legacy codec's pruning rule (§4.2) and the grpc-timeout grammar (§4.6), one rule per case. */
import { describe, expect, it } from "vitest";
import { RequestSchema } from "../../src/gen/c1/transport/v1/transport_pb.js";
import { parseGrpcTimeout, parseMethod } from "../../src/hosted/dispatch.ts";
import { decodeProtoJson, pruneUnknownAnnotations } from "../../src/hosted/protojson.ts";

const known = { "@type": "type.googleapis.com/c1.connector.v2.ExternalLink", url: "https://x" };
const unknown = { "@type": "type.googleapis.com/vendor.v1.Secret", a: 1 };

describe("pruning unknown annotations", () => {
  it("drops elements of unknown type in every `annotations` array at any depth, and nothing else", () => {
    const input = { annotations: [unknown, known], nested: { deeper: [{ annotations: [known, unknown, unknown] }] }, other: [unknown] };
    const { value, pruned } = pruneUnknownAnnotations(input);
    expect(pruned).toBe(3);
    expect(value).toEqual({ annotations: [known], nested: { deeper: [{ annotations: [known] }] }, other: [unknown] });
    expect(input.annotations).toHaveLength(2); // the input is not changed
  });

  it("elements without a usable @type go only when another element has one", () => {
    expect(pruneUnknownAnnotations({ annotations: [{ x: 1 }, 5] }).pruned).toBe(0);
    expect(pruneUnknownAnnotations({ annotations: [{ x: 1 }, known] })).toEqual({ value: { annotations: [known] }, pruned: 1 });
  });

  it("decoding retries once after pruning; without anything to prune the first error stands", () => {
    const event = { method: "/a.B/C", req: { "@type": "type.googleapis.com/c1.connector.v2.ResourcesServiceListResourcesRequest", annotations: [unknown] } };
    expect(decodeProtoJson(RequestSchema, event).method).toBe("/a.B/C");
    expect(() => decodeProtoJson(RequestSchema, { method: "/a.B/C", req: unknown })).toThrow(/vendor\.v1\.Secret/);
  });
});

describe("grpc-timeout and method names", () => {
  it("parses every unit; signed values; at most 8 digits", () => {
    expect(parseGrpcTimeout("1H")).toBe(3_600_000);
    expect(parseGrpcTimeout("2M")).toBe(120_000);
    expect(parseGrpcTimeout("+5S")).toBe(5000);
    expect(parseGrpcTimeout("250m")).toBe(250);
    expect(parseGrpcTimeout("1000u")).toBe(1);
    expect(parseGrpcTimeout("99999999n")).toBeCloseTo(99.999999);
    expect(parseGrpcTimeout("-3S")).toBe(-3000);
    for (const bad of ["", "S", "5", "5s", "123456789m", "1.5S", " 5S"]) expect(() => parseGrpcTimeout(bad), bad).toThrow(/malformed grpc-timeout/);
  });

  it("splits at the last slash; one leading slash is optional", () => {
    expect(parseMethod("/c1.connector.v2.ResourcesService/ListResources")).toEqual({ service: "c1.connector.v2.ResourcesService", method: "ListResources" });
    expect(parseMethod("c1.x.Y/Z")).toEqual({ service: "c1.x.Y", method: "Z" });
    expect(parseMethod("//a/b")).toEqual({ service: "/a", method: "b" });
    expect(() => parseMethod("nothing")).toThrow('malformed method name: "nothing"');
  });
});
