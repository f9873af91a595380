/**
 * The invoker and the Runtime API emulator against a small function written here from the contract (§4.2–§4.6):
 * it answers GetMetadata in the request's encoding, echoes request headers, and fails on demand. The runtime's
 * own handler is tested against both in test/hosted/*.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { create, fromBinary, fromJson, toBinary, toJson, type JsonValue } from "@bufbuild/protobuf";
import { anyPack, anyUnpack } from "@bufbuild/protobuf/wkt";
import {
  ConnectorServiceGetMetadataRequestSchema,
  ConnectorServiceGetMetadataResponseSchema,
  type ConnectorServiceGetMetadataResponse,
} from "../../../src/gen/c1/connector/v2/connector_pb.js";
import { RequestSchema, ResponseSchema, type Request } from "../../../src/gen/c1/transport/v1/transport_pb.js";
import { StatusSchema } from "../../../src/gen/google/rpc/status_pb.js";
import { buildEvent, invoke, invokeRaw, type LambdaHandler } from "./invoker.ts";
import { invokerRegistry } from "./registry.ts";
import { startRuntimeApiEmulator, type RuntimeApiEmulator } from "./runtime-api-emulator.ts";

const GET_METADATA = "/c1.connector.v2.ConnectorService/GetMetadata";

/** A function per §4: decode either form, answer in the request's form. */
const echoFunction: LambdaHandler = async (event) => {
  const e = event as Record<string, unknown>;
  const isV2 = typeof e.frame === "string";
  const request: Request = isV2
    ? fromBinary(RequestSchema, Buffer.from(e.frame as string, "base64"))
    : fromJson(RequestSchema, e as JsonValue, { registry: invokerRegistry, ignoreUnknownFields: true });
  const headers = (request.headers ?? {}) as Record<string, string[]>;
  if (headers["x-test-throw"]) throw new Error("thrown on purpose");
  if (headers["x-test-hang"]) await new Promise((r) => setTimeout(r, 5_000));
  const answer =
    request.method === GET_METADATA
      ? create(ResponseSchema, {
          resp: anyPack(
            ConnectorServiceGetMetadataResponseSchema,
            create(ConnectorServiceGetMetadataResponseSchema, { metadata: { displayName: `echo ${request.req?.typeUrl.split(".").pop()}` } }),
          ),
          status: anyPack(StatusSchema, create(StatusSchema, { code: 0, message: "OK" })),
          headers: { "x-seen-authorization": headers.authorization ?? [], "x-seen-version": headers["x-baton-connector-config-version"] ?? [], "x-seen-timeout": headers["grpc-timeout"] ?? [] },
          trailers: {},
        })
      : create(ResponseSchema, { status: anyPack(StatusSchema, create(StatusSchema, { code: 12, message: `unknown method ${request.method}` })) });
  return isV2 ? { v: 2, frame: Buffer.from(toBinary(ResponseSchema, answer)).toString("base64") } : toJson(ResponseSchema, answer, { registry: invokerRegistry });
};

/** A Runtime API client loop around a handler, as `baton-datadog lambda` runs one. */
function runtimeLoop(api: string, handler: LambdaHandler): { stop(): void; seen: { id: string; deadline: number; arn: string | null }[] } {
  let stopped = false;
  const seen: { id: string; deadline: number; arn: string | null }[] = [];
  const base = `http://${api}/2018-06-01/runtime`;
  void (async () => {
    while (!stopped) {
      let next: Response;
      try {
        next = await fetch(`${base}/invocation/next`);
      } catch {
        return; // emulator closed
      }
      const id = next.headers.get("lambda-runtime-aws-request-id")!;
      const deadline = Number(next.headers.get("lambda-runtime-deadline-ms"));
      seen.push({ id, deadline, arn: next.headers.get("lambda-runtime-invoked-function-arn") });
      const event = await next.json();
      try {
        const result = await handler(event, { awsRequestId: id, getRemainingTimeInMillis: () => deadline - Date.now() });
        await fetch(`${base}/invocation/${id}/response`, { method: "POST", body: JSON.stringify(result) }).catch(() => {});
      } catch (err) {
        await fetch(`${base}/invocation/${id}/error`, {
          method: "POST",
          headers: { "lambda-runtime-function-error-type": "Runtime.UnhandledError" },
          body: JSON.stringify({ errorType: "Error", errorMessage: (err as Error).message }),
        }).catch(() => {});
      }
    }
  })();
  return { stop: () => (stopped = true), seen };
}

