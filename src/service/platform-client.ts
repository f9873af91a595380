/**
 * The platform's BatonService over TLS ≥ 1.2, with `authorization: <token_type> <access_token>` on every call.
 * A call answered UNAUTHENTICATED drops the cached token, so the next call exchanges a fresh one.
 */
import * as tls from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { BatonService } from "../gen/c1/connectorapi/baton/v1/baton_pb.js";
import { Code, ConnectorError } from "../connector/errors.ts";
import { createClient, type ServiceClient } from "../grpc/adapter.ts";
import type { PlatformEndpoint } from "./credentials.ts";
import { authorizationValue, type PlatformTokenSource } from "./token.ts";

export type PlatformClient = ServiceClient<typeof BatonService>;

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
  const client = createClient(BatonService, options.endpoint.authority, platformCredentials(options.ca), {
    defaultTimeoutMs: options.callTimeoutMs ?? 30_000,
    metadata: async () => {
      const metadata = new grpc.Metadata();
      metadata.set("authorization", authorizationValue(await tokens.token()));
      return metadata;
    },
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
  for (const method of BatonService.methods) {
    const fn = raw[method.localName];
    wrapped[method.localName] = (...args: unknown[]) => fn(...args).catch(forgetRejectedToken);
  }
  return Object.assign(wrapped, { close: () => client.close(), channel: client.channel }) as PlatformClient;
}
