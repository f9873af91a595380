/**
 * A ConnectorRpc backed by a connector served over gRPC: the second transport of "one connector, two
 * transports". All services share one channel.
 */
import * as grpc from "@grpc/grpc-js";
import { connectorServices, type ConnectorRpc } from "../connector/rpc.ts";
import { createClient, type ClientOptions } from "./adapter.ts";

export function connectorClient(
  target: string,
  credentials: grpc.ChannelCredentials,
  options: ClientOptions = {},
): ConnectorRpc & { close(): void } {
  const channel = new grpc.Channel(target, credentials, { "grpc.max_receive_message_length": 64 * 1024 * 1024, ...options.channelOptions });
  const rpc: Record<string, unknown> = {};
  for (const service of connectorServices) {
    const client = createClient(service, channel, credentials, options) as unknown as Record<string, unknown>;
    for (const method of service.methods) rpc[method.localName] = client[method.localName];
  }
  rpc.close = () => channel.close();
  return rpc as unknown as ConnectorRpc & { close(): void };
}
