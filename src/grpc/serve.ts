/**
 * Hosted mode: the connector's c1.connector.v2 services on a gRPC listener the platform connects to. TLS with
 * `--tls-cert`/`--tls-key`; with `--tls-client-ca` every client must present a certificate signed by that CA.
 * Plaintext is allowed only on a loopback address (a sidecar or a local test), never on a reachable interface.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { createSecureContext } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { ConfigError } from "../config/errors.ts";
import type { ConnectorRpc } from "../connector/rpc.ts";
import { serveConnector } from "./connector-server.ts";

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
  logger: Logger;
}

export interface HostedServer {
  /** The bound port (useful with port 0). */
  port: number;
  /** The address clients dial, e.g. "127.0.0.1:50051". */
  address: string;
  tls: boolean;
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

function serverCredentials(options: ServeHostedOptions, host: string): grpc.ServerCredentials {
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
    return grpc.ServerCredentials.createInsecure();
  }
  const cert = readPem("--tls-cert", tlsCert);
  const key = readPem("--tls-key", tlsKey);
  const clientCa = tlsClientCa ? readPem("--tls-client-ca", tlsClientCa) : null;
  try {
    // grpc-js would only find a key that does not match the certificate when binding; check now, name the flags.
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
  return grpc.ServerCredentials.createSsl(clientCa, [{ cert_chain: cert, private_key: key }], clientCa !== null);
}

export async function serveHosted(options: ServeHostedOptions): Promise<HostedServer> {
  const { host, port } = parseListenAddress(options.listen);
  const credentials = serverCredentials(options, host);
  const bindHost = host.includes(":") ? `[${host}]` : host;
  let served;
  try {
    served = await serveConnector(options.rpc, { address: `${bindHost}:${port}`, credentials, logger: options.logger });
  } catch (err) {
    throw new Error(`cannot listen on ${options.listen}: ${(err as Error).message}`, { cause: err });
  }
  const tls = Boolean(options.tlsCert);
  options.logger.info(
    { listen: `${bindHost}:${served.port}`, tls, clientCertificates: Boolean(options.tlsClientCa) },
    "serving the connector's c1.connector.v2 services",
  );
  return { port: served.port, address: `${bindHost}:${served.port}`, tls, close: served.close };
}
