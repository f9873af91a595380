/**
 * The invocation path (envelope, dispatch, status, invocation JWT) over a stub runtime that serves a real
 * in-process Datadog connector on the real simulator. The hosted platform tests (hosted-platform.test.ts) run
 * the same calls through the real runtime; these pin the contract's edges one by one.
 */
import { anyPack } from "@bufbuild/protobuf/wkt";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "../../src/connector/errors.ts";
import {
  ConnectorServiceGetMetadataRequestSchema,
  ConnectorServiceGetMetadataResponseSchema,
  ConnectorServiceValidateRequestSchema,
} from "../../src/gen/c1/connector/v2/connector_pb.js";
import {
  ResourcesServiceListResourcesRequestSchema,
  ResourcesServiceListResourcesResponseSchema,
  ResourceTypesServiceListResourceTypesRequestSchema,
  ResourceTypesServiceListResourceTypesResponseSchema,
} from "../../src/gen/c1/connector/v2/resource_pb.js";
import { GrantManagerServiceGrantRequestSchema } from "../../src/gen/c1/connector/v2/grant_pb.js";
import { RequestSchema } from "../../src/gen/c1/transport/v1/transport_pb.js";
import { createInvocationVerifier } from "../../src/hosted/auth.ts";
import { EnvelopeError } from "../../src/hosted/envelope.ts";
import { createInvocationHandler, type InvokeFn } from "../../src/hosted/invocation.ts";
import { DENY_ALL } from "../../src/http/egress.ts";
import {
  AUDIENCE,
  decodeResult,
  eventFor,
  inProcessDatadog,
  invocationSigner,
  ISSUER,
  stubRuntime,
  SUBJECT,
  type Encoding,
  type InProcessDatadog,
} from "./invocation-support.ts";

let dd: InProcessDatadog;
let signer: Awaited<ReturnType<typeof invocationSigner>>;
let invoke: InvokeFn;
let stub: ReturnType<typeof stubRuntime>;
let jwt: string;

beforeAll(async () => {
  dd = await inProcessDatadog();
  signer = await invocationSigner();
  jwt = await signer.mint();
  stub = stubRuntime(await dd.rpc({ provisioning: false }));
  const verifier = await createInvocationVerifier({ issuer: ISSUER, subject: SUBJECT, audience: AUDIENCE, signerJwk: JSON.stringify(signer.publicJwk) });
  invoke = createInvocationHandler(stub.runtime, verifier);
});
afterAll(() => dd?.close());

const auth = (token = jwt) => ({ authorization: [`Bearer ${token}`] });
const encodings: Encoding[] = ["legacy", "v2"];

