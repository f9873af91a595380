/**
 * The two long-running ways to run any connector, as CLI pieces: service mode (outbound-only to the platform)
 * and hosted mode (`serve`: the c1.connector.v2 gRPC services for a platform that calls in).
 */
import type { Logger } from "pino";
import { runService } from "../service/index.ts";
import { serveHosted } from "../grpc/serve.ts";
import { field } from "../config/index.ts";
import type { ConnectorRpc } from "../connector/rpc.ts";
import { defineCommand, type CommandSpec, type RunContext } from "./spec.ts";

/** Kubernetes gives a pod 120 s after SIGTERM; leave room to report the tasks that were running. */
const SHUTDOWN_GRACE_MS = 110_000;

export async function runServiceMode<C>(rpc: ConnectorRpc, ctx: RunContext<C>): Promise<void> {
  const summary = await runService({
    connector: rpc,
    clientId: ctx.sdk.clientId!,
    clientSecret: ctx.sdk.clientSecret!,
    logger: ctx.logger,
    signal: ctx.signal,
    buildInfo: { package: ctx.name, packageVersion: ctx.version },
    taskConcurrency: ctx.sdk.taskConcurrency,
    shutdownGraceMs: SHUTDOWN_GRACE_MS,
    ...(ctx.sdk.healthCheck ? { health: { port: ctx.sdk.healthCheckPort, bindAddress: ctx.sdk.healthCheckBindAddress } } : {}),
  });
  ctx.logger.info(summary, "service stopped");
}

/** Builds the connector for `config`, calls `fn` with its RPC implementation, and closes it afterwards. */
export type WithConnectorRpc<C> = <T>(config: C, logger: Logger, provisioning: boolean, fn: (rpc: ConnectorRpc) => Promise<T>) => Promise<T>;

export function serveCommand<C>(withRpc: WithConnectorRpc<C>): CommandSpec<C, any> {
  return defineCommand<C>()({
    name: "serve",
    description: "Serve the connector's c1.connector.v2 gRPC services (hosted mode); TLS required off loopback",
    flags: {
      listen: field.string({ description: "HOST:PORT to listen on", default: "127.0.0.1:50051" }),
      tlsCert: field.string({ description: "PEM certificate chain of the server" }),
      tlsKey: field.string({ description: "PEM private key of the server" }),
      tlsClientCa: field.string({ description: "PEM CA bundle; when set, clients must present a certificate it signed" }),
    },
    async run(ctx) {
      const config = ctx.loadConfig();
      return withRpc(config, ctx.logger, ctx.sdk.provisioning, async (rpc) => {
        const server = await serveHosted({
          rpc,
          listen: ctx.options.listen,
          tlsCert: ctx.options.tlsCert,
          tlsKey: ctx.options.tlsKey,
          tlsClientCa: ctx.options.tlsClientCa,
          logger: ctx.logger,
        });
        ctx.logger.info({ address: server.address, tls: server.tls }, "serving the connector");
        ctx.io.stderr.write(`serving on ${server.address}${server.tls ? " (TLS)" : ""}\n`);
        await new Promise<void>((resolve) => {
          // The signal listener alone does not keep the event loop alive; the server does.
          if (ctx.signal.aborted) resolve();
          ctx.signal.addEventListener("abort", () => resolve(), { once: true });
        });
        await server.close();
        return 0;
      });
    },
  });
}
