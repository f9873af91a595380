/**
 * Hosted mode: the connector's c1.connector.v2 services on a gRPC listener the platform connects to. TLS with
 * `--tls-cert`/`--tls-key`; with `--tls-client-ca` every client must present a certificate signed by that CA.
 * Plaintext is allowed only on a loopback address (a sidecar or a local test), never on a reachable interface.
 * Off loopback, clients must present certificates: serving TLS to anyone who can reach the port (every RPC,
 * provisioning included) takes `--allow-unauthenticated-clients`, and says so at warn level.
 * Connections go through a guarded listener (./listener.ts: connection cap, handshake timeout) and calls through
 * the limits of ./limits.ts.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { createSecureContext } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { ConfigError } from "../config/errors.ts";
import type { ConnectorRpc } from "../connector/rpc.ts";
import { connectorServer, shutdownServer } from "./connector-server.ts";
import type { ServerLimits } from "./limits.ts";
import { startGuardedListener, type ListenerStats, type ListenerTls } from "./listener.ts";

/** The opt-in flag for TLS without client certificates off loopback: long on purpose, nobody sets it by accident. */
export const ALLOW_UNAUTHENTICATED_FLAG = "--allow-unauthenticated-clients";

export interface ServeHostedOptions {
  rpc: ConnectorRpc;
  /** `--listen`: HOST:PORT, e.g. 0.0.0.0:50051, [::]:50051, 127.0.0.1:0. */
  listen: string;
  /** `--tls-cert`: PEM certificate chain file. */
  tlsCert?: string;
  /** `--tls-key`: PEM private key file. */
  tlsKey?: string;
  /** `--tls-client-ca`: PEM CA file; clients must present a certificate it signed. */
  tlsClientCa?: string;
  /** `--allow-unauthenticated-clients`: serve TLS without client certificates on a non-loopback address. */
  allowUnauthenticatedClients?: boolean;
  /** Whether the connector accepts provisioning calls (`-p`); only for what the warning says. */
  provisioning?: boolean;
  /** Defaults: DEFAULT_LIMITS (./limits.ts). */
  limits?: Partial<ServerLimits>;
  logger: Logger;
}

export interface HostedServer {
  /** The bound port (useful with port 0). */
  port: number;
  /** The address clients dial, e.g. "127.0.0.1:50051". */
  address: string;
  tls: boolean;
  /** Whether clients must present a certificate. */
  clientCertificates: boolean;
  /** What the listener and the call limiter have done so far. */
  stats(): { connections: ListenerStats; calls: { running: number; queued: number; refused: number } };
  close(): Promise<void>;
}

const usage = (label: string, message: string) => new ConfigError([{ label, message }]);

/** Splits HOST:PORT ("[::1]:50051" for IPv6). */
export function parseListenAddress(listen: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw usage("--listen", "must be HOST:PORT, e.g. 0.0.0.0:50051, [::]:50051 or 127.0.0.1:50051 (port 0 picks a free port)");
  }
  return { host: m[1] ?? m[2], port };
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || h === "0:0:0:0:0:0:0:1" || /^::ffff:127\./.test(h);
  return false;
}

function readPem(label: string, file: string): Buffer {
  try {
    const pem = readFileSync(file);
    if (!pem.toString("utf8").includes("-----BEGIN ")) throw new Error("the file is not PEM (no -----BEGIN line)");
    return pem;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
    throw usage(label, `cannot read ${file}: ${why}`);
  }
}

