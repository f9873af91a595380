/**
 * A recording HTTP proxy on 127.0.0.1: point a client's base URL at it and every request/response pair it
 * forwards to the target (the Datadog simulator) is captured: method, path and query, bodies, status, content
 * types. Headers are forwarded but not recorded, so the captured exchanges hold no credentials; bodies stay in
 * memory only (a created key's value can be in one) and are never written anywhere.
 */
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedExchange {
  /** Order in which the requests arrived (0-based). */
  seq: number;
  method: string;
  /** Path and query as the client sent them, e.g. "/api/v2/users?page%5Bsize%5D=100". */
  url: string;
  requestContentType?: string;
  /** Request body as text ("" when none). */
  requestText: string;
  /** 0 when no response arrived (see `error`). */
  status: number;
  responseContentType?: string;
  /** Response body as text ("" when none); cut at maxBodyBytes (see `truncated`). */
  responseText: string;
  truncated: boolean;
  /** Set when forwarding failed (connection refused, reset mid-body, ...). */
  error?: string;
}

export interface RecordingProxy {
  /** e.g. http://127.0.0.1:41235, to use as the client's base URL. */
  readonly baseUrl: string;
  /** Completed exchanges, in completion order. */
  readonly exchanges: readonly RecordedExchange[];
  clear(): void;
  close(): Promise<void>;
}

export interface RecordingProxyOptions {
  /** Bodies beyond this are forwarded whole but recorded cut (default 16 MiB). */
  maxBodyBytes?: number;
}

// RFC 9110 §7.6.1 connection-specific headers: never forwarded by a proxy.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"]);

function forwardable(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

const contentType = (headers: IncomingHttpHeaders): string | undefined => headers["content-type"] ?? undefined;

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startRecordingProxy(target: string, options: RecordingProxyOptions = {}): Promise<RecordingProxy> {
  const targetUrl = new URL(target);
  if (targetUrl.protocol !== "http:") throw new Error(`recording proxy forwards to http:// targets only, got ${targetUrl.protocol}`);
  const prefix = targetUrl.pathname.replace(/\/+$/, "");
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const agent = new Agent({ keepAlive: true });
  const exchanges: RecordedExchange[] = [];
  let seq = 0;

  const server = createServer(async (req, res) => {
    const exchange: RecordedExchange = {
      seq: seq++,
      method: (req.method ?? "GET").toUpperCase(),
      url: req.url ?? "/",
      requestContentType: contentType(req.headers),
      requestText: "",
      status: 0,
      responseText: "",
      truncated: false,
    };
    let requestBody: Buffer;
    try {
      requestBody = await readAll(req);
    } catch (error) {
      exchange.error = `client request aborted: ${(error as Error).message}`;
      exchanges.push(exchange);
      return;
    }
    exchange.requestText = requestBody.toString("utf8");

    const headers = forwardable(req.headers);
    headers.host = targetUrl.host;
    headers["content-length"] = String(requestBody.length);
    const upstream = httpRequest({
      agent,
      protocol: targetUrl.protocol,
      hostname: targetUrl.hostname,
      port: targetUrl.port,
      method: exchange.method,
      path: prefix + exchange.url,
      headers,
    });
    // The client went away: stop the upstream call too.
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });

    let recorded = false;
    const record = (error?: string): void => {
      if (recorded) return;
      recorded = true;
      if (error) exchange.error = error;
      exchanges.push(exchange);
    };

    upstream.on("response", (answer) => {
      exchange.status = answer.statusCode ?? 0;
      exchange.responseContentType = contentType(answer.headers);
      res.writeHead(exchange.status, forwardable(answer.headers));
      const kept: Buffer[] = [];
      let keptBytes = 0;
      const keep = (): void => {
        exchange.responseText = Buffer.concat(kept).toString("utf8");
      };
      answer.on("data", (chunk: Buffer) => {
        if (keptBytes < maxBodyBytes) {
          const part = chunk.subarray(0, maxBodyBytes - keptBytes);
          kept.push(part);
          keptBytes += part.length;
          if (part.length < chunk.length) exchange.truncated = true;
        } else {
          exchange.truncated = true;
        }
        res.write(chunk);
      });
      answer.on("end", () => {
        keep();
        record();
        res.end();
      });
      answer.on("error", () => {});
      // A reset mid-body shows up as "close" without "end" (and, depending on timing, an "error").
      answer.on("close", () => {
        if (answer.complete) return;
        keep();
        record("upstream response ended before its body was complete");
        res.destroy();
      });
    });
    upstream.on("error", (error) => {
      if (exchange.status !== 0) return; // the response's own handlers record it
      record(`upstream request failed: ${error.message}`);
      if (!res.headersSent) {
        res.writeHead(502, { "content-type": "application/json" });
        res.end(JSON.stringify({ errors: ["recording proxy: upstream request failed"] }));
      } else {
        res.destroy();
      }
    });
    upstream.end(requestBody);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closed: Promise<void> | undefined;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    exchanges,
    clear: () => {
      exchanges.length = 0;
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      });
      return closed;
    },
  };
}
