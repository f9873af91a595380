/**
 * The protobuf-es <-> grpc-js adapter against a real grpc-js server on a loopback port: unary, client streaming
 * and server streaming round trips, errors with status details, UNIMPLEMENTED, interceptors, metadata,
 * cancellation and deadlines reaching the server's ctx.signal.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { anyPack, anyUnpack, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectorError } from "../../src/connector/errors.ts";
import {
  addService,
  createClient,
  grpcServiceDefinition,
  type CallContext,
  type ServerInterceptorFn,
  type ServiceClient,
} from "../../src/grpc/adapter.ts";
import { STATUS_DETAILS_KEY } from "../../src/grpc/status.ts";
import {
  RateLimitDescription_Status,
  RateLimitDescriptionSchema,
} from "../../src/gen/c1/connector/v2/annotation_ratelimit_pb.js";
import { ChildResourceTypeSchema } from "../../src/gen/c1/connector/v2/annotation_resource_tree_pb.js";
import { AssetService } from "../../src/gen/c1/connector/v2/asset_pb.js";
import { GrantsService } from "../../src/gen/c1/connector/v2/grant_pb.js";
import { ResourcesService, ResourceTypesService, ResourceType_Trait } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { BatonService } from "../../src/gen/c1/connectorapi/baton/v1/baton_pb.js";
import { StatusSchema } from "../../src/gen/google/rpc/status_pb.js";

/** A promise with its resolver, to wait on events instead of time. */
function signal<T = void>() {
  return Promise.withResolvers<T>();
}

const resetAt = timestampFromDate(new Date("2030-01-01T00:00:00Z"));

let server: grpc.Server;
let address: string;
const internalErrors: unknown[] = [];
const uploads: { hostId: string; bytes: Buffer; checksumOk: boolean }[] = [];
/** Test hooks: the hanging RPCs report that they started and that their ctx.signal aborted. */
let hang: { started: PromiseWithResolvers<void>; aborted: PromiseWithResolvers<unknown> } | undefined;

const requireToken: ServerInterceptorFn = (next) => async (req, ctx) => {
  if (ctx.metadata.get("authorization")[0] !== "Bearer good") {
    throw new ConnectorError(Code.UNAUTHENTICATED, "missing or bad token");
  }
  return next(req, ctx);
};

async function hangUntilAborted(ctx: CallContext): Promise<never> {
  const h = hang!;
  h.started.resolve();
  await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
  h.aborted.resolve(ctx.signal.reason);
  throw new ConnectorError(Code.CANCELLED, "gave up");
}

