/**
 * The platform's BatonService over TLS ≥ 1.2, with `authorization: <token_type> <access_token>` on every call.
 * A call answered UNAUTHENTICATED drops the cached token, so the next call exchanges a fresh one.
 */
import * as tls from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { BatonService, BatonServiceGetTaskRequestSchema } from "../gen/c1/connectorapi/baton/v1/baton_pb.js";
import { Code, ConnectorError } from "../connector/errors.ts";
import { createClient, methodPath, type CallOptions, type ServiceClient } from "../grpc/adapter.ts";
import { fromGrpcError } from "../grpc/status.ts";
import { decodeGetTaskResponse, type PolledTask } from "./get-task-decode.ts";
import type { PlatformEndpoint } from "./credentials.ts";
import { authorizationValue, type PlatformTokenSource } from "./token.ts";

/** BatonService, except that GetTask decodes its answer itself (see get-task-decode.ts). */
export type PlatformClient = Omit<ServiceClient<typeof BatonService>, "getTask"> & {
  getTask(req: MessageInitShape<typeof BatonServiceGetTaskRequestSchema>, opts?: CallOptions): Promise<PolledTask>;
};

/**
 * What the platform may send in one message, a task above all. gRPC's default of 4 MiB is too small for a task
 * carrying many resources or large annotations; 32 MiB bounds what a misbehaving peer can make us buffer and
 * decode (a decoded task takes a few times its wire size) well inside the container's 512 MiB.
 */
export const PLATFORM_MAX_RECEIVE_BYTES = 32 * 1024 * 1024;

/** The sizes in a "message larger than max" refusal (grpc-js: "Received message larger than max (N vs M)"). */
export function oversizedMessage(err: unknown): { bytes: number; limit?: number } | undefined {
  if (!(err instanceof ConnectorError) || err.code !== Code.RESOURCE_EXHAUSTED) return undefined;
  const m = /larger than max \((\d+) vs\.? (\d+)\)/i.exec(err.message);
  return m ? { bytes: Number(m[1]), limit: Number(m[2]) } : undefined;
}

export interface PlatformClientOptions {
  endpoint: PlatformEndpoint;
  tokens: PlatformTokenSource;
  /** CA certificates (PEM) to trust; see trust.ts. */
  ca: string[];
  /** Deadline of unary calls (default 30 s). */
  callTimeoutMs?: number;
  /** Longest wait between reconnection attempts while the platform is unreachable (default 30 s). */
  maxReconnectBackoffMs?: number;
  /** Largest message received (default PLATFORM_MAX_RECEIVE_BYTES). */
  maxReceiveBytes?: number;
  userAgent?: string;
}

export function platformCredentials(ca: string[]): grpc.ChannelCredentials {
  return grpc.credentials.createFromSecureContext(tls.createSecureContext({ ca, minVersion: "TLSv1.2" }));
}

export function createPlatformClient(options: PlatformClientOptions): PlatformClient {
  const { tokens } = options;
  const credentials = platformCredentials(options.ca);
  const callTimeoutMs = options.callTimeoutMs ?? 30_000;
  const authorization = async () => {
    const metadata = new grpc.Metadata();
    metadata.set("authorization", authorizationValue(await tokens.token()));
    return metadata;
  };
  const client = createClient(BatonService, options.endpoint.authority, credentials, {
    defaultTimeoutMs: callTimeoutMs,
    metadata: authorization,
    channelOptions: {
      "grpc.max_reconnect_backoff_ms": options.maxReconnectBackoffMs ?? 30_000,
      "grpc.initial_reconnect_backoff_ms": Math.min(1000, options.maxReconnectBackoffMs ?? 1000),
      "grpc.keepalive_time_ms": 60_000,
      "grpc.max_receive_message_length": options.maxReceiveBytes ?? PLATFORM_MAX_RECEIVE_BYTES,
      "grpc.primary_user_agent": options.userAgent ?? "baton-ts",
    },
  });
  const forgetRejectedToken = (err: unknown): never => {
    if (err instanceof ConnectorError && err.code === Code.UNAUTHENTICATED) tokens.invalidate();
    throw err;
  };
  const raw = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const wrapped: Record<string, unknown> = {};
  raw.getTask = rawGetTask(new grpc.Client("shared", credentials, { channelOverride: client.channel }), authorization, callTimeoutMs) as
    (...args: unknown[]) => Promise<unknown>;
  for (const method of BatonService.methods) {
    const fn = raw[method.localName];
    wrapped[method.localName] = (...args: unknown[]) => fn(...args).catch(forgetRejectedToken);
  }
  return Object.assign(wrapped, { close: () => client.close(), channel: client.channel }) as PlatformClient;
}

/** GetTask over the shared channel with the answer's bytes handed over undecoded, so that a bad task can be salvaged. */
function rawGetTask(rawClient: grpc.Client, authorization: () => Promise<grpc.Metadata>, timeoutMs: number) {
  const path = methodPath(BatonService.method.getTask);
  const serialize = (req: MessageInitShape<typeof BatonServiceGetTaskRequestSchema>) =>
    Buffer.from(toBinary(BatonServiceGetTaskRequestSchema, create(BatonServiceGetTaskRequestSchema, req)));
  return async (req: MessageInitShape<typeof BatonServiceGetTaskRequestSchema>, opts: CallOptions = {}): Promise<PolledTask> => {
    opts.signal?.throwIfAborted();
    const metadata = await authorization();
    const bytes = await new Promise<Buffer>((resolve, reject) => {
      const signal = opts.signal;
      const call = rawClient.makeUnaryRequest(path, serialize, (b: Buffer) => b, req, metadata, { deadline: Date.now() + (opts.timeoutMs ?? timeoutMs) },
        (err, res) => {
          signal?.removeEventListener("abort", cancel);
          if (err) reject(signal?.aborted ? new ConnectorError(Code.CANCELLED, "call cancelled", { cause: err }) : fromGrpcError(err));
          else resolve(res!);
        });
      const cancel = () => call.cancel();
      signal?.addEventListener("abort", cancel, { once: true });
    });
    return decodeGetTaskResponse(bytes);
  };
}
