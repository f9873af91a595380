/**
 * Small real servers on 127.0.0.1 for the HTTP layer tests: a plain HTTP server, a TLS server with a test CA
 * made by openssl at test time, and a forward + CONNECT proxy.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { connect as netConnect, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import { makeTempDir } from "../helpers/temp-dir.ts";

export interface TestServer {
  url: string;
  port: number;
  /** Distinct TCP connections accepted so far. */
  connections: () => number;
  /** Connections open right now. */
  openConnections: () => number;
  close: () => Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;

function track(server: Server): { connections: () => number; openConnections: () => number; sockets: Set<Socket> } {
  let total = 0;
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    total++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("secureConnection", () => {});
  return { connections: () => total, openConnections: () => sockets.size, sockets };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

function closer(server: Server, sockets: Set<Socket>): () => Promise<void> {
  return async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

function withBody(handler: Handler) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      Promise.resolve(handler(req, res, Buffer.concat(chunks).toString("utf8"))).catch((err) => {
        res.statusCode = 599;
        res.end(String(err));
      });
    });
  };
}

export async function startHttpServer(handler: Handler): Promise<TestServer> {
  const server = createServer(withBody(handler));
  const t = track(server);
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, port, connections: t.connections, openConnections: t.openConnections, close: closer(server, t.sockets) };
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export interface TestPki {
  dir: string;
  caPem: string;
  caPath: string;
  certPem: string;
  keyPem: string;
  cleanup: () => void;
}

export function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A throwaway CA and a server certificate for 127.0.0.1 / localhost, made with the openssl CLI. */
export function makeTestPki(): TestPki {
  const { dir, cleanup } = makeTempDir("http-pki-");
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=HTTP Test CA"]);
  run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=localhost"]);
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  run(["x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf"]);
  return {
    dir,
    caPem: readFileSync(join(dir, "ca.pem"), "utf8"),
    caPath: join(dir, "ca.pem"),
    certPem: readFileSync(join(dir, "srv.pem"), "utf8"),
    keyPem: readFileSync(join(dir, "srv.key"), "utf8"),
    cleanup,
  };
}

export async function startHttpsServer(pki: TestPki, handler: Handler): Promise<TestServer> {
  const server = createHttpsServer({ cert: pki.certPem, key: pki.keyPem }, withBody(handler));
  const t = track(server);
  const port = await listen(server);
  return { url: `https://127.0.0.1:${port}`, port, connections: t.connections, openConnections: t.openConnections, close: closer(server, t.sockets) };
}

export interface TestProxy extends TestServer {
  /** Absolute-URI (forward) requests seen. */
  forwarded: () => number;
  /** CONNECT tunnels opened. */
  tunnels: () => number;
}

/**
 * A forward proxy (absolute-URI requests for http targets) that also tunnels CONNECT (https targets).
 * `refuseConnect` answers CONNECT with that status instead of tunnelling.
 */
export async function startProxy(options: { refuseConnect?: number } = {}): Promise<TestProxy> {
  let forwarded = 0;
  let tunnels = 0;
  const server = createServer((req, res) => {
    forwarded++;
    const target = new URL(req.url ?? "/");
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      try {
        const headers = { ...req.headers } as Record<string, string>;
        delete headers["proxy-connection"];
        const upstream = await fetch(target, {
          method: req.method,
          headers,
          body: chunks.length ? Buffer.concat(chunks) : undefined,
        });
        const body = Buffer.from(await upstream.arrayBuffer());
        const outHeaders: Record<string, string> = {};
        upstream.headers.forEach((v, k) => {
          if (k !== "content-encoding" && k !== "transfer-encoding" && k !== "connection" && k !== "keep-alive") outHeaders[k] = v;
        });
        outHeaders["content-length"] = String(body.length);
        res.writeHead(upstream.status, outHeaders);
        res.end(body);
      } catch (err) {
        res.writeHead(502);
        res.end(String(err));
      }
    });
  });
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    if (options.refuseConnect) {
      client.end(`HTTP/1.1 ${options.refuseConnect} Refused\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    tunnels++;
    const [host, port] = (req.url ?? "").split(":");
    const upstream = netConnect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  const t = track(server);
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connections: t.connections,
    openConnections: t.openConnections,
    close: closer(server, t.sockets),
    forwarded: () => forwarded,
    tunnels: () => tunnels,
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A fixed-window rate limiter as a server would implement it: `limit` requests per `periodSeconds` per name,
 * X-RateLimit-* headers on every answer (Reset rounded up to whole seconds, as "seconds until reset"), 429 when
 * the window is spent.
 */
export class FixedWindowLimit {
  readonly limit: number;
  readonly periodMs: number;
  readonly name: string;
  #windowStart = Date.now();
  #count = 0;
  rejected = 0;
  accepted = 0;

  constructor(name: string, limit: number, periodSeconds: number) {
    this.name = name;
    this.limit = limit;
    this.periodMs = periodSeconds * 1000;
  }

  /** Counts one request; returns the headers to send and whether it is allowed. */
  take(): { allowed: boolean; headers: Record<string, string> } {
    const now = Date.now();
    if (now >= this.#windowStart + this.periodMs) {
      const windows = Math.floor((now - this.#windowStart) / this.periodMs);
      this.#windowStart += windows * this.periodMs;
      this.#count = 0;
    }
    const allowed = this.#count < this.limit;
    if (allowed) {
      this.#count++;
      this.accepted++;
    } else this.rejected++;
    const resetMs = this.#windowStart + this.periodMs - now;
    return {
      allowed,
      headers: {
        "x-ratelimit-limit": String(this.limit),
        "x-ratelimit-period": String(this.periodMs / 1000),
        "x-ratelimit-remaining": String(Math.max(0, this.limit - this.#count)),
        "x-ratelimit-reset": String(Math.max(1, Math.ceil(resetMs / 1000))),
        "x-ratelimit-name": this.name,
      },
    };
  }
}
