/**
 * Serves a connector over the c1.connector.v2 gRPC services. The same ConnectorRpc object answers every
 * service (its method names are the services' method names); services this SDK does not implement
 * (assets, events, tickets, actions) are registered empty so that they answer UNIMPLEMENTED, not "unknown service".
 */
import * as grpc from "@grpc/grpc-js";
import type { DescService } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { AssetService } from "../gen/c1/connector/v2/asset_pb.js";
import { EventService } from "../gen/c1/connector/v2/event_feed_pb.js";
import { TicketsService } from "../gen/c1/connector/v2/ticket_pb.js";
import { ActionService } from "../gen/c1/connector/v2/action_pb.js";
import { connectorServices, type ConnectorRpc } from "../connector/rpc.ts";
import { addService, type ServerInterceptorFn } from "./adapter.ts";

const unimplementedServices: DescService[] = [AssetService, EventService, TicketsService, ActionService];

export interface ServedConnector {
  server: grpc.Server;
  port: number;
  close(): Promise<void>;
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

export async function serveConnector(
  rpc: ConnectorRpc,
  options: { address: string; credentials: grpc.ServerCredentials; logger: Logger; interceptors?: ServerInterceptorFn[] },
): Promise<ServedConnector> {
  const server = new grpc.Server({ "grpc.max_receive_message_length": 8 * 1024 * 1024 });
  addConnectorServices(server, rpc, options);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.address, options.credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}
