/**
 * A local AWS Lambda Runtime API (2018-06-01) on loopback HTTP, for running `baton-datadog lambda` the way a
 * container-image function runs: the process long-polls `GET /runtime/invocation/next`, answers with
 * `POST /runtime/invocation/{id}/response` or `/error`, and reports a failed cold start with
 * `POST /runtime/init/error`. `invoke(payload)` queues an event and resolves with what the function answered.
 *
 * As Lambda does: one invocation at a time per runtime, the next event only after the previous one was answered,
 * 6 MiB response limit, a deadline per invocation (Lambda-Runtime-Deadline-Ms) after which the invocation counts
 * as timed out (`Task timed out after N seconds`).
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

const PREFIX = "/2018-06-01/runtime";
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;

export interface FunctionError {
  errorType: string;
  errorMessage: string;
  stackTrace?: unknown;
}

export type RuntimeInvokeResult =
  | { ok: true; requestId: string; payload: unknown; durationMs: number }
  | { ok: false; requestId: string; kind: "error" | "timeout" | "init-error" | "too-large" | "bad-response"; error: FunctionError; durationMs: number };

export interface InitErrorRecord {
  at: number;
  errorType: string | undefined;
  body: FunctionError | string;
}

export interface RuntimeApiEmulator {
  /** host:port, the value of AWS_LAMBDA_RUNTIME_API. */
  readonly address: string;
  /** Env a runtime client needs (AWS_LAMBDA_RUNTIME_API and the usual function metadata). */
  readonly env: Record<string, string>;
  /** Queues an event; resolves with the function's answer (never rejects for a function failure). */
  invoke(payload: unknown, opts?: { timeoutMs?: number; requestId?: string }): Promise<RuntimeInvokeResult>;
  /** Resolves when the function polls /next for the first time (its cold start is done) or reports an init error. */
  waitForReady(timeoutMs?: number): Promise<"ready" | "init-error">;
  initErrors: InitErrorRecord[];
  /** How many times /next was called. */
  readonly polls: number;
  /** Requests that broke the protocol (unknown id, answer twice, unknown path), for assertions. */
  protocolErrors: string[];
  close(): Promise<void>;
}

interface Pending {
  requestId: string;
  payload: Buffer;
  deadline: number;
  timeoutMs: number;
  started: number;
  resolve(result: RuntimeInvokeResult): void;
  timer?: NodeJS.Timeout;
}

const FUNCTION_ARN = "arn:aws:lambda:us-west-2:123456789012:function:baton-datadog-test";

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) over = true;
    else chunks.push(chunk as Buffer);
  }
  return over ? undefined : Buffer.concat(chunks);
}

