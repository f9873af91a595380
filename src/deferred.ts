/**
 * The parts of the public API that need a heavy dependency (grpc-js, the hosted runtime's AWS signing), as
 * functions that import their module on first call. src/index.ts re-exports these instead of the modules
 * themselves, so a connector importing the SDK — and a one-shot sync — loads none of it (issue 14: a test
 * runs a sync in a child process and checks which packages it loaded).
 */
import type * as grpc from "@grpc/grpc-js";
import type { ConnectorRpc } from "./connector/rpc.ts";
import { connectorServices } from "./connector/rpc.ts";
import type { ClientOptions } from "./grpc/adapter.ts";
import type { serveConnector as serveConnectorNow } from "./grpc/connector-server.ts";
import type { createLambdaHandler as createLambdaHandlerNow } from "./hosted/handler.ts";
import type { startHostedRuntime as startHostedRuntimeNow } from "./hosted/runtime.ts";

/** Binds the connector's services on `address` with grpc-js's own listener (tests, sidecars). */
export const serveConnector: typeof serveConnectorNow = async (rpc, options) => (await import("./grpc/connector-server.ts")).serveConnector(rpc, options);

/**
 * A ConnectorRpc backed by a connector served over gRPC (all services share one channel). The caller already
 * holds grpc-js (it made `credentials`); the channel is made on the first call, and `close()` closes it.
 */
export function connectorClient(target: string, credentials: grpc.ChannelCredentials, options: ClientOptions = {}): ConnectorRpc & { close(): void } {
  let client: Promise<ConnectorRpc & { close(): void }> | undefined;
  const connect = () => (client ??= import("./grpc/connector-client.ts").then((m) => m.connectorClient(target, credentials, options)));
  const rpc: Record<string, unknown> = {};
  for (const service of connectorServices) {
    for (const method of service.methods) {
      rpc[method.localName] = async (...args: unknown[]) => {
        const c = (await connect()) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
        return c[method.localName]!(...args);
      };
    }
  }
  rpc.close = () => void client?.then((c) => c.close());
  return rpc as unknown as ConnectorRpc & { close(): void };
}

/** Starts the hosted (Lambda) runtime: settings, platform auth, the first config generation. */
export const startHostedRuntime: typeof startHostedRuntimeNow = async (def, env, opts) =>
  (await import("./hosted/runtime.ts")).startHostedRuntime(def, env, opts);

/**
 * The nodejs24.x handler: `export const handler = createLambdaHandler(definition)`. The handler's module (and
 * jose, for the invocation's authentication) starts loading at once, in the function's init phase; the first
 * invocation waits for it.
 */
export const createLambdaHandler: typeof createLambdaHandlerNow = (def, opts) => {
  const made = import("./hosted/handler.ts").then((m) => m.createLambdaHandler(def, opts));
  // A failed load is reported by the invocation that awaits it, not as an unhandled rejection at init.
  made.catch(() => undefined);
  const handler = async (event: unknown, context: unknown) => (await made)(event, context);
  return Object.assign(handler, { close: async () => (await made).close() });
};