beforeAll(async () => {
  server = new grpc.Server();
  addService(
    server,
    ResourceTypesService,
    {
      async listResourceTypes(req, ctx) {
        if (req.pageToken === "rate-limited") {
          const detail = create(RateLimitDescriptionSchema, {
            status: RateLimitDescription_Status.OVERLIMIT,
            limit: 100n,
            remaining: 0n,
            resetAt,
          });
          throw new ConnectorError(Code.UNAVAILABLE, "rate limited by upstream", {
            details: [anyPack(RateLimitDescriptionSchema, detail)],
          });
        }
        if (req.pageToken === "boom") throw new Error("database exploded");
        if (req.pageToken === "hang") return hangUntilAborted(ctx);
        return {
          list: [{ id: "user", displayName: "User", traits: [ResourceType_Trait.USER] }],
          nextPageToken: `after-${req.pageSize}`,
          annotations: [anyPack(ChildResourceTypeSchema, create(ChildResourceTypeSchema, { resourceTypeId: "team" }))],
        };
      },
    },
    { onInternalError: (err) => internalErrors.push(err) },
  );
  addService(server, ResourcesService, {}); // nothing implemented
  addService(
    server,
    BatonService,
    {
      async hello() {
        return {};
      },
      async uploadAsset(reqs) {
        let hostId = "";
        const chunks: Buffer[] = [];
        let checksumOk = false;
        for await (const req of reqs) {
          switch (req.msg.case) {
            case "metadata":
              hostId = req.msg.value.hostId;
              break;
            case "data":
              chunks.push(Buffer.from(req.msg.value.data));
              break;
            case "eof": {
              const digest = createHash("sha256").update(Buffer.concat(chunks)).digest();
              checksumOk = digest.equals(Buffer.from(req.msg.value.sha256Checksum));
              break;
            }
          }
        }
        uploads.push({ hostId, bytes: Buffer.concat(chunks), checksumOk });
        if (!checksumOk) throw new ConnectorError(Code.INVALID_ARGUMENT, "checksum mismatch");
        return { annotations: [] };
      },
    },
    { interceptors: [requireToken] },
  );
  addService(server, AssetService, {
    async *getAsset(req, ctx) {
      if (req.asset?.id === "missing") throw new ConnectorError(Code.NOT_FOUND, "no such asset");
      yield { msg: { case: "metadata", value: { contentType: "image/png" } } };
      if (req.asset?.id === "endless") {
        hang?.started.resolve();
        for (let i = 0; !ctx.signal.aborted; i++) {
          yield { msg: { case: "data", value: { data: new Uint8Array(1024).fill(i % 256) } } };
          await new Promise((r) => setImmediate(r));
        }
        hang?.aborted.resolve(ctx.signal.reason);
        return;
      }
      for (const part of ["abc", "def"]) yield { msg: { case: "data", value: { data: Buffer.from(part) } } };
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  address = `127.0.0.1:${port}`;
});

afterAll(() => {
  server?.forceShutdown();
});

const insecure = () => grpc.credentials.createInsecure();

describe("grpcServiceDefinition", () => {
  it("maps every RPC to its Baton path and streaming flags", () => {
    const def = grpcServiceDefinition(BatonService);
    expect(def.uploadAsset).toMatchObject({
      path: "/c1.connectorapi.baton.v1.BatonService/UploadAsset",
      requestStream: true,
      responseStream: false,
    });
    expect(def.getTask).toMatchObject({ path: "/c1.connectorapi.baton.v1.BatonService/GetTask", requestStream: false });
    expect(grpcServiceDefinition(AssetService).getAsset).toMatchObject({ requestStream: false, responseStream: true });
    expect(Object.keys(def)).toEqual(["hello", "getTask", "getTasks", "heartbeat", "finishTask", "uploadAsset", "startDebugging"]);
  });
});

describe("adapter over a real grpc-js server", () => {
  let types: ServiceClient<typeof ResourceTypesService>;
  beforeAll(() => {
    types = createClient(ResourceTypesService, address, insecure());
  });
  afterAll(() => types.close());

  it("unary round trip keeps every field", async () => {
    const res = await types.listResourceTypes({ pageSize: 7 });
    expect(res.nextPageToken).toBe("after-7");
    expect(res.list).toHaveLength(1);
    expect(res.list[0]).toMatchObject({ id: "user", displayName: "User", traits: [ResourceType_Trait.USER] });
    expect(anyUnpack(res.annotations[0], ChildResourceTypeSchema)?.resourceTypeId).toBe("team");
  });

  it("a ConnectorError with a RateLimitDescription detail arrives with its code, message and decoded detail", async () => {
    const err = await types.listResourceTypes({ pageToken: "rate-limited" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    const ce = err as ConnectorError;
    expect(ce.code).toBe(Code.UNAVAILABLE);
    expect(ce.message).toBe("rate limited by upstream");
    expect(ce.details).toHaveLength(1);
    const rl = anyUnpack(ce.details[0], RateLimitDescriptionSchema);
    expect(rl).toMatchObject({ status: RateLimitDescription_Status.OVERLIMIT, limit: 100n, remaining: 0n });
    expect(rl?.resetAt?.seconds).toBe(resetAt.seconds);
  });

  it("sends details as google.rpc.Status in grpc-status-details-bin (what grpc-go reads)", async () => {
    // A raw grpc-js client, without our decoding, sees the trailer.
    const Ctor = grpc.makeGenericClientConstructor(grpcServiceDefinition(ResourceTypesService), "ResourceTypesService");
    const raw = new Ctor(address, insecure()) as grpc.Client & Record<string, Function>;
    try {
      const err = await new Promise<grpc.ServiceError>((resolve) =>
        raw.listResourceTypes(create(ResourceTypesService.method.listResourceTypes.input, { pageToken: "rate-limited" }), (e: grpc.ServiceError) => resolve(e)),
      );
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
      const bin = err.metadata.get(STATUS_DETAILS_KEY)[0] as Buffer;
      const { fromBinary } = await import("@bufbuild/protobuf");
      const status = fromBinary(StatusSchema, bin);
      expect(status.code).toBe(Code.UNAVAILABLE);
      expect(status.message).toBe("rate limited by upstream");
      expect(status.details[0].typeUrl).toBe("type.googleapis.com/c1.connector.v2.RateLimitDescription");
    } finally {
      raw.close();
    }
  });

  it("any other error becomes INTERNAL with its message and no stack trace", async () => {
    const err = (await types.listResourceTypes({ pageToken: "boom" }).catch((e: unknown) => e)) as ConnectorError;
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe(Code.INTERNAL);
    expect(err.message).toBe("database exploded");
    expect(err.message).not.toMatch(/\n\s+at /);
    expect(err.details).toEqual([]);
    expect(internalErrors.some((e) => e instanceof Error && e.message === "database exploded")).toBe(true);
  });

  it("a method missing from the implementation answers UNIMPLEMENTED naming the method", async () => {
    const resources = createClient(ResourcesService, address, insecure());
    try {
      const err = (await resources.listResources({ resourceTypeId: "user" }).catch((e: unknown) => e)) as ConnectorError;
      expect(err).toBeInstanceOf(ConnectorError);
      expect(err.code).toBe(Code.UNIMPLEMENTED);
      expect(err.message).toContain("c1.connector.v2.ResourcesService/ListResources");
    } finally {
      resources.close();
    }
  });

  it("a service the server does not register also answers UNIMPLEMENTED", async () => {
    const grants = createClient(GrantsService, address, insecure());
    try {
      const err = (await grants.listGrants({}).catch((e: unknown) => e)) as ConnectorError;
      expect(err.code).toBe(Code.UNIMPLEMENTED);
    } finally {
      grants.close();
    }
  });

  it("aborting the client's AbortSignal aborts the server's ctx.signal", async () => {
    hang = { started: signal(), aborted: signal<unknown>() };
    const controller = new AbortController();
    const pending = types.listResourceTypes({ pageToken: "hang" }, { signal: controller.signal }).catch((e: unknown) => e);
    await hang.started.promise;
    controller.abort();
    const err = (await pending) as ConnectorError;
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe(Code.CANCELLED);
    const reason = await hang.aborted.promise;
    expect(reason).toBeInstanceOf(ConnectorError);
    expect((reason as ConnectorError).code).toBe(Code.CANCELLED);
  });

  it("an already aborted signal fails fast without a call", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(types.listResourceTypes({}, { signal: controller.signal })).rejects.toThrow();
  });

  it("a passed deadline gives DEADLINE_EXCEEDED and aborts the server's ctx.signal", async () => {
    hang = { started: signal(), aborted: signal<unknown>() };
    const err = (await types.listResourceTypes({ pageToken: "hang" }, { timeoutMs: 200 }).catch((e: unknown) => e)) as ConnectorError;
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe(Code.DEADLINE_EXCEEDED);
    await hang.aborted.promise;
  });
});

describe("client streaming, metadata and interceptors (BatonService.UploadAsset)", () => {
  async function* upload(hostId: string, parts: string[], checksum?: Buffer) {
    yield { msg: { case: "metadata" as const, value: { hostId, taskId: "t1" } } };
    for (const p of parts) yield { msg: { case: "data" as const, value: { data: Buffer.from(p) } } };
    const digest = checksum ?? createHash("sha256").update(parts.join("")).digest();
    yield { msg: { case: "eof" as const, value: { sha256Checksum: digest } } };
  }

  it("streams every chunk in order with metadata from the client's metadata function", async () => {
    let calls = 0;
    const baton = createClient(BatonService, address, insecure(), {
      metadata: async () => {
        calls++;
        const md = new grpc.Metadata();
        md.set("authorization", "Bearer good");
        return md;
      },
    });
    try {
      const parts = Array.from({ length: 50 }, (_, i) => `chunk-${i};`.repeat(1000));
      const res = await baton.uploadAsset(upload("host-a", parts));
      expect(res.annotations).toEqual([]);
      const got = uploads.find((u) => u.hostId === "host-a");
      expect(got?.checksumOk).toBe(true);
      expect(got?.bytes.toString()).toBe(parts.join(""));
      expect(calls).toBe(1);

      const bad = (await baton.uploadAsset(upload("host-b", ["x"], Buffer.alloc(32))).catch((e: unknown) => e)) as ConnectorError;
      expect(bad.code).toBe(Code.INVALID_ARGUMENT);
      expect(bad.message).toBe("checksum mismatch");
    } finally {
      baton.close();
    }
  });

  it("an interceptor can refuse a call; per-call metadata is merged over the client's", async () => {
    const baton = createClient(BatonService, address, insecure());
    try {
      const err = (await baton.hello({}).catch((e: unknown) => e)) as ConnectorError;
      expect(err.code).toBe(Code.UNAUTHENTICATED);
      const md = new grpc.Metadata();
      md.set("authorization", "Bearer good");
      await expect(baton.hello({ hostId: "h" }, { metadata: md })).resolves.toBeDefined();
    } finally {
      baton.close();
    }
  });

  it("an error from the request iterable cancels the call and is rethrown", async () => {
    const baton = createClient(BatonService, address, insecure());
    try {
      async function* failing() {
        yield { msg: { case: "data" as const, value: { data: Buffer.from("x") } } };
        throw new Error("disk read failed");
      }
      await expect(baton.uploadAsset(failing())).rejects.toThrow("disk read failed");
    } finally {
      baton.close();
    }
  });
});

describe("server streaming (AssetService.GetAsset)", () => {
  it("yields every message, and a shared channel serves a second client", async () => {
    const first = createClient(ResourceTypesService, address, insecure());
    const assets = createClient(AssetService, first.channel, insecure());
    try {
      const got: string[] = [];
      for await (const res of assets.getAsset({ asset: { id: "a1" } })) {
        got.push(res.msg.case === "metadata" ? `meta:${res.msg.value.contentType}` : Buffer.from(res.msg.value?.data ?? []).toString());
      }
      expect(got).toEqual(["meta:image/png", "abc", "def"]);
      assets.close(); // shared: must not close the channel
      await expect(first.listResourceTypes({})).resolves.toBeDefined();
    } finally {
      first.close();
    }
  });

  it("an error thrown by the generator reaches the consumer as a ConnectorError", async () => {
    const assets = createClient(AssetService, address, insecure());
    try {
      const consume = async () => {
        for await (const _ of assets.getAsset({ asset: { id: "missing" } })) {
          // nothing
        }
      };
      const err = (await consume().catch((e: unknown) => e)) as ConnectorError;
      expect(err).toBeInstanceOf(ConnectorError);
      expect(err.code).toBe(Code.NOT_FOUND);
      expect(err.message).toBe("no such asset");
    } finally {
      assets.close();
    }
  });

  it("a consumer that stops early cancels the call and aborts the server's ctx.signal", async () => {
    hang = { started: signal(), aborted: signal<unknown>() };
    const assets = createClient(AssetService, address, insecure());
    try {
      let n = 0;
      for await (const _ of assets.getAsset({ asset: { id: "endless" } })) {
        if (++n === 5) break;
      }
      expect(n).toBe(5);
      await hang.aborted.promise;
    } finally {
      assets.close();
    }
  });

  it("aborting the signal mid-stream ends iteration with CANCELLED", async () => {
    hang = { started: signal(), aborted: signal<unknown>() };
    const assets = createClient(AssetService, address, insecure());
    const controller = new AbortController();
    try {
      const consume = async () => {
        for await (const _ of assets.getAsset({ asset: { id: "endless" } }, { signal: controller.signal })) {
          controller.abort();
        }
      };
      const err = (await consume().catch((e: unknown) => e)) as ConnectorError;
      expect(err).toBeInstanceOf(ConnectorError);
      expect(err.code).toBe(Code.CANCELLED);
      await hang.aborted.promise;
    } finally {
      assets.close();
    }
  });
});