let emulator: RuntimeApiEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

describe("invoker", () => {
  const request = create(ConnectorServiceGetMetadataRequestSchema, {});

  it("builds the three request forms of §4.2 (dual = protojson with v and frame appended)", () => {
    const legacy = buildEvent(GET_METADATA, request, { encoding: "legacy", jwt: "j", configVersion: "cv-1" });
    expect(legacy).toEqual({
      method: GET_METADATA,
      req: { "@type": "type.googleapis.com/c1.connector.v2.ConnectorServiceGetMetadataRequest" },
      headers: { authorization: ["Bearer j"], "x-baton-connector-config-version": ["cv-1"] },
    });
    const dual = buildEvent(GET_METADATA, request, { jwt: "j" });
    expect(dual.v).toBe(2);
    expect(dual.method).toBe(GET_METADATA);
    const frame = fromBinary(RequestSchema, Buffer.from(dual.frame as string, "base64"));
    expect(frame.method).toBe(GET_METADATA);
    expect(anyUnpack(frame.req!, invokerRegistry)?.$typeName).toBe("c1.connector.v2.ConnectorServiceGetMetadataRequest");
    expect(Object.keys(buildEvent(GET_METADATA, request, { encoding: "frame-only" }))).toEqual(["v", "frame"]);
    // Past 5 MiB the dual form falls back to legacy alone, as the Go invoker does.
    const big = buildEvent(GET_METADATA, request, { headers: { "x-big": "x".repeat(3 * 1024 * 1024) } });
    expect(big.frame).toBeUndefined();
    expect(big.method).toBe(GET_METADATA);
  });

  for (const encoding of ["legacy", "v2", "frame-only"] as const) {
    it(`calls an in-process handler (${encoding}) and decodes the answer in its form`, async () => {
      const r = await invoke<ConnectorServiceGetMetadataResponse>(echoFunction, GET_METADATA, request, { encoding, jwt: "tok", configVersion: "cv-7", timeoutMs: 2500 });
      expect(r.status).toMatchObject({ code: 0, message: "OK" });
      expect(r.response?.metadata?.displayName).toBe("echo ConnectorServiceGetMetadataRequest");
      expect(r.encoding).toBe(encoding === "legacy" ? "legacy" : "v2");
      expect(r.headers).toEqual({ "x-seen-authorization": ["Bearer tok"], "x-seen-version": ["cv-7"], "x-seen-timeout": ["2500m"] });
      expect(r.trailers).toEqual({});
    });
  }

  it("prunes annotations of unknown types from a legacy answer, as §4.2 says either side does", async () => {
    const withUnknown: LambdaHandler = async (event) => {
      const legacy = (await echoFunction(event, {})) as { resp: { metadata: Record<string, unknown> } };
      legacy.resp.metadata.annotations = [{ "@type": "type.googleapis.com/not.known.v1.Thing", x: 1 }, { "@type": "type.googleapis.com/c1.connector.v2.RateLimitDescription", limit: "5" }];
      return legacy;
    };
    const r = await invoke<ConnectorServiceGetMetadataResponse>(withUnknown, GET_METADATA, request, { encoding: "legacy" });
    expect(r.status.code).toBe(0);
    expect(r.response?.metadata?.annotations.map((a) => a.typeUrl)).toEqual(["type.googleapis.com/c1.connector.v2.RateLimitDescription"]);
  });

  it("reports error statuses, a thrown function, an undecodable answer and a timeout", async () => {
    const unknown = await invoke(echoFunction, "/c1.connector.v2.Nope/Nope", request);
    expect(unknown.status).toMatchObject({ code: 12, message: "unknown method /c1.connector.v2.Nope/Nope" });
    expect(unknown.headers).toBeUndefined();
    const thrown = await invoke(echoFunction, GET_METADATA, request, { headers: { "x-test-throw": "1" } });
    expect(thrown.status.code).toBe(2);
    expect(thrown.functionError?.errorMessage).toBe("thrown on purpose");
    const text = await invoke(async () => "not an object", GET_METADATA, request);
    expect(text.status.code).toBe(13);
    expect(text.status.message).toContain("failed to unmarshal response");
    const noStatus = await invoke(async () => ({}), GET_METADATA, request);
    expect(noStatus.status).toEqual({ code: 13, message: "response status not set" });
    const hang = await invoke(echoFunction, GET_METADATA, request, { headers: { "x-test-hang": "1" }, lambdaTimeoutMs: 100 });
    expect(hang.status.code).toBe(4);
    expect(hang.functionError?.kind).toBe("timeout");
  });
});