describe.each(encodings)("%s encoding", (encoding) => {
  it("GetMetadata answers OK in the request's encoding, with empty header and trailer Structs", async () => {
    const result = await invoke(eventFor("/c1.connector.v2.ConnectorService/GetMetadata", ConnectorServiceGetMetadataRequestSchema, {}, { encoding, headers: auth() }));
    const d = decodeResult(result, ConnectorServiceGetMetadataResponseSchema);
    expect(d.encoding).toBe(encoding);
    expect({ code: d.code, message: d.message }).toEqual({ code: 0, message: "OK" });
    expect(d.response?.metadata?.displayName).toMatch(/Datadog/);
    expect(d.raw.headers).toEqual({});
    expect(d.raw.trailers).toEqual({});
    if (encoding === "v2") {
      expect(Object.keys(result as object).sort()).toEqual(["frame", "v"]);
      // §8: status Any value is `12 02 4f 4b` (message "OK"), then empty Structs 1a 00 and 22 00.
      const frame = Buffer.from((result as { frame: string }).frame, "base64");
      expect(frame.subarray(frame.length - 4)).toEqual(Buffer.from([0x1a, 0x00, 0x22, 0x00]));
      expect(frame.includes(Buffer.from([0x12, 0x02, 0x4f, 0x4b]))).toBe(true);
    } else {
      expect((result as { status: unknown }).status).toEqual({ "@type": "type.googleapis.com/google.rpc.Status", message: "OK" });
    }
  });

  it("lists resource types and pages through users with the connector's own counts", async () => {
    const types = decodeResult(
      await invoke(eventFor("/c1.connector.v2.ResourceTypesService/ListResourceTypes", ResourceTypesServiceListResourceTypesRequestSchema, {}, { encoding, headers: auth() })),
      ResourceTypesServiceListResourceTypesResponseSchema,
    );
    expect(types.code).toBe(0);
    expect(types.response!.list.map((t) => t.id)).toContain("user");
    let pageToken = "";
    let users = 0;
    let pages = 0;
    do {
      const page = decodeResult(
        await invoke(eventFor("c1.connector.v2.ResourcesService/ListResources", ResourcesServiceListResourcesRequestSchema, { resourceTypeId: "user", pageSize: 10, pageToken }, { encoding, headers: auth() })),
        ResourcesServiceListResourcesResponseSchema,
      );
      expect(page.code, page.message).toBe(0);
      users += page.response!.list.length;
      pageToken = page.response!.nextPageToken;
      pages++;
    } while (pageToken !== "" && pages < 50);
    expect(users).toBe(dd.sim.org.users.size);
  });

  it("unknown service, unknown method, streaming method and malformed name are UNIMPLEMENTED with the contract's text", async () => {
    const call = async (method: string) => decodeResult(await invoke(eventFor(method, ConnectorServiceGetMetadataRequestSchema, {}, { encoding, headers: auth() })));
    expect(await call("/foo.Bar/Baz")).toMatchObject({ code: Code.UNIMPLEMENTED, message: "unknown service foo.Bar", encoding });
    expect(await call("/c1.connector.v2.ConnectorService/Nope")).toMatchObject({ code: Code.UNIMPLEMENTED, message: "unknown method Nope for service c1.connector.v2.ConnectorService" });
    expect(await call("/c1.connector.v2.AssetService/GetAsset")).toMatchObject({ code: Code.UNIMPLEMENTED, message: expect.stringMatching(/^unknown method GetAsset/) });
    expect(await call("no-slash")).toMatchObject({ code: Code.UNIMPLEMENTED, message: 'malformed method name: "no-slash"' });
    // Registered without implementation (as in serve): reaches auth, then UNIMPLEMENTED
    expect(await call("/c1.connector.v2.TicketsService/ListTicketSchemas")).toMatchObject({ code: Code.INTERNAL, message: expect.stringMatching(/^failed to unmarshal request: mismatched message type/) });
    // error responses carry status only
    const d = await call("/foo.Bar/Baz");
    expect(d.raw.resp).toBeUndefined();
    expect(d.raw.headers).toBeUndefined();
    expect(d.raw.trailers).toBeUndefined();
  });

  it("a request of the wrong type is INTERNAL before auth", async () => {
    const d = decodeResult(await invoke(eventFor("/c1.connector.v2.ConnectorService/Validate", ConnectorServiceGetMetadataRequestSchema, {}, { encoding })));
    expect(d.code).toBe(Code.INTERNAL);
    expect(d.message).toBe('failed to unmarshal request: mismatched message type: got "c1.connector.v2.ConnectorServiceGetMetadataRequest", want "c1.connector.v2.ConnectorServiceValidateRequest"');
  });

  it("provisioning off: Grant is refused with the serve refusal", async () => {
    const d = decodeResult(
      await invoke(eventFor("/c1.connector.v2.GrantManagerService/Grant", GrantManagerServiceGrantRequestSchema, {}, { encoding, headers: auth() })),
    );
    expect(d.code).toBe(Code.FAILED_PRECONDITION);
    expect(d.message).toMatch(/^provisioning is not enabled/);
  });

  it("grpc-timeout: malformed is INTERNAL; an expired one is DEADLINE_EXCEEDED", async () => {
    const call = async (timeout: string) =>
      decodeResult(await invoke(eventFor("/c1.connector.v2.ConnectorService/Validate", ConnectorServiceValidateRequestSchema, {}, { encoding, headers: { ...auth(), "grpc-timeout": [timeout] } })));
    expect(await call("5X")).toMatchObject({ code: Code.INTERNAL, message: 'malformed grpc-timeout: "5X"' });
    expect(await call("123456789S")).toMatchObject({ code: Code.INTERNAL });
    expect(await call("-1S")).toMatchObject({ code: Code.DEADLINE_EXCEEDED });
    const ok = await call("+30S");
    expect(ok.code, ok.message).toBe(0);
    expect(await call("0S")).toMatchObject({ code: Code.DEADLINE_EXCEEDED, message: "deadline exceeded: context deadline exceeded" });
  });
});

