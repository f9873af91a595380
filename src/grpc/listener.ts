/**
 * The hosted server's own listener, in front of grpc-js. grpc-js 1.14 accepts every connection and then waits
 * forever for it to speak (its HTTP/2 server has its timeout switched off), so 300 sockets that never send a byte
 * stayed open for good. Here every accepted socket counts against a connection cap and must finish its TLS
 * handshake and send the HTTP/2 client preface within the handshake timeout, or it is closed. Only then is it
 * handed to grpc-js (a connection injector), which serves it.
 *
 * TLS is terminated by a node:tls server (not a bare TLSSocket, which would not enforce requestCert /
 * rejectUnauthorized): client certificates are verified there, exactly with the options grpc-js would use, and
 * only `h2` is negotiated, as grpc-js's own HTTP/2 secure server does.
 */
import * as net from "node:net";
import * as tls from "node:tls";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";

/** The 24 bytes every HTTP/2 client sends first (RFC 9113 §3.4). */
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export interface ListenerTls {
  cert: Buffer;
  key: Buffer;
  /** When set, clients must present a certificate this CA signed. */
  clientCa?: Buffer;
}

export interface GuardedListenerOptions {
  host: string;
  port: number;
  tls?: ListenerTls;
  maxConnections: number;
  handshakeTimeoutMs: number;
  /** Receives each connection once it has spoken HTTP/2 (decrypted, with its first bytes still unread). */
  accept(socket: Duplex): void;
  logger: Logger;
}

export interface ListenerStats {
  accepted: number;
  /** Closed at accept: the connection cap was reached. */
  refusedAtCap: number;
  /** Closed because the handshake or the preface did not arrive in time. */
  timedOut: number;
  /** Closed because what arrived was not TLS, not h2 or not the HTTP/2 preface. */
  rejected: number;
  /** Handed to grpc-js. */
  handedOver: number;
  open: number;
}

export interface GuardedListener {
  port: number;
  readonly stats: ListenerStats;
  /** Stops accepting and closes every connection not yet handed over (grpc-js closes the others). */
  close(): void;
}

/** Logs refusals at most this often, as one summary line: a flood must not become a flood of log lines. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

export async function startGuardedListener(options: GuardedListenerOptions): Promise<GuardedListener> {
  const { logger, handshakeTimeoutMs } = options;
  const stats: ListenerStats = { accepted: 0, refusedAtCap: 0, timedOut: 0, rejected: 0, handedOver: 0, open: 0 };
  const pending = new Set<net.Socket>();

  let lastRefusalLog = 0;
  let refusedSinceLog = 0;
  const noteRefusal = () => {
    refusedSinceLog++;
    const now = Date.now();
    if (now - lastRefusalLog < REFUSAL_LOG_INTERVAL_MS) return;
    logger.warn(
      { refused: refusedSinceLog, maxConnections: options.maxConnections },
      "refusing connections: the connection limit is reached",
    );
    lastRefusalLog = now;
    refusedSinceLog = 0;
  };

  const handOver = (raw: net.Socket, socket: Duplex) => {
    pending.delete(raw);
    clearTimeout((raw as GuardedSocket)[deadline]);
    stats.handedOver++;
    options.accept(socket);
  };

  const server = options.tls
    ? tls.createServer({
        cert: options.tls.cert,
        key: options.tls.key,
        ...(options.tls.clientCa ? { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
        ALPNProtocols: ["h2"],
        // A backstop only: the deadline below (from accept to the preface) closes such sockets first.
        handshakeTimeout: handshakeTimeoutMs + 1000,
      })
    : net.createServer();
  server.maxConnections = options.maxConnections;

  server.on("connection", (raw: net.Socket) => {
    stats.accepted++;
    stats.open++;
    pending.add(raw);
    const timer = setTimeout(() => {
      if (!pending.has(raw)) return;
      stats.timedOut++;
      logger.debug({ peer: peerOf(raw), handshakeTimeoutMs }, "closing a connection that did not complete its handshake in time");
      raw.destroy();
    }, handshakeTimeoutMs);
    timer.unref();
    (raw as GuardedSocket)[deadline] = timer;
    // Before and after the hand-over a peer may reset the socket; without a listener that would throw.
    raw.on("error", (err) => logger.debug({ err: err.message, peer: peerOf(raw) }, "connection error"));
    raw.once("close", () => {
      stats.open--;
      clearTimeout(timer);
      pending.delete(raw);
    });
    if (!options.tls) awaitPreface(raw, () => handOver(raw, raw), () => reject(raw, "not an HTTP/2 client"));
  });

  server.on("drop", () => {
    stats.refusedAtCap++;
    noteRefusal();
  });

  if (options.tls) {
    server.on("secureConnection", (socket: tls.TLSSocket) => {
      const raw = rawOf(socket, pending);
      socket.on("error", (err) => logger.debug({ err: err.message, peer: peerOf(socket) }, "TLS connection error"));
      if (!raw) return void socket.destroy();
      if (socket.alpnProtocol !== "h2") return reject(raw, "TLS client did not negotiate h2", socket);
      awaitPreface(socket, () => handOver(raw, socket), () => reject(raw, "not an HTTP/2 client", socket));
    });
    server.on("tlsClientError", (err, socket) => {
      if ((err as NodeJS.ErrnoException).code !== "ERR_TLS_HANDSHAKE_TIMEOUT") stats.rejected++;
      logger.debug({ err: err.message, peer: peerOf(socket) }, "TLS handshake failed");
    });
  }

  const reject = (raw: net.Socket, why: string, socket?: Duplex) => {
    stats.rejected++;
    logger.debug({ peer: peerOf(raw), why }, "closing a connection");
    socket?.destroy();
    raw.destroy();
  };

  const port = await new Promise<number>((resolve, rejectListen) => {
    server.once("error", rejectListen);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off("error", rejectListen);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
  server.on("error", (err) => logger.error({ err }, "the gRPC listener failed"));

  return {
    port,
    stats,
    close: () => {
      server.close();
      for (const raw of pending) raw.destroy();
    },
  };
}

const deadline = Symbol("handshake deadline");
type GuardedSocket = net.Socket & { [deadline]?: NodeJS.Timeout };

/**
 * Reads until the 24-byte preface is in (refusing at the first byte that differs), then puts back everything
 * read: the HTTP/2 session reads a socket's buffered bytes before its own.
 */
function awaitPreface(socket: Duplex, ready: () => void, bad: () => void): void {
  let got: Buffer = Buffer.alloc(0);
  const onReadable = () => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) got = got.length ? Buffer.concat([got, chunk]) : chunk;
    const n = Math.min(got.length, PREFACE.length);
    if (!got.subarray(0, n).equals(PREFACE.subarray(0, n))) {
      socket.off("readable", onReadable);
      return bad();
    }
    if (got.length < PREFACE.length) return;
    socket.off("readable", onReadable);
    socket.unshift(got);
    ready();
  };
  socket.on("readable", onReadable);
}

/** The accepted TCP socket under a TLS socket: the one with the same peer (one TCP connection per peer port). */
function rawOf(socket: tls.TLSSocket, pending: Set<net.Socket>): net.Socket | undefined {
  for (const raw of pending) {
    if (raw.remotePort === socket.remotePort && raw.remoteAddress === socket.remoteAddress) return raw;
  }
  return undefined;
}

function peerOf(socket: net.Socket | Duplex): string | undefined {
  const s = socket as net.Socket;
  return s.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : undefined;
}
