/**
 * The request pipeline: read body → latency → route → authenticate → rate limit → permission → faults →
 * handler → response. Only node:http; every answer is JSON in Datadog's shapes, errors as {"errors": [...]}.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { checkPermission, type Credentials, type Principal } from "./auth.ts";
import { ApiError } from "./errors.ts";
import { breakShape, type FaultSet, type FaultSpec, misstateTotal, statusText } from "./faults.ts";
import type { Org } from "./model.ts";
import type { RateLimiter } from "./rate-limit.ts";
import type { RouteContext, RouteDef, RouteResult, Router } from "./router.ts";
import { RECENT_REQUESTS, type SimulatorStats } from "./stats.ts";

const MAX_REQUEST_BODY = 1024 * 1024;
const DEFAULT_OVERSIZED_BYTES = 64 * 1024 * 1024;

export interface PipelineDeps {
  readonly router: Router;
  readonly org: Org;
  readonly credentials: Credentials;
  readonly rateLimiter: RateLimiter;
  readonly faults: FaultSet;
  readonly stats: SimulatorStats;
  readonly latencyMs: () => number;
  readonly baseUrl: () => string;
  /** Aborted when the simulator closes, so pending sleeps end instead of holding the process. */
  readonly closing: AbortSignal;
}

type Headers = Record<string, string>;

export function createSimulatorServer(deps: PipelineDeps): Server {
  const server = createServer((req, res) => {
    handle(deps, req, res).catch((error: unknown) => {
      // A client that went away mid-request, or a simulator shutting down, is not an error worth reporting.
      if (deps.closing.aborted || req.destroyed || res.destroyed) return;
      // A bug in a handler: answer 500 rather than hang the client; the message holds no request data.
      process.stderr.write(`datadog simulator: internal error: ${error instanceof Error ? error.stack : String(error)}\n`);
      if (!res.headersSent && !res.destroyed) send(deps, res, 500, { errors: ["Internal Server Error"] });
      else res.destroy();
    });
  });
  // Longer than typical client keep-alive, so the client, not the server, closes idle sockets (no reset races).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;
  return server;
}