describe("invocation JWT (§4.7)", () => {
  const metadata = async (headers: Record<string, string[]>) =>
    decodeResult(await invoke(eventFor("/c1.connector.v2.ConnectorService/GetMetadata", ConnectorServiceGetMetadataRequestSchema, {}, { encoding: "v2", headers })));

  it("refuses a missing or malformed authorization header with the SDK's messages", async () => {
    expect(await metadata({})).toMatchObject({ code: Code.UNAUTHENTICATED, message: "missing authorization header" });
    expect(await metadata({ authorization: ["Basic abc"] })).toMatchObject({ code: Code.UNAUTHENTICATED, message: "invalid authorization header" });
    expect(await metadata({ authorization: ["bearer " + jwt] })).toMatchObject({ code: Code.UNAUTHENTICATED, message: "invalid authorization header" });
    expect(await metadata({ authorization: ["Bearer "] })).toMatchObject({ code: Code.UNAUTHENTICATED, message: "invalid authorization header" });
    // Header names are case-insensitive; only the first value counts
    expect(await metadata({ Authorization: [`Bearer ${jwt}`, "Bearer junk"] })).toMatchObject({ code: 0 });
    expect(await metadata({ authorization: ["Bearer junk", `Bearer ${jwt}`] })).toMatchObject({ code: Code.UNAUTHENTICATED });
  });

  it("refuses wrong audience, issuer, subject, expired, no exp, exp beyond 24 h, future nbf, another key, a disallowed alg", async () => {
    const other = await invocationSigner();
    const cases = {
      wrongAudience: await signer.mint({ aud: "someone-else" }),
      wrongIssuer: await signer.mint({ iss: "https://evil.test" }),
      wrongSubject: await signer.mint({ sub: "other" }),
      expired: await signer.mint({ expIn: -5 }),
      noExp: await signer.mint({ expIn: null }),
      tooLong: await signer.mint({ expIn: 25 * 3600 }),
      notYet: await signer.mint({ nbfIn: 60 }),
      otherKey: await signer.mint({ key: other.privateKey }),
      otherKeyNoKid: await other.mint({ kid: "" }),
    };
    for (const [name, token] of Object.entries(cases)) {
      const d = await metadata(auth(token));
      expect(d.code, name).toBe(Code.UNAUTHENTICATED);
      expect(d.message, name).toMatch(/^invalid token: /);
    }
    expect((await metadata(auth(await signer.mint({ aud: ["x", AUDIENCE] })))).code).toBe(0);
    expect((await metadata(auth(await signer.mint({ expIn: 23 * 3600 })))).code).toBe(0);
  });

  it("auth comes after the reload and before the method", async () => {
    const before = stub.state.acquired;
    const d = await metadata({});
    expect(d.code).toBe(Code.UNAUTHENTICATED);
    expect(stub.state.acquired).toBe(before + 1);
    expect(stub.state.released).toBe(stub.state.acquired);
  });
});

