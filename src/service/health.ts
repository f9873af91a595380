/**
 * Kubernetes probes for service mode: `/live` (the process runs), `/ready` (Hello succeeded: the platform knows
 * this host), `/health` (a small JSON status). Responses carry no secrets, no host names, no error texts.
 */
import { createServer, type Server } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";

export interface HealthStatus {
  ready: boolean;
  runningTasks: number;
  finishedTasks: number;
  /** ms since epoch of the last successful GetTask, if any. */
  lastPollAt?: number;
  stopping: boolean;
}

export interface HealthServerOptions {
  port: number;
  bindAddress: string;
  status: () => HealthStatus;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export const DEFAULT_HEALTH_PORT = 8081;
export const DEFAULT_HEALTH_BIND_ADDRESS = "127.0.0.1";

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const started = Date.now();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (code: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(code, { "content-type": "application/json", "cache-control": "no-store", "content-length": Buffer.byteLength(text) });
      res.end(req.method === "HEAD" ? undefined : text);
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return send(405, { error: "method not allowed" });
    }
    const status = options.status();
    switch (path) {
      case "/live":
        return send(200, { status: "live" });
      case "/ready":
        return status.ready && !status.stopping
          ? send(200, { status: "ready" })
          : send(503, { status: status.stopping ? "stopping" : "not ready: waiting for the platform to answer Hello" });
      case "/health":
        return send(200, {
          status: status.ready ? "ok" : "starting",
          ready: status.ready,
          stopping: status.stopping,
          runningTasks: status.runningTasks,
          finishedTasks: status.finishedTasks,
          lastPollAt: status.lastPollAt === undefined ? null : new Date(status.lastPollAt).toISOString(),
          uptimeSeconds: Math.round((Date.now() - started) / 1000),
        });
      default:
        return send(404, { error: "not found; try /live, /ready or /health" });
    }
  });
  server.listen(options.port, options.bindAddress);
  try {
    await once(server, "listening");
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `cannot serve health checks on ${options.bindAddress}:${options.port}: ${why} ` +
        "(choose another --health-check-port or --health-check-bind-address)",
      { cause: err },
    );
  }
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