describe("Runtime API emulator", () => {
  it("hands events to a polling runtime with the Lambda headers and returns its answers", async () => {
    emulator = await startRuntimeApiEmulator();
    const loop = runtimeLoop(emulator.address, echoFunction);
    try {
      expect(await emulator.waitForReady(5000)).toBe("ready");
      const r = await invoke(emulator, GET_METADATA, create(ConnectorServiceGetMetadataRequestSchema, {}), { jwt: "t" });
      expect(r.status.code).toBe(0);
      expect(r.encoding).toBe("v2");
      const thrown = await invoke(emulator, GET_METADATA, create(ConnectorServiceGetMetadataRequestSchema, {}), { headers: { "x-test-throw": "1" } });
      expect(thrown.functionError).toMatchObject({ kind: "error", errorMessage: "thrown on purpose" });
      const raw = await invokeRaw(emulator, { not: "an envelope" });
      expect(raw.ok).toBe(true);
      const timedOut = await invoke(emulator, GET_METADATA, create(ConnectorServiceGetMetadataRequestSchema, {}), { headers: { "x-test-hang": "1" }, lambdaTimeoutMs: 200 });
      expect(timedOut.status.code).toBe(4);
      expect(timedOut.functionError?.errorMessage).toMatch(/^Task timed out after 0\.20 seconds/);
      expect(emulator.polls).toBeGreaterThanOrEqual(4);
      expect(loop.seen[0].id).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Set(loop.seen.map((s) => s.id)).size).toBe(4);
      expect(loop.seen[0].deadline).toBeGreaterThan(Date.now() - 60_000);
      expect(loop.seen[0].arn).toMatch(/^arn:aws:lambda:/);
    } finally {
      loop.stop();
    }
  });

  it("records an init error and fails the waiting invocation with it", async () => {
    emulator = await startRuntimeApiEmulator();
    const pending = emulator.invoke({ any: 1 });
    const res = await fetch(`http://${emulator.address}/2018-06-01/runtime/init/error`, {
      method: "POST",
      headers: { "lambda-runtime-function-error-type": "Runtime.ConfigError" },
      body: JSON.stringify({ errorType: "ConfigError", errorMessage: "BATON_LAMBDA_CLIENT_ID is not set" }),
    });
    expect(res.status).toBe(202);
    expect(await emulator.waitForReady()).toBe("init-error");
    expect(emulator.initErrors[0]).toMatchObject({ errorType: "Runtime.ConfigError", body: { errorMessage: "BATON_LAMBDA_CLIENT_ID is not set" } });
    expect(await pending).toMatchObject({ ok: false, kind: "init-error" });
    const stray = await fetch(`http://${emulator.address}/2018-06-01/runtime/invocation/nope/response`, { method: "POST", body: "{}" });
    expect(stray.status).toBe(404);
    expect(emulator.protocolErrors).toEqual(["unknown invocation id nope"]);
  });
});
