/**
 * The one gRPC channel to the configuration host (HOSTED-LAMBDA.md §2.5): TLS ≥ 1.2 with the system roots plus
 * BATON_LAMBDA_CA_CERT_PATH, shared by ConnectorConfigService and BatonSessionService, every call carrying a
 * fresh DPoP proof and the access token. grpc-js is imported on first use, not when the handler module loads.
 */
import type { DescMethodUnary, DescService, MessageInitShape, MessageShape, DescMessage } from "@bufbuild/protobuf";
import { SDK_WIRE_VERSION } from "../connector/service.ts";
import { Code, ConnectorError } from "../connector/errors.ts";
import type { HostedPlatformAuth } from "./platform-auth.ts";
import type { HostedSettings } from "./settings.ts";

/** A config or a batch of session values is small; 16 MiB bounds what a broken platform can make us buffer. */
export const PLATFORM_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Calls without a deadline of their own (cold start) still end: 30 s, as the token exchange. */
const DEFAULT_CALL_TIMEOUT_MS = 30_000;

export interface PlatformCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface PlatformGrpc {
  unary<I extends DescMessage, O extends DescMessage>(
    service: DescService,
    method: DescMethodUnary<I, O>,
    req: MessageInitShape<I>,
    opts?: PlatformCallOptions,
  ): Promise<MessageShape<O>>;
  /** Starts loading grpc-js and building the TLS context now (cold start overlaps it with the token request). */
  warm(): void;
  close(): void;
}

export function platformGrpc(settings: HostedSettings, auth: HostedPlatformAuth): PlatformGrpc {
  type Adapter = typeof import("../grpc/adapter.ts");
  type Grpc = typeof import("@grpc/grpc-js");
  let loaded: Promise<{ adapter: Adapter; grpc: Grpc; credentials: import("@grpc/grpc-js").ChannelCredentials }> | undefined;
  const clients = new Map<string, { close(): void; channel: unknown } & Record<string, unknown>>();
  let channel: unknown;
  let closed = false;

  const load = () =>
    (loaded ??= (async () => {
      const [adapter, grpc, tls] = await Promise.all([import("../grpc/adapter.ts"), import("@grpc/grpc-js"), import("node:tls")]);
      const credentials = grpc.credentials.createFromSecureContext(tls.createSecureContext({ ca: settings.ca, minVersion: "TLSv1.2" }));
      return { adapter, grpc, credentials };
    })());

  const clientFor = async (service: DescService) => {
    const { adapter, credentials } = await load();
    // close() may have run while grpc-js was loading: open nothing after it.
    if (closed) throw new ConnectorError(Code.UNAVAILABLE, "the platform connection is closed");
    let client = clients.get(service.typeName);
    if (!client) {
      const options = {
        channelOptions: {
          "grpc.max_receive_message_length": PLATFORM_MAX_MESSAGE_BYTES,
          "grpc.max_send_message_length": PLATFORM_MAX_MESSAGE_BYTES,
          "grpc.primary_user_agent": `baton-lambda/${settings.clientId.value} v${SDK_WIRE_VERSION}`,
        },
      };
      const made = adapter.createClient(service, (channel as never) ?? settings.configurationTarget, credentials, options) as unknown as
        { close(): void; channel: unknown } & Record<string, unknown>;
      channel ??= made.channel;
      clients.set(service.typeName, made);
      client = made;
    }
    return client;
  };

  return {
    async unary(service, method, req, opts = {}) {
      if (closed) throw new ConnectorError(Code.UNAVAILABLE, "the platform connection is closed");
      const { grpc, adapter } = await load();
      const client = await clientFor(service);
      const fn = client[method.localName] as (r: unknown, o: unknown) => Promise<MessageShape<typeof method.output>>;
      const attempt = async () => {
        const headers = await auth.callMetadata(adapter.methodPath(method), opts.signal);
        const metadata = new grpc.Metadata();
        for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
        return fn(req, { signal: opts.signal, timeoutMs: opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS, metadata });
      };
      try {
        return await attempt();
      } catch (err) {
        // A token the platform no longer accepts (revoked, rotated keys) is dropped and the call made once more
        // with a fresh one; every method on this channel is idempotent, so the retry is safe.
        if (!(err instanceof ConnectorError) || err.code !== Code.UNAUTHENTICATED) throw err;
        auth.tokens.invalidate();
        return attempt();
      }
    },
    warm() {
      load().catch(() => {}); // a failure surfaces again on the first call
    },
    close() {
      closed = true;
      // Clients on the shared channel leave it alone; the first client owns it and closes it last.
      const all = [...clients.values()];
      for (const c of all.slice(1)) c.close();
      all[0]?.close();
      clients.clear();
    },
  };
}
