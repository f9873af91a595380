/**
 * The two long-running ways to run any connector, as CLI pieces: service mode (outbound-only to the platform)
 * and hosted mode (`serve`: the c1.connector.v2 gRPC services for a platform that calls in).
 */
import type { Logger } from "pino";
import { serviceSyncScope } from "../sync/scope.ts";
import { DEFAULT_LIMITS } from "../grpc/server-limits.ts";
import { field } from "../config/fields.ts";
import type { ConnectorRpc } from "../connector/rpc.ts";
import { memorySessionBackend, withSessionBackend } from "../connector/session.ts";
import { defineCommand, type CommandSpec, type RunContext } from "./spec.ts";

/** Kubernetes gives a pod 120 s after SIGTERM; leave room to report the tasks that were running. */
const SHUTDOWN_GRACE_MS = 110_000;

export async function runServiceMode<C>(rpc: ConnectorRpc, ctx: RunContext<C>): Promise<void> {
  const syncScope = serviceSyncScope(ctx.sdk);
  if (ctx.sdk.syncResources.length > 0 || ctx.sdk.skipEntitlementsAndGrants) {
    // As in Baton: in service mode each task says what to sync; these host flags do not reach it.
    ctx.logger.warn("--sync-resources and --skip-entitlements-and-grants are ignored in service mode (each sync task says what to sync)");
  }
  // Service mode's platform client (gRPC, DPoP with jose) loads here, not with the CLI: a one-shot sync never needs it.
  const { runService } = await import("../service/index.ts");
  const summary = await runService({
    syncScope,
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
      tlsClientCa: field.string({
        description: "PEM CA bundle; clients must present a certificate it signed (required off loopback unless --allow-unauthenticated-clients)",
      }),
      allowUnauthenticatedClients: field.bool({
        description:
          "Serve TLS without client certificates on a non-loopback address: anyone who can reach the port can call every RPC, provisioning included with -p",
      }),
      maxConnections: field.int({
        description: "Open connections at most (those still in their handshake included); more are closed at once",
        default: DEFAULT_LIMITS.maxConnections,
        min: 1,
        max: 100_000,
      }),
      maxConcurrentCalls: field.int({
        description: `Calls served at once; up to ${DEFAULT_LIMITS.maxQueuedCalls} more wait, beyond that calls get RESOURCE_EXHAUSTED`,
        default: DEFAULT_LIMITS.maxConcurrentCalls,
        min: 1,
        max: 10_000,
      }),
      handshakeTimeoutMs: field.int({
        description: "Milliseconds a new connection has to finish its TLS handshake and send the HTTP/2 preface before it is closed",
        default: DEFAULT_LIMITS.handshakeTimeoutMs,
        min: 100,
        max: 600_000,
      }),
    },
    async run(ctx) {
      const config = ctx.loadConfig();
      return withRpc(config, ctx.logger, ctx.sdk.provisioning, async (rpc) => {
        // grpc-js loads with the server, not with the CLI.
        const { ALLOW_UNAUTHENTICATED_FLAG, serveHosted } = await import("../grpc/serve.ts");
        const server = await serveHosted({
          // Served without a platform's session service: ctx.session values live in this process, bounded.
          rpc: withSessionBackend(rpc, memorySessionBackend()),
          listen: ctx.options.listen,
          tlsCert: ctx.options.tlsCert,
          tlsKey: ctx.options.tlsKey,
          tlsClientCa: ctx.options.tlsClientCa,
          allowUnauthenticatedClients: ctx.options.allowUnauthenticatedClients,
          provisioning: ctx.sdk.provisioning,
          limits: {
            maxConnections: ctx.options.maxConnections,
            maxConcurrentCalls: ctx.options.maxConcurrentCalls,
            handshakeTimeoutMs: ctx.options.handshakeTimeoutMs,
          },
          logger: ctx.logger,
        });
        ctx.logger.info({ address: server.address, tls: server.tls }, "serving the connector");
        ctx.io.stderr.write(`serving on ${server.address}${server.tls ? " (TLS)" : ""}\n`);
        if (server.tls && !server.clientCertificates && ctx.options.allowUnauthenticatedClients) {
          // Also on stderr, whatever the log level: this must not go unnoticed.
          ctx.io.stderr.write(
            `WARNING: ${ALLOW_UNAUTHENTICATED_FLAG}: no client certificates are asked for; anyone who can reach ${server.address} ` +
              `can call every RPC${ctx.sdk.provisioning ? ", provisioning included" : ""}\n`,
          );
        }
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