export async function startRuntimeApiEmulator(opts: { defaultTimeoutMs?: number } = {}): Promise<RuntimeApiEmulator> {
  const queue: Pending[] = [];
  const inFlight = new Map<string, Pending>();
  const answered = new Set<string>();
  const waiters: ServerResponse[] = [];
  const readyListeners: ((state: "ready" | "init-error") => void)[] = [];
  const initErrors: InitErrorRecord[] = [];
  const protocolErrors: string[] = [];
  let polls = 0;

  const json = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };

  const settle = (p: Pending, result: RuntimeInvokeResult) => {
    clearTimeout(p.timer);
    inFlight.delete(p.requestId);
    answered.add(p.requestId);
    p.resolve(result);
  };

  const deliver = () => {
    while (waiters.length > 0 && queue.length > 0 && inFlight.size === 0) {
      const res = waiters.shift()!;
      if (res.destroyed) continue;
      const p = queue.shift()!;
      inFlight.set(p.requestId, p);
      p.started = Date.now();
      p.deadline = p.started + p.timeoutMs;
      p.timer = setTimeout(
        () =>
          settle(p, {
            ok: false,
            requestId: p.requestId,
            kind: "timeout",
            error: { errorType: "Sandbox.Timedout", errorMessage: `Task timed out after ${(p.timeoutMs / 1000).toFixed(2)} seconds` },
            durationMs: Date.now() - p.started,
          }),
        p.timeoutMs,
      );
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": p.payload.length,
        "lambda-runtime-aws-request-id": p.requestId,
        "lambda-runtime-deadline-ms": String(p.deadline),
        "lambda-runtime-invoked-function-arn": FUNCTION_ARN,
        "lambda-runtime-trace-id": `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${p.requestId.replace(/-/g, "").slice(0, 24)};Sampled=0`,
      });
      res.end(p.payload);
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "";
    if (req.method === "GET" && url === `${PREFIX}/invocation/next`) {
      polls++;
      for (const l of readyListeners.splice(0)) l("ready");
      // Long poll: the answer waits for an event; the socket has no timeout (Lambda's does not either).
      req.socket.setTimeout(0);
      waiters.push(res);
      deliver();
      return;
    }
    if (req.method === "POST" && url === `${PREFIX}/init/error`) {
      const body = await readBody(req, 1024 * 1024);
      let parsed: FunctionError | string = body?.toString("utf8") ?? "";
      try {
        parsed = JSON.parse(parsed) as FunctionError;
      } catch {
        // kept as text
      }
      initErrors.push({ at: Date.now(), errorType: req.headers["lambda-runtime-function-error-type"] as string | undefined, body: parsed });
      for (const l of readyListeners.splice(0)) l("init-error");
      // Lambda fails the invocations that were waiting for this sandbox.
      for (const p of [...queue.splice(0), ...inFlight.values()]) {
        settle(p, { ok: false, requestId: p.requestId, kind: "init-error", error: asError(parsed, "Runtime.InitError"), durationMs: 0 });
      }
      return json(res, 202, { status: "OK" });
    }
    const m = new RegExp(`^${PREFIX}/invocation/([^/]+)/(response|error)$`).exec(url);
    if (req.method === "POST" && m) {
      const id = decodeURIComponent(m[1]);
      const p = inFlight.get(id);
      const body = await readBody(req, m[2] === "response" ? MAX_RESPONSE_BYTES : 1024 * 1024);
      if (!p) {
        const why = answered.has(id) ? `invocation ${id} answered twice (or after its deadline)` : `unknown invocation id ${id}`;
        protocolErrors.push(why);
        return json(res, answered.has(id) ? 400 : 404, { errorType: "InvalidRequestID", errorMessage: why });
      }
      const durationMs = Date.now() - p.started;
      if (body === undefined) {
        settle(p, { ok: false, requestId: id, kind: "too-large", error: { errorType: "Function.ResponseSizeTooLarge", errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).` }, durationMs });
        return json(res, 413, { errorType: "RequestEntityTooLarge", errorMessage: "payload too large" });
      }
      if (m[2] === "error") {
        let parsed: FunctionError | string = body.toString("utf8");
        try {
          parsed = JSON.parse(parsed) as FunctionError;
        } catch {
          // kept as text
        }
        settle(p, { ok: false, requestId: id, kind: "error", error: asError(parsed, (req.headers["lambda-runtime-function-error-type"] as string) ?? "Unhandled"), durationMs });
        return json(res, 202, { status: "OK" });
      }
      let payload: unknown;
      try {
        payload = body.length === 0 ? null : JSON.parse(body.toString("utf8"));
      } catch {
        settle(p, { ok: false, requestId: id, kind: "bad-response", error: { errorType: "Runtime.InvalidResponse", errorMessage: "the response body is not JSON" }, durationMs });
        return json(res, 202, { status: "OK" });
      }
      settle(p, { ok: true, requestId: id, payload, durationMs });
      json(res, 202, { status: "OK" });
      deliver();
      return;
    }
    protocolErrors.push(`${req.method} ${url}`);
    json(res, 404, { errorType: "NotFound", errorMessage: `no ${req.method} ${url} in the Runtime API` });
  };

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      protocolErrors.push(String(err));
      if (!res.headersSent) json(res, 500, { errorType: "ServiceException", errorMessage: String(err) });
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    address,
    env: {
      AWS_LAMBDA_RUNTIME_API: address,
      AWS_LAMBDA_FUNCTION_NAME: "baton-datadog-test",
      AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "512",
      AWS_LAMBDA_LOG_GROUP_NAME: "/aws/lambda/baton-datadog-test",
      AWS_EXECUTION_ENV: "AWS_Lambda_nodejs24.x",
    },
    initErrors,
    protocolErrors,
    get polls() {
      return polls;
    },
    invoke(payload, o = {}) {
      return new Promise<RuntimeInvokeResult>((resolve) => {
        const text = JSON.stringify(payload);
        queue.push({
          requestId: o.requestId ?? randomUUID(),
          payload: Buffer.from(text === undefined ? "null" : text),
          timeoutMs: o.timeoutMs ?? opts.defaultTimeoutMs ?? 30_000,
          deadline: 0,
          started: 0,
          resolve,
        });
        deliver();
      });
    },
    waitForReady(timeoutMs = 30_000) {
      if (initErrors.length > 0) return Promise.resolve("init-error" as const);
      if (polls > 0) return Promise.resolve("ready" as const);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`runtime API emulator: the function did not poll /next within ${timeoutMs} ms`)), timeoutMs);
        readyListeners.push((state) => {
          clearTimeout(timer);
          resolve(state);
        });
      });
    },
    async close() {
      for (const p of [...queue.splice(0), ...inFlight.values()]) {
        settle(p, { ok: false, requestId: p.requestId, kind: "error", error: { errorType: "Emulator.Closed", errorMessage: "the emulator was closed" }, durationMs: 0 });
      }
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

function asError(body: FunctionError | string, fallbackType: string): FunctionError {
  if (typeof body === "object" && body !== null && typeof body.errorMessage === "string") {
    return { errorType: typeof body.errorType === "string" ? body.errorType : fallbackType, errorMessage: body.errorMessage, stackTrace: body.stackTrace };
  }
  return { errorType: fallbackType, errorMessage: String(typeof body === "string" ? body : JSON.stringify(body)) };
}