describe("envelope detection (§4.2, §7)", () => {
  const frameOf = (method: string) =>
    Buffer.from(toBinary(RequestSchema, create(RequestSchema, { method, req: anyPack(ConnectorServiceGetMetadataRequestSchema, create(ConnectorServiceGetMetadataRequestSchema)), headers: auth() }))).toString("base64");

  it("a frame without v, or with v ≠ 2, is a function error", async () => {
    await expect(invoke({ frame: frameOf("/x.Y/Z") })).rejects.toThrow(new EnvelopeError("transport: unsupported wire frame version 0"));
    await expect(invoke({ v: null, frame: frameOf("/x.Y/Z") })).rejects.toThrow("unsupported wire frame version 0");
    await expect(invoke({ v: 3, frame: frameOf("/x.Y/Z") })).rejects.toThrow("unsupported wire frame version 3");
  });

  it("keys match case-insensitively; a frame that is not padded base64 or a v that is not an integer means legacy", async () => {
    const d = decodeResult(await invoke({ V: 2, FRAME: frameOf("/c1.connector.v2.ConnectorService/GetMetadata") }));
    expect(d).toMatchObject({ encoding: "v2", code: 0 });
    // v "2" (a string): legacy; the protojson decode ignores the unknown keys → an empty method
    const legacy = decodeResult(await invoke({ v: "2", frame: frameOf("/c1.connector.v2.ConnectorService/GetMetadata") }));
    expect(legacy).toMatchObject({ encoding: "legacy", code: Code.UNIMPLEMENTED, message: 'malformed method name: ""' });
    const unpadded = frameOf("/c1.connector.v2.ConnectorService/GetMetadata").replace(/=+$/, "");
    if (unpadded.length % 4 !== 0) expect(decodeResult(await invoke({ v: 2, frame: unpadded })).encoding).toBe("legacy");
    expect(decodeResult(await invoke({ v: 2, frame: "" })).encoding).toBe("legacy");
  });

  it("a dual-encoded request (protojson + frame) is answered with the frame alone", async () => {
    const legacy = eventFor("/c1.connector.v2.ConnectorService/GetMetadata", ConnectorServiceGetMetadataRequestSchema, {}, { encoding: "legacy", headers: auth() }) as object;
    const result = await invoke({ ...legacy, v: 2, frame: frameOf("/c1.connector.v2.ConnectorService/GetMetadata") });
    expect(Object.keys(result as object).sort()).toEqual(["frame", "v"]);
  });

  it("a frame that is not a Request, and an event that is not an object, are function errors", async () => {
    await expect(invoke({ v: 2, frame: Buffer.from([0xff, 0xff, 0xff]).toString("base64") })).rejects.toThrow(/invalid wire frame/);
    await expect(invoke("a string")).rejects.toThrow(EnvelopeError);
    await expect(invoke({ method: 5 })).rejects.toThrow(/failed to unmarshal request/);
  });

  it("legacy: unknown annotation types are pruned, unknown fields ignored, original field names accepted", async () => {
    const event = {
      method: "/c1.connector.v2.ResourcesService/ListResources",
      req: {
        "@type": "type.googleapis.com/c1.connector.v2.ResourcesServiceListResourcesRequest",
        resource_type_id: "role",
        pageSize: 5,
        annotations: [{ "@type": "type.googleapis.com/vendor.v9.NotKnown", x: 1 }, { "@type": "type.googleapis.com/c1.connector.v2.ExternalLink", url: "https://x" }],
        somethingNew: true,
      },
      headers: auth(),
      extra: "ignored",
    };
    const d = decodeResult(await invoke(event), ResourcesServiceListResourcesResponseSchema);
    expect(d.code, d.message).toBe(0);
    expect(d.response!.list.length).toBeGreaterThan(0);
  });
});

describe("reload failures (§1.4)", () => {
  it("a failed reload answers UNAVAILABLE in legacy protojson even for a v2 request, before auth", async () => {
    stub.state.failWith = new Error("config service said no");
    try {
      const result = await invoke(eventFor("/c1.connector.v2.ConnectorService/GetMetadata", ConnectorServiceGetMetadataRequestSchema, {}, { encoding: "v2", headers: { "x-baton-connector-config-version": ["cv-9"] } }));
      expect(result).toEqual({
        status: { "@type": "type.googleapis.com/google.rpc.Status", code: Code.UNAVAILABLE, message: "lambda-run: failed to reload connector config: config service said no" },
      });
      expect(stub.state.requested.at(-1)).toBe("cv-9");
    } finally {
      stub.state.failWith = undefined;
    }
  });
});

describe("egress policy through the connector", () => {
  it("deny-all: every call that reaches Datadog fails with the egress error and the simulator sees nothing", async () => {
    const denied = stubRuntime(await dd.rpc({ provisioning: false, egress: DENY_ALL }));
    const verifier = await createInvocationVerifier({ issuer: ISSUER, subject: SUBJECT, audience: AUDIENCE, signerJwk: JSON.stringify(signer.publicJwk) });
    const call = createInvocationHandler(denied.runtime, verifier);
    const before = dd.sim.stats.requests;
    for (const [method, schema, req] of [
      ["/c1.connector.v2.ConnectorService/Validate", ConnectorServiceValidateRequestSchema, {}],
      ["/c1.connector.v2.ResourcesService/ListResources", ResourcesServiceListResourcesRequestSchema, { resourceTypeId: "user" }],
    ] as const) {
      const d = decodeResult(await call(eventFor(method, schema as typeof ConnectorServiceValidateRequestSchema, req as object, { encoding: "v2", headers: auth() })));
      expect(d.code, method).toBe(Code.PERMISSION_DENIED);
      expect(d.message).toMatch(/egress to http:\/\/127\.0\.0\.1:\d+ is not allowed by the egress policy, which allows no host at all/);
    }
    expect(dd.sim.stats.requests).toBe(before);
  });
});