async function handle(deps: PipelineDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { stats } = deps;
  stats.requests++;
  stats.inFlight++;
  stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
  res.once("close", () => {
    stats.inFlight--;
  });
  res.on("error", () => {});

  const rawBody = await readBody(req);
  if (rawBody === null) {
    res.setHeader("connection", "close");
    return send(deps, res, 413, { errors: ["Request body too large"] });
  }
  const latency = deps.latencyMs();
  if (latency > 0 && !(await pause(deps, latency))) return;

  const method = (req.method ?? "GET").toUpperCase();
  const url = new URL(req.url ?? "/", deps.baseUrl());
  const match = deps.router.match(method, url.pathname);
  const operation = match ? `${method} ${match.def.template}` : "UNMATCHED";
  stats.byOperation[operation] = (stats.byOperation[operation] ?? 0) + 1;
  stats.recent.push(`${method} ${req.url ?? "/"}`);
  if (stats.recent.length > RECENT_REQUESTS) stats.recent.splice(0, stats.recent.length - RECENT_REQUESTS);
  if (!match) return send(deps, res, 404, { errors: ["Not found"] });
  const { def, params } = match;

  let principal: Principal | null;
  try {
    principal = deps.credentials.authenticate(req.headers, def.auth ?? "keys");
  } catch (error) {
    return sendError(deps, res, error, {});
  }

  let rateHeaders: Headers = {};
  if (def.rateLimit) {
    const decision = deps.rateLimiter.take(def.rateLimit);
    if (decision) {
      rateHeaders = decision.headers;
      if (!decision.allowed) return send(deps, res, 429, { errors: ["Too many requests"] }, rateHeaders);
    }
  }
  try {
    checkPermission(principal, def.permissions);
  } catch (error) {
    return sendError(deps, res, error, rateHeaders);
  }

  const requestedPage = pageNumber(url.searchParams);
  const fault = deps.faults.take(method, url.pathname, (spec) => applies(spec, def, requestedPage));
  const ctxFor = (u: URL): RouteContext => ({
    method,
    url: u,
    params,
    query: u.searchParams,
    headers: req.headers,
    rawBody,
    org: deps.org,
    baseUrl: deps.baseUrl(),
    principal,
  });

  switch (fault?.kind) {
    case "status": {
      const status = fault.status ?? 500;
      return send(deps, res, status, { errors: [statusText(status)] }, rateHeaders);
    }
    case "429-no-headers":
      return send(deps, res, 429, { errors: ["Too many requests"] });
    case "oversized":
      return sendOversized(deps, res, fault.bytes ?? DEFAULT_OVERSIZED_BYTES, rateHeaders);
    case "slow":
      if (fault.delayMs !== undefined) {
        if (!(await pause(deps, fault.delayMs))) return;
        break;
      }
      return hangMidBody(deps, res, await run(def, ctxFor(url)), rateHeaders);
    case "reset":
      return resetMidBody(deps, res, await run(def, ctxFor(url)), rateHeaders);
  }

  let result: RouteResult;
  if (fault?.kind === "repeat-page") {
    result = await run(def, ctxFor(withPage(url, 0)));
    const links = (result.body as { links?: Record<string, unknown> } | undefined)?.links;
    if (result.status === 200 && links) links.next = withPage(url, (requestedPage ?? 0) + 1).toString();
  } else {
    result = await run(def, ctxFor(url));
  }
  if (fault?.kind === "duplicate" && result.status === 200 && requestedPage !== null) {
    const previous = await run(def, ctxFor(withPage(url, requestedPage - 1)));
    const prevData = (previous.body as { data?: unknown[] } | undefined)?.data;
    const data = (result.body as { data?: unknown[] } | undefined)?.data;
    if (Array.isArray(prevData) && prevData.length > 0 && Array.isArray(data)) data.unshift(prevData[prevData.length - 1]);
  }
  if (fault?.kind === "total" && result.body !== undefined) result.body = misstateTotal(result.body, fault.total ?? 0);
  if (fault?.kind === "wrong-shape" && result.body !== undefined) result.body = breakShape(result.body, fault.variant ?? "drop-required");
  if (fault?.kind === "malformed") {
    const payload = JSON.stringify(result.body ?? { data: [] });
    return sendRaw(deps, res, result.status === 204 ? 200 : result.status, payload.slice(0, Math.max(1, Math.floor(payload.length / 2))), {
      ...rateHeaders,
      ...result.headers,
    });
  }
  send(deps, res, result.status, result.body, { ...rateHeaders, ...result.headers });
}

/**
 * Datadog's error answer for a handler's ApiError: JSON:API error objects on the routes that send them (team and
 * on-call: `{"errors":[{"status":"409","title":"Conflict","detail":"…"}]}`), plain strings elsewhere.
 */
function errorBody(def: RouteDef, error: ApiError): unknown {
  if (def.errorObjects !== true) return { errors: error.errors };
  const title = statusText(error.status);
  return { errors: error.errors.map((detail) => ({ status: String(error.status), title, detail })) };
}

/** Runs a handler; an ApiError becomes Datadog's error answer. */
async function run(def: RouteDef, ctx: RouteContext): Promise<RouteResult> {
  try {
    return await def.handler(ctx);
  } catch (error) {
    if (error instanceof ApiError) return { status: error.status, body: errorBody(def, error) };
    throw error;
  }
}

function applies(spec: FaultSpec, def: RouteDef, page: number | null): boolean {
  if (spec.kind === "repeat-page") return def.paged === true;
  if (spec.kind === "duplicate") return def.paged === true && page !== null && page >= 1;
  return true;
}

function pageNumber(query: URLSearchParams): number | null {
  const raw = query.get("page[number]");
  if (raw === null) return 0;
  return /^\d+$/.test(raw) ? Number(raw) : null;
}

