/**
 * Method dispatch of a hosted invocation (HOSTED-LAMBDA.md §4.4–§4.6): the transport Request's `method` names a
 * c1.connector.v2 RPC; its `req` Any is unpacked into that RPC's request type, the call's deadline comes from
 * `grpc-timeout` and the invocation's own deadline, the invocation JWT is verified, and the connector's
 * ConnectorRpc — the same in-process implementation `serve` registers on its gRPC server — answers it.
 * Services `serve` registers empty (assets, events, tickets, actions) answer UNIMPLEMENTED the same way.
 */
import { create, fromBinary, type DescMethod, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import { anyPack, type Any } from "@bufbuild/protobuf/wkt";
import { Code, ConnectorError } from "../connector/errors.ts";
import { connectorServices, type ConnectorRpc } from "../connector/rpc.ts";
import { ActionService } from "../gen/c1/connector/v2/action_pb.js";
import { AssetService } from "../gen/c1/connector/v2/asset_pb.js";
import { EventService } from "../gen/c1/connector/v2/event_feed_pb.js";
import { TicketsService } from "../gen/c1/connector/v2/ticket_pb.js";
import { StatusSchema } from "../gen/google/rpc/status_pb.js";
import type { Request, Response } from "../gen/c1/transport/v1/transport_pb.js";
import type { InvocationVerifier } from "./auth.ts";
import { firstHeader, headerStruct, response, type HeaderMap } from "./envelope.ts";
import { INTERNAL_SERVER_ERROR, OK_STATUS, status, statusForError } from "./status.ts";

/**
 * Registered without an implementation, as in `serve` (src/grpc/connector-server.ts): their methods are UNIMPLEMENTED.
 * Whichever of them connectorServices implements is routed to the connector instead.
 */
const emptyServices: readonly DescService[] = [AssetService, EventService, TicketsService, ActionService].filter(
  (s) => !(connectorServices as readonly DescService[]).includes(s),
);

interface RoutedMethod {
  method: DescMethod;
  /** false for the empty services' methods */
  implemented: boolean;
}

/** service full name → unary method name → method. Streaming methods are not routable (Go: unknown method). */
const routes: ReadonlyMap<string, ReadonlyMap<string, RoutedMethod>> = (() => {
  const table = new Map<string, Map<string, RoutedMethod>>();
  const add = (service: DescService, implemented: boolean) => {
    const methods = new Map<string, RoutedMethod>();
    for (const method of service.methods) if (method.methodKind === "unary") methods.set(method.name, { method, implemented });
    table.set(service.typeName, methods);
  };
  for (const service of connectorServices) add(service, true);
  for (const service of emptyServices) add(service, false);
  return table;
})();

export class DispatchError extends ConnectorError {}

const MAX_NAME_IN_ERROR = 200;
const shown = (s: string) => (s.length > MAX_NAME_IN_ERROR ? `${s.slice(0, MAX_NAME_IN_ERROR)}…` : s);

/** `/pkg.Service/Method` (leading slash optional) split at the last `/`. */
export function parseMethod(fullMethod: string): { service: string; method: string } {
  const name = fullMethod.startsWith("/") ? fullMethod.slice(1) : fullMethod;
  const slash = name.lastIndexOf("/");
  if (slash === -1) throw new DispatchError(Code.UNIMPLEMENTED, `malformed method name: ${JSON.stringify(shown(fullMethod))}`);
  return { service: name.slice(0, slash), method: name.slice(slash + 1) };
}

export function resolveMethod(fullMethod: string): RoutedMethod {
  const { service, method } = parseMethod(fullMethod);
  const methods = routes.get(service);
  if (!methods) throw new DispatchError(Code.UNIMPLEMENTED, `unknown service ${shown(service)}`);
  const routed = methods.get(method);
  if (!routed) throw new DispatchError(Code.UNIMPLEMENTED, `unknown method ${shown(method)} for service ${service}`);
  return routed;
}

/** The request Any as the method's input message; the type must be exactly that message. */
export function unpackRequest(method: DescMethod, req: Any | undefined) {
  const fail = (why: string, cause?: unknown) => new DispatchError(Code.INTERNAL, `failed to unmarshal request: ${why}`, { cause });
  if (!req || req.typeUrl === "") throw fail("the request has no req (an empty Any)");
  const typeName = req.typeUrl.slice(req.typeUrl.lastIndexOf("/") + 1);
  if (typeName !== method.input.typeName) {
    throw fail(`mismatched message type: got ${JSON.stringify(shown(typeName))}, want ${JSON.stringify(method.input.typeName)}`);
  }
  try {
    return fromBinary(method.input, req.value);
  } catch (err) {
    throw fail((err as Error).message, err);
  }
}

const TIMEOUT_UNITS_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** gRPC's `grpc-timeout` (1–8 digits, optionally signed, and a unit) in ms; a negative value is already expired. */
export function parseGrpcTimeout(value: string): number {
  const m = /^([+-]?\d+)([HMSmun])$/.exec(value);
  const digits = m?.[1].replace(/^[+-]/, "") ?? "";
  if (!m || digits.length < 1 || m[1].length > 8) throw new DispatchError(Code.INTERNAL, `malformed grpc-timeout: ${JSON.stringify(shown(value))}`);
  return Number(m[1]) * TIMEOUT_UNITS_MS[m[2]];
}

/** A signal that fires at the earliest of the deadlines; `dispose` clears its timer. */
function deadlineSignal(deadlinesMs: number[]): { signal: AbortSignal; expired: () => boolean; dispose(): void } {
  const controller = new AbortController();
  const ms = Math.min(...deadlinesMs);
  let expired = false;
  const fire = () => {
    expired = true;
    controller.abort(new ConnectorError(Code.DEADLINE_EXCEEDED, "context deadline exceeded"));
  };
  let timer: NodeJS.Timeout | undefined;
  if (ms <= 0) fire();
  else if (Number.isFinite(ms)) timer = setTimeout(fire, Math.min(ms, 2 ** 31 - 1));
  return { signal: controller.signal, expired: () => expired, dispose: () => clearTimeout(timer) };
}

export interface DispatchContext {
  rpc: ConnectorRpc;
  verifier: InvocationVerifier;
  /** ms left of the invocation (the Lambda deadline); Infinity when unknown. */
  remainingMs: number;
  /** Aborted when the whole invocation is given up (e.g. the runtime shuts down). */
  signal?: AbortSignal;
}

function errorResponse(err: unknown, deadline?: { expired: boolean; cancelled: boolean }): Response {
  return response({ status: anyPack(StatusSchema, statusForError(err, deadline)) });
}

/**
 * Answers one transport Request. Never throws for a call that fails: the failure is the Response's status
 * (errors carry only `status`; success carries resp, OK status and empty header/trailer Structs).
 */
export async function dispatch(request: Request, headers: HeaderMap, ctx: DispatchContext): Promise<Response> {
  let routed: RoutedMethod;
  let input: ReturnType<typeof unpackRequest>;
  const deadlines = [ctx.remainingMs];
  try {
    routed = resolveMethod(request.method);
    input = unpackRequest(routed.method, request.req);
    const timeout = firstHeader(headers, "grpc-timeout");
    if (timeout !== undefined) deadlines.push(parseGrpcTimeout(timeout));
  } catch (err) {
    return errorResponse(err);
  }
  const deadline = deadlineSignal(deadlines);
  const signal = ctx.signal ? AbortSignal.any([deadline.signal, ctx.signal]) : deadline.signal;
  try {
    await ctx.verifier.verify(headers);
    signal.throwIfAborted();
    const { method, implemented } = routed;
    const fn = implemented ? (ctx.rpc as unknown as Record<string, RpcFn | undefined>)[method.localName] : undefined;
    if (!fn) throw new ConnectorError(Code.UNIMPLEMENTED, `${method.parent.typeName}/${method.name} is not implemented by this server`);
    const result = await fn.call(ctx.rpc, input, { signal });
    return response({
      resp: anyPack(method.output, create(method.output, result as MessageInitShape<typeof method.output>)),
      status: anyPack(StatusSchema, OK_STATUS),
      headers: headerStruct(),
      trailers: headerStruct(),
    });
  } catch (err) {
    return errorResponse(err, { expired: deadline.expired(), cancelled: signal.aborted && !deadline.expired() });
  } finally {
    deadline.dispose();
  }
}

type RpcFn = (req: unknown, opts: { signal: AbortSignal }) => Promise<unknown>;

/** A failure outside any call's handling (Go: a recovered panic): INTERNAL with a fixed message. */
export function internalErrorResponse(): Response {
  return response({ status: anyPack(StatusSchema, status(Code.INTERNAL, INTERNAL_SERVER_ERROR)) });
}
