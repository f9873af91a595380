/**
 * A client of the AWS Lambda Runtime API (2018-06-01), for container-image functions: `baton-datadog lambda` runs
 * the same invocation path as the nodejs24.x handler, one invocation at a time —
 * GET /runtime/invocation/next (long poll) → invoke → POST /runtime/invocation/{id}/response, or /error for a
 * function error (an undecodable event), and POST /runtime/init/error when the cold start fails.
 * Events are bounded (Lambda's own payload limit is 6 MiB); the request id is checked before it goes in a path.
 */
import { Agent, request } from "undici";
import type { Logger } from "pino";
import type { InvokeFn } from "./invocation.ts";

const API_VERSION = "2018-06-01";
/** Lambda caps a synchronous invoke payload at 6 MiB; a little slack for the encoding, no more. */
export const MAX_EVENT_BYTES = 7 * 1024 * 1024;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Failures of the Runtime API itself tried again before giving up (the runtime is local; it does not flap). */
const MAX_API_FAILURES = 5;

export class RuntimeApiError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RuntimeApiError";
  }
}

/** `host:port` from AWS_LAMBDA_RUNTIME_API, checked so that nothing but a host and port goes into the URL. */
export function runtimeApiBase(value: string | undefined): string {
  if (!value) throw new RuntimeApiError("AWS_LAMBDA_RUNTIME_API is not set: `lambda` runs inside a Lambda function (or under a Runtime API emulator), which sets it");
  if (!/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/.test(value)) {
    throw new RuntimeApiError(`AWS_LAMBDA_RUNTIME_API must be host:port (got ${JSON.stringify(value.slice(0, 100))})`);
  }
  return `http://${value}/${API_VERSION}/runtime`;
}

/** What an error report carries (the Lambda error shape); the message is the error's, never a stack. */
function errorBody(err: unknown): { errorMessage: string; errorType: string } {
  const e = err instanceof Error ? err : new Error(String(err));
  return { errorMessage: e.message, errorType: e.name || "Error" };
}

export interface RuntimeApiClient {
  /** Reports a failed cold start (POST /runtime/init/error). */
  initError(err: unknown): Promise<void>;
  /** Serves invocations one at a time until `signal` aborts (resolves) or the Runtime API fails for good (rejects). */
  serve(invoke: InvokeFn, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export function runtimeApiClient(api: string, options: { logger?: Logger } = {}): RuntimeApiClient {
  const base = runtimeApiBase(api);
  // The next-invocation call is a long poll: no headers or body timeout on it.
  const dispatcher = new Agent({ headersTimeout: 0, bodyTimeout: 0, connections: 2 });
  const { logger } = options;

  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await request(`${base}${path}`, {
      method: "POST",
      dispatcher,
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new RuntimeApiError(`Runtime API POST ${path}: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
  };

  const next = async (signal: AbortSignal | undefined) => {
    const res = await request(`${base}/invocation/next`, { method: "GET", dispatcher, signal });
    const header = (name: string) => {
      const v = res.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_EVENT_BYTES) {
        res.body.destroy();
        break;
      }
      chunks.push(chunk as Buffer);
    }
    if (res.statusCode !== 200) throw new RuntimeApiError(`Runtime API GET /invocation/next: HTTP ${res.statusCode}`);
    const requestId = header("lambda-runtime-aws-request-id") ?? "";
    if (!REQUEST_ID.test(requestId)) throw new RuntimeApiError("Runtime API gave an invocation without a usable Lambda-Runtime-Aws-Request-Id");
    const deadline = Number(header("lambda-runtime-deadline-ms"));
    const trace = header("lambda-runtime-trace-id");
    return { requestId, deadlineMs: Number.isFinite(deadline) ? deadline : undefined, trace, body: size > MAX_EVENT_BYTES ? undefined : Buffer.concat(chunks), size };
  };

  return {
    async initError(err) {
      await post("/init/error", errorBody(err), { "lambda-runtime-function-error-type": "Runtime.InitError" });
    },

    async serve(invoke, signal) {
      let failures = 0;
      while (!signal?.aborted) {
        let inv;
        try {
          inv = await next(signal);
          failures = 0;
        } catch (err) {
          if (signal?.aborted) return;
          if (++failures >= MAX_API_FAILURES) throw new RuntimeApiError(`Runtime API unusable: ${(err as Error).message}`, { cause: err });
          logger?.warn({ err: (err as Error).message, failures }, "Runtime API next-invocation call failed; trying again");
          await new Promise((r) => setTimeout(r, 100 * failures));
          continue;
        }
        const path = `/invocation/${encodeURIComponent(inv.requestId)}`;
        if (inv.trace) process.env._X_AMZN_TRACE_ID = inv.trace;
        let result: unknown;
        try {
          if (!inv.body) throw new Error(`the event is larger than ${MAX_EVENT_BYTES} bytes`);
          let event: unknown;
          try {
            event = JSON.parse(inv.body.toString("utf8"));
          } catch (err) {
            throw Object.assign(new Error(`the event is not JSON: ${(err as Error).message}`), { name: "Runtime.UnmarshalError" });
          }
          const remainingMs = inv.deadlineMs === undefined ? Infinity : inv.deadlineMs - Date.now();
          result = await invoke(event, { remainingMs, signal });
        } catch (err) {
          // A function error (an event that is no transport Request): the platform reads errorType/errorMessage.
          logger?.warn({ requestId: inv.requestId, err: (err as Error).message }, "invocation failed with a function error");
          await post(`${path}/error`, errorBody(err), { "lambda-runtime-function-error-type": "Unhandled" }).catch((e: unknown) =>
            logger?.error({ err: (e as Error).message }, "could not report the function error"),
          );
          continue;
        }
        try {
          await post(`${path}/response`, result);
        } catch (err) {
          // e.g. 413: the answer is larger than Lambda accepts; say so as the invocation's error.
          logger?.error({ requestId: inv.requestId, err: (err as Error).message }, "could not post the response");
          await post(`${path}/error`, errorBody(err), { "lambda-runtime-function-error-type": "Unhandled" }).catch(() => {});
        }
      }
    },

    close: () => dispatcher.close(),
  };
}