/** Checks the TLS flags against the listen address; returns what the listener needs, or null for plaintext. */
function listenerTls(options: ServeHostedOptions, host: string): ListenerTls | null {
  const { tlsCert, tlsKey, tlsClientCa } = options;
  if (!tlsCert !== !tlsKey) {
    throw usage(tlsCert ? "--tls-key" : "--tls-cert", "--tls-cert and --tls-key go together: pass both, the certificate chain and its private key");
  }
  if (!tlsCert || !tlsKey) {
    if (tlsClientCa) throw usage("--tls-client-ca", "client certificates need TLS: pass --tls-cert and --tls-key as well");
    if (!isLoopbackHost(host)) {
      throw usage(
        "--listen",
        `refusing to serve without TLS on ${host}, which is not a loopback address: pass --tls-cert and --tls-key ` +
          "(and --tls-client-ca to require client certificates), or listen on 127.0.0.1 for local use",
      );
    }
    return null;
  }
  if (!tlsClientCa && !isLoopbackHost(host) && !options.allowUnauthenticatedClients) {
    throw usage(
      "--tls-client-ca",
      `refusing to serve on ${host}, which is not a loopback address, without client certificates: anyone who can reach ` +
        `the port could call every RPC${options.provisioning ? ", provisioning included" : ""}. Pass --tls-client-ca with the CA ` +
        `that signs your clients' certificates, or ${ALLOW_UNAUTHENTICATED_FLAG} if something in front of this server authenticates them`,
    );
  }
  const cert = readPem("--tls-cert", tlsCert);
  const key = readPem("--tls-key", tlsKey);
  const clientCa = tlsClientCa ? readPem("--tls-client-ca", tlsClientCa) : undefined;
  try {
    // Node would only find a key that does not match the certificate when a client connects; check now, name the flags.
    createSecureContext({ cert, key });
  } catch (err) {
    throw usage("--tls-cert", `the certificate and the --tls-key key cannot be used together: ${(err as Error).message}`);
  }
  if (clientCa) {
    try {
      createSecureContext({ ca: clientCa });
    } catch (err) {
      throw usage("--tls-client-ca", `not a usable CA certificate: ${(err as Error).message}`);
    }
  }
  return { cert, key, clientCa };
}

export async function serveHosted(options: ServeHostedOptions): Promise<HostedServer> {
  const { logger } = options;
  const { host, port } = parseListenAddress(options.listen);
  const tls = listenerTls(options, host);
  const bindHost = host.includes(":") ? `[${host}]` : host;
  const { server, limiter, limits } = connectorServer(options.rpc, { logger, limits: options.limits });
  // TLS ends in the listener; grpc-js gets the decrypted stream, hence its "insecure" credentials here.
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  let listener;
  try {
    listener = await startGuardedListener({
      host,
      port,
      tls: tls ?? undefined,
      maxConnections: limits.maxConnections,
      handshakeTimeoutMs: limits.handshakeTimeoutMs,
      accept: (socket) => injector.injectConnection(socket),
      logger,
    });
  } catch (err) {
    server.forceShutdown();
    throw new Error(`cannot listen on ${options.listen}: ${(err as Error).message}`, { cause: err });
  }
  const address = `${bindHost}:${listener.port}`;
  const clientCertificates = Boolean(tls?.clientCa);
  logger.info(
    {
      listen: address,
      tls: tls !== null,
      clientCertificates,
      maxConnections: limits.maxConnections,
      maxConcurrentCalls: limits.maxConcurrentCalls,
      maxQueuedCalls: limits.maxQueuedCalls,
      handshakeTimeoutMs: limits.handshakeTimeoutMs,
    },
    "serving the connector's c1.connector.v2 services",
  );
  if (tls && !clientCertificates && !isLoopbackHost(host)) {
    logger.warn(
      { listen: address, provisioning: Boolean(options.provisioning) },
      `serving without client certificates (${ALLOW_UNAUTHENTICATED_FLAG}): anyone who can reach ${address} can call every RPC` +
        (options.provisioning ? ", provisioning included (grant, revoke, create, delete, rotate credentials)" : ""),
    );
  }
  return {
    port: listener.port,
    address,
    tls: tls !== null,
    clientCertificates,
    stats: () => ({ connections: { ...listener.stats }, calls: { running: limiter.running, queued: limiter.queued, refused: limiter.refused } }),
    close: async () => {
      listener.close();
      injector.destroy();
      await shutdownServer(server);
    },
  };
}
