/**
 * The invocation path of the hosted runtime (HOSTED-LAMBDA.md §1.4, §4): per invocation, in the SDK's order,
 * decode the envelope (an undecodable event is a function error), apply the config-reload rules for
 * `x-baton-connector-config-version` (runtime.acquire: a failed reload answers UNAVAILABLE, always in legacy
 * protojson), then dispatch — method, request, deadline, invocation JWT, the connector — and answer in the
 * request's encoding. A bug anywhere becomes INTERNAL "Internal Server Error", never a crashed invocation.
 * The Lambda handler (./handler.ts) and `lambda` (./lambda-command.ts) load this module at cold start.
 */
import { anyPack } from "@bufbuild/protobuf/wkt";
import type { Logger } from "pino";
import { Code, ConnectorError } from "../connector/errors.ts";
import type { ConnectorRpc } from "../connector/rpc.ts";
import { StatusSchema } from "../gen/google/rpc/status_pb.js";
import type { Response } from "../gen/c1/transport/v1/transport_pb.js";
import { createInvocationVerifier, type InvocationVerifier } from "./auth.ts";
import type { HostedConnectorDefinition } from "./definition.ts";
import { decodeEvent, encodeResponse, EnvelopeError, firstHeader, readHeaders, response, type Encoding } from "./envelope.ts";
import { dispatch, internalErrorResponse } from "./dispatch.ts";
import { status } from "./status.ts";

export const CONFIG_VERSION_HEADER = "x-baton-connector-config-version";

/** What the invocation path needs of the runtime (src/hosted/runtime.ts's HostedRuntime has it). */
export interface InvocationRuntime {
  acquire(requestedVersion: string | undefined, signal?: AbortSignal): Promise<{ generation: { readonly rpc: ConnectorRpc; readonly logger?: Logger }; release(): void }>;
}

export interface InvocationOptions {
  /** ms left of the invocation; Infinity when unknown. */
  remainingMs?: number;
  signal?: AbortSignal;
}

export type InvokeFn = (event: unknown, options?: InvocationOptions) => Promise<unknown>;

/** The reload failure's answer (§1.4): UNAVAILABLE with the SDK's prefix unless the runtime already gave a status. */
function reloadFailure(err: unknown): Response {
  const st =
    err instanceof ConnectorError
      ? status(err.code === Code.OK ? Code.UNAVAILABLE : err.code, err.message)
      : status(Code.UNAVAILABLE, `lambda-run: failed to reload connector config: ${err instanceof Error ? err.message : String(err)}`);
  return response({ status: anyPack(StatusSchema, st) });
}

function invocationSignal(opts: InvocationOptions): AbortSignal | undefined {
  const signals = [opts.signal, Number.isFinite(opts.remainingMs) ? AbortSignal.timeout(Math.max(0, opts.remainingMs!)) : undefined].filter(
    (s): s is AbortSignal => s !== undefined,
  );
  return signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
}

/** The invocation path over a started runtime and verifier (the Lambda handler and `baton-datadog lambda` share it). */
export function createInvocationHandler(runtime: InvocationRuntime, verifier: InvocationVerifier, options: { logger?: Logger } = {}): InvokeFn {
  return async (event, opts = {}) => {
    const { encoding, request } = decodeEvent(event); // EnvelopeError: a function error, as in Go
    let answerIn: Encoding = encoding;
    let logger = options.logger;
    let res: Response;
    const started = performance.now();
    try {
      const headers = readHeaders(request.headers);
      let lease: Awaited<ReturnType<InvocationRuntime["acquire"]>>;
      try {
        // A reload runs within the invocation's deadline (Go: the invocation context).
        lease = await runtime.acquire(firstHeader(headers, CONFIG_VERSION_HEADER) || undefined, invocationSignal(opts));
      } catch (err) {
        answerIn = "legacy"; // built outside the transport server in Go, hence never the v2 echo
        logger?.error({ err: err instanceof Error ? err.message : String(err) }, "config reload failed; the previous generation keeps serving");
        return encodeResponse(reloadFailure(err), answerIn);
      }
      try {
        logger = lease.generation.logger ?? logger;
        res = await dispatch(request, headers, { rpc: lease.generation.rpc, verifier, remainingMs: opts.remainingMs ?? Infinity, signal: opts.signal });
      } finally {
        lease.release();
      }
    } catch (err) {
      logger?.error({ err }, "hosted invocation failed outside the call");
      answerIn = "legacy";
      res = internalErrorResponse();
    }
    logger?.debug({ method: request.method.slice(0, 200), encoding, ms: Math.round(performance.now() - started) }, "invocation");
    try {
      return encodeResponse(res, answerIn);
    } catch (err) {
      // e.g. a response Any protojson cannot name: the answer still has to be a Response
      logger?.error({ err }, "the response could not be encoded");
      return encodeResponse(internalErrorResponse(), "legacy");
    }
  };
}

/** A started runtime with its invocation path; `close` ends the runtime. */
export interface StartedHosted {
  invoke: InvokeFn;
  close(): Promise<void>;
}

/** Cold start: the runtime (settings, token, config, connector) and then the invocation JWT verifier (§1.3). */
export async function startHosted<C>(def: HostedConnectorDefinition<C>, env: NodeJS.ProcessEnv, opts: { logger?: Logger; fetch?: typeof fetch } = {}): Promise<StartedHosted> {
  const t0 = performance.now();
  const { startHostedRuntime } = await import("./runtime.ts");
  const t1 = performance.now();
  const runtime = await startHostedRuntime(def, env, opts);
  let verifier: InvocationVerifier;
  const t2 = performance.now();
  try {
    verifier = await createInvocationVerifier(runtime.auth, { fetch: opts.fetch });
  } catch (err) {
    await runtime.close().catch(() => {});
    throw err;
  }
  // One line per cold start, for the function's logs: where the time went.
  runtime.logger.info(
    {
      coldStart: {
        runtimeLoadMs: Math.round(t1 - t0),
        ...Object.fromEntries(Object.entries(runtime.coldStart).map(([k, v]) => [k, Math.round(v)])),
        verifierMs: Math.round(performance.now() - t2),
        totalMs: Math.round(performance.now() - t0),
      },
    },
    "hosted cold start done",
  );
  return { invoke: createInvocationHandler(runtime, verifier, { logger: opts.logger ?? runtime.logger }), close: () => runtime.close() };
}

export { EnvelopeError };