function withPage(url: URL, page: number): URL {
  const copy = new URL(url);
  copy.searchParams.set("page[number]", String(page));
  return copy;
}

async function pause(deps: PipelineDeps, ms: number): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal: deps.closing });
    return true;
  } catch {
    return false;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BODY) tooLarge = true;
    else chunks.push(chunk);
  }
  return tooLarge ? null : Buffer.concat(chunks);
}

function record(deps: PipelineDeps, status: number): void {
  deps.stats.byStatus[status] = (deps.stats.byStatus[status] ?? 0) + 1;
  if (status === 429) deps.stats.http429++;
}

function sendError(deps: PipelineDeps, res: ServerResponse, error: unknown, headers: Headers): void {
  if (!(error instanceof ApiError)) throw error;
  send(deps, res, error.status, { errors: error.errors }, headers);
}

function send(deps: PipelineDeps, res: ServerResponse, status: number, body: unknown, headers: Headers = {}): void {
  if (status === 204 || body === undefined) {
    if (res.destroyed) return;
    record(deps, status);
    res.writeHead(status, headers);
    res.end();
    return;
  }
  sendRaw(deps, res, status, JSON.stringify(body), headers);
}

function sendRaw(deps: PipelineDeps, res: ServerResponse, status: number, payload: string, headers: Headers): void {
  if (res.destroyed) return;
  record(deps, status);
  const bytes = Buffer.from(payload, "utf8");
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": String(bytes.length) });
  res.end(bytes);
}

/** Headers and half the body, then the socket is destroyed: the client sees a connection reset mid-body. */
function resetMidBody(deps: PipelineDeps, res: ServerResponse, result: RouteResult, headers: Headers): void {
  if (res.destroyed) return;
  record(deps, 0);
  const bytes = Buffer.from(JSON.stringify(result.body ?? { data: [] }), "utf8");
  res.writeHead(result.status === 204 ? 200 : result.status, {
    ...headers,
    "content-type": "application/json",
    "content-length": String(bytes.length),
  });
  res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => res.socket?.destroy());
}

/** Headers and half the body, then nothing more until the client gives up or the simulator closes. */
function hangMidBody(deps: PipelineDeps, res: ServerResponse, result: RouteResult, headers: Headers): void {
  if (res.destroyed) return;
  record(deps, result.status);
  const bytes = Buffer.from(JSON.stringify(result.body ?? { data: [] }), "utf8");
  res.writeHead(result.status === 204 ? 200 : result.status, {
    ...headers,
    "content-type": "application/json",
    "content-length": String(bytes.length),
  });
  res.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
}

/** A well-formed but huge JSON body, streamed with back-pressure so the simulator itself stays small. */
async function sendOversized(deps: PipelineDeps, res: ServerResponse, total: number, headers: Headers): Promise<void> {
  if (res.destroyed) return;
  record(deps, 200);
  const head = Buffer.from('{"data":[],"meta":{"padding":"');
  const tail = Buffer.from('"}}');
  const padding = Math.max(0, total - head.length - tail.length);
  res.writeHead(200, {
    ...headers,
    "content-type": "application/json",
    "content-length": String(head.length + padding + tail.length),
  });
  res.write(head);
  const chunk = Buffer.alloc(64 * 1024, "x");
  let left = padding;
  while (left > 0) {
    if (res.destroyed || deps.closing.aborted) return;
    const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
    left -= piece.length;
    if (!res.write(piece) && !(await drainOrClose(res))) return;
  }
  res.end(tail);
}

/** True once the response can take more data, false if it closed first. Leaves no listener behind. */
function drainOrClose(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = (): void => {
      res.off("close", onClose);
      resolve(true);
    };
    const onClose = (): void => {
      res.off("drain", onDrain);
      resolve(false);
    };
    res.once("drain", onDrain);
    res.once("close", onClose);
  });
}
