/**
 * Serves a connector over the c1.connector.v2 gRPC services. The same ConnectorRpc object answers every
 * service (its method names are the services' method names); services this SDK does not implement
 * (assets, tickets) are registered empty so that they answer UNIMPLEMENTED, not "unknown service".
 * Every server made here has the limits of ./limits.ts: message sizes, streams per connection, idle and
 * keepalive timers, and a server-wide cap on running calls with a bounded queue.
 */
import * as grpc from "@grpc/grpc-js";
import type { DescService } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { AssetService } from "../gen/c1/connector/v2/asset_pb.js";
import { TicketsService } from "../gen/c1/connector/v2/ticket_pb.js";
import { connectorServices, type ConnectorRpc } from "../connector/rpc.ts";
import { addService, type ServerInterceptorFn } from "./adapter.ts";
import { callLimiter, DEFAULT_LIMITS, grpcServerOptions, type CallLimiter, type ServerLimits } from "./limits.ts";

const unimplementedServices: DescService[] = [AssetService, TicketsService];

export interface ServedConnector {
  server: grpc.Server;
  port: number;
  close(): Promise<void>;
}

export interface ConnectorServerOptions {
  logger: Logger;
  interceptors?: ServerInterceptorFn[];
  /** Defaults: DEFAULT_LIMITS. */
  limits?: Partial<ServerLimits>;
}

/** A grpc-js server with the connector's services and its limits, not yet bound. */
export function connectorServer(rpc: ConnectorRpc, options: ConnectorServerOptions): { server: grpc.Server; limiter: CallLimiter; limits: ServerLimits } {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  let lastLog = 0;
  const limiter = callLimiter(limits, (refused) => {
    // One line per 10 s at most: a flood of refusals must not become a flood of log lines.
    if (Date.now() - lastLog < 10_000) return;
    lastLog = Date.now();
    options.logger.warn(
      { refusedSinceStart: refused, maxConcurrentCalls: limits.maxConcurrentCalls, maxQueuedCalls: limits.maxQueuedCalls },
      "refusing calls with RESOURCE_EXHAUSTED: the call limit and its queue are full",
    );
  });
  // At the transport, in front of every service: a refused call is not even read.
  const server = new grpc.Server(grpcServerOptions(limits, [limiter.interceptor]));
  addConnectorServices(server, rpc, options);
  return { server, limiter, limits };
}

/** Closes `server` gracefully, and by force after `graceMs`. */
export function shutdownServer(server: grpc.Server, graceMs = 2000): Promise<void> {
  return new Promise<void>((resolve) => {
    server.tryShutdown(() => resolve());
    setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs).unref();
  });
}

/** Registers the connector's services on `server` (callers that need extra services share one server). */
export function addConnectorServices(
  server: grpc.Server,
  rpc: ConnectorRpc,
  options: { logger: Logger; interceptors?: ServerInterceptorFn[] },
): void {
  for (const service of connectorServices) {
    const impl: Record<string, unknown> = {};
    for (const method of service.methods) {
      const fn = (rpc as unknown as Record<string, (req: unknown, o: { signal: AbortSignal }) => Promise<unknown>>)[method.localName];
      impl[method.localName] = (req: unknown, ctx: { signal: AbortSignal }) => fn(req, { signal: ctx.signal });
    }
    addService(server, service, impl as never, {
      interceptors: options.interceptors,
      onInternalError: (err, method) => options.logger.error({ err, method: method.name }, "connector call failed"),
    });
  }
  for (const service of unimplementedServices) addService(server, service, {});
}

/** Binds the connector's services on `address` with grpc-js's own listener (tests, sidecars); see serve.ts for hosted mode. */
export async function serveConnector(
  rpc: ConnectorRpc,
  options: ConnectorServerOptions & { address: string; credentials: grpc.ServerCredentials },
): Promise<ServedConnector> {
  const { server } = connectorServer(rpc, options);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.address, options.credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port, close: () => shutdownServer(server) };
}
