/**
 * The one bridge between protobuf-es v2 service descriptors and @grpc/grpc-js: a service definition built from a
 * DescService (binary codec = fastToBinary/fromBinary: toBinary's bytes, written faster), typed server implementations with an AbortSignal per call,
 * and typed clients. Errors cross as ConnectorError <-> gRPC status (see ./status.ts).
 */
import { once } from "node:events";
import * as grpc from "@grpc/grpc-js";
import {
  create,
  fromBinary,
  type DescMessage,
  type DescMethod,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { Code, ConnectorError } from "../connector/errors.ts";
import { fromGrpcError, toGrpcStatus } from "./status.ts";
import { fastToBinary } from "../wire/fast-binary.ts";

// ---------------------------------------------------------------------------------------------------------------
// Service definition

function serializer(schema: DescMessage) {
  return (message: unknown): Buffer => {
    const bytes = fastToBinary(schema, message as MessageShape<DescMessage>);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer(schema: DescMessage) {
  return (bytes: Buffer): unknown => fromBinary(schema, bytes);
}

/** gRPC path of a method: `/<package>.<Service>/<Rpc>`. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** A grpc-js service definition for a protobuf-es service, keyed by the methods' localName. */
export function grpcServiceDefinition(service: DescService): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: methodPath(method),
      originalName: method.name,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: serializer(method.input),
      requestDeserialize: deserializer(method.input),
      responseSerialize: serializer(method.output),
      responseDeserialize: deserializer(method.output),
    };
  }
  return definition;
}

// ---------------------------------------------------------------------------------------------------------------
// Server

export type CallContext = {
  /** Aborted when the client cancels, the deadline passes or the connection drops. */
  signal: AbortSignal;
  /** Request metadata (headers). */
  metadata: grpc.Metadata;
  peer: string;
  service: DescService;
  method: DescMethod;
};

type Awaitable<T> = T | Promise<T>;

type MethodImpl<M extends DescMethod> = M["methodKind"] extends "unary"
  ? (req: MessageShape<M["input"]>, ctx: CallContext) => Awaitable<MessageInitShape<M["output"]>>
  : M["methodKind"] extends "client_streaming"
    ? (reqs: AsyncIterable<MessageShape<M["input"]>>, ctx: CallContext) => Awaitable<MessageInitShape<M["output"]>>
    : M["methodKind"] extends "server_streaming"
      ? (req: MessageShape<M["input"]>, ctx: CallContext) => AsyncIterable<MessageInitShape<M["output"]>>
      : (reqs: AsyncIterable<MessageShape<M["input"]>>, ctx: CallContext) => AsyncIterable<MessageInitShape<M["output"]>>;

/** A server implementation: one function per RPC, named by the method's localName (e.g. `listResources`). */
export type ServiceImpl<S extends DescService> = { [K in keyof S["method"]]: MethodImpl<S["method"][K]> };

/**
 * What an interceptor sees: `request` is the request message (unary, server streaming) or an AsyncIterable of
 * them (client/bidi streaming); the result is the response message, or an AsyncIterable for streaming responses.
 */
export type ServerHandler = (request: unknown, ctx: CallContext) => Promise<unknown>;
/** Wraps a handler, like connect-es interceptors: `(next) => async (req, ctx) => { ...; return next(req, ctx); }`. */
export type ServerInterceptorFn = (next: ServerHandler) => ServerHandler;

export type AddServiceOptions = {
  /** Applied outermost first. */
  interceptors?: ServerInterceptorFn[];
  /** Called with errors that are not ConnectorErrors (they reach the client as INTERNAL), e.g. to log them. */
  onInternalError?: (err: unknown, method: DescMethod) => void;
};

type AnyImpl = (request: unknown, ctx: CallContext) => unknown;

/** Registers a protobuf-es service on a grpc-js server. Methods missing from `impl` answer UNIMPLEMENTED. */
export function addService<S extends DescService>(
  server: grpc.Server,
  service: S,
  impl: Partial<ServiceImpl<S>>,
  options: AddServiceOptions = {},
): void {
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const fn = (impl as Record<string, AnyImpl | undefined>)[method.localName];
    const base: ServerHandler = fn
      ? async (request, ctx) => fn.call(impl, request, ctx)
      : async () => {
          throw new ConnectorError(
            Code.UNIMPLEMENTED,
            `${method.parent.typeName}/${method.name} is not implemented by this server`,
          );
        };
    const handler = (options.interceptors ?? []).reduceRight<ServerHandler>((next, wrap) => wrap(next), base);
    handlers[method.localName] = serverHandler(service, method, handler, options);
  }
  server.addService(grpcServiceDefinition(service), handlers);
}

/** What every grpc-js server call has in common. */
type AnyServerCall = Pick<grpc.ServerUnaryCall<unknown, unknown>, "cancelled" | "metadata" | "getPeer"> & {
  once(event: "cancelled", listener: () => void): unknown;
};

function callContext(call: AnyServerCall, service: DescService, method: DescMethod): CallContext {
  const controller = new AbortController();
  const abort = () => controller.abort(new ConnectorError(Code.CANCELLED, "call cancelled by the client or deadline"));
  if (call.cancelled) abort();
  else call.once("cancelled", abort);
  return { signal: controller.signal, metadata: call.metadata, peer: call.getPeer(), service, method };
}

function serverHandler(
  service: DescService,
  method: DescMethod,
  handler: ServerHandler,
  options: AddServiceOptions,
): grpc.UntypedHandleCall {
  const failed = (err: unknown) => {
    if (!(err instanceof ConnectorError)) options.onInternalError?.(err, method);
    return toGrpcStatus(err);
  };
  const respond = (value: unknown) => create(method.output, value as MessageInitShape<DescMessage>);

  switch (method.methodKind) {
    case "unary":
    case "client_streaming":
      return (
        call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        const ctx = callContext(call, service, method);
        const request = method.methodKind === "unary"
          ? (call as grpc.ServerUnaryCall<unknown, unknown>).request
          : requestStream(call as grpc.ServerReadableStream<unknown, unknown>);
        handler(request, ctx)
          .then(respond) // inside the chain: a response that cannot be built is an error too
          .then(
            (res) => callback(null, res),
            (err: unknown) => callback(failed(err)),
          );
      };
    case "server_streaming":
    case "bidi_streaming":
      return async (call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>) => {
        const ctx = callContext(call, service, method);
        const request = method.methodKind === "server_streaming"
          ? (call as grpc.ServerWritableStream<unknown, unknown>).request
          : requestStream(call as grpc.ServerDuplexStream<unknown, unknown>);
        try {
          const responses = (await handler(request, ctx)) as AsyncIterable<unknown>;
          for await (const res of responses) {
            if (ctx.signal.aborted) return;
            if (!call.write(respond(res))) await drained(call, ctx.signal);
          }
          call.end();
        } catch (err) {
          if (!ctx.signal.aborted) call.emit("error", failed(err));
        }
      };
  }
}

/** The client's messages as an AsyncIterable (the call stream is a Readable of decoded messages). */
async function* requestStream(call: NodeJS.ReadableStream): AsyncIterable<unknown> {
  yield* call as AsyncIterable<unknown>;
}

async function drained(stream: NodeJS.EventEmitter, signal: AbortSignal): Promise<void> {
  try {
    await once(stream, "drain", { signal });
  } catch {
    // aborted: the caller checks the signal
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Client

export type CallOptions = {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Merged over the client's metadata. */
  metadata?: grpc.Metadata;
};

type ClientMethod<M extends DescMethod> = M["methodKind"] extends "unary"
  ? (req: MessageInitShape<M["input"]>, opts?: CallOptions) => Promise<MessageShape<M["output"]>>
  : M["methodKind"] extends "client_streaming"
    ? (reqs: AsyncIterable<MessageInitShape<M["input"]>>, opts?: CallOptions) => Promise<MessageShape<M["output"]>>
    : M["methodKind"] extends "server_streaming"
      ? (req: MessageInitShape<M["input"]>, opts?: CallOptions) => AsyncIterable<MessageShape<M["output"]>>
      : (reqs: AsyncIterable<MessageInitShape<M["input"]>>, opts?: CallOptions) => AsyncIterable<MessageShape<M["output"]>>;

/** A typed client: one function per RPC named by localName, plus `close()` and the underlying `channel`. */
export type ServiceClient<S extends DescService> = { [K in keyof S["method"]]: ClientMethod<S["method"][K]> } & {
  /** Closes the channel unless it was passed in (shared channels are closed by their owner). */
  close(): void;
  readonly channel: grpc.Channel;
};

export type ClientOptions = {
  /** Metadata sent with every call (e.g. `authorization`), resolved per call so tokens can refresh. */
  metadata?: () => grpc.Metadata | Promise<grpc.Metadata>;
  channelOptions?: grpc.ChannelOptions;
  /** Deadline for calls that set no `timeoutMs`; none when unset. */
  defaultTimeoutMs?: number;
};

/**
 * A typed client for `service`. `target` is `host:port` (a new channel) or an existing channel to share
 * (e.g. several c1.connector.v2 services over one connection).
 */
export function createClient<S extends DescService>(
  service: S,
  target: string | grpc.Channel,
  credentials: grpc.ChannelCredentials,
  options: ClientOptions = {},
): ServiceClient<S> {
  const shared = typeof target !== "string";
  const client = shared
    ? new grpc.Client("shared", credentials, { ...options.channelOptions, channelOverride: target })
    : new grpc.Client(target, credentials, options.channelOptions);
  const definition = grpcServiceDefinition(service);

  const prepare = async (opts: CallOptions = {}) => {
    opts.signal?.throwIfAborted();
    const metadata = (await options.metadata?.())?.clone() ?? new grpc.Metadata();
    if (opts.metadata) metadata.merge(opts.metadata);
    const timeoutMs = opts.timeoutMs ?? options.defaultTimeoutMs;
    const callOptions: grpc.CallOptions = timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs };
    return { metadata, callOptions };
  };

  /** Cancels `call` when `signal` aborts; returns the clean-up. */
  const linkSignal = (call: grpc.Call, signal: AbortSignal | undefined) => {
    if (!signal) return () => {};
    const cancel = () => call.cancel();
    if (signal.aborted) cancel();
    signal.addEventListener("abort", cancel, { once: true });
    return () => signal.removeEventListener("abort", cancel);
  };

  const methods: Record<string, unknown> = {};
  for (const method of service.methods) {
    const def = definition[method.localName];
    const input = (msg: unknown) => create(method.input, msg as MessageInitShape<DescMessage>);
    const settle = (resolve: (v: unknown) => void, reject: (e: unknown) => void, signal?: AbortSignal) =>
      (err: grpc.ServiceError | null, res?: unknown) => {
        if (err) reject(signal?.aborted ? abortError(signal, err) : fromGrpcError(err));
        else resolve(res);
      };
    const call = <T extends grpc.Call>(start: () => T, signal: AbortSignal | undefined, done: Promise<unknown>): T => {
      const started = start();
      const unlink = linkSignal(started, signal);
      done.then(unlink, unlink);
      return started;
    };

    switch (method.methodKind) {
      case "unary":
        methods[method.localName] = async (req: unknown, opts?: CallOptions) => {
          const { metadata, callOptions } = await prepare(opts);
          const { promise, resolve, reject } = Promise.withResolvers();
          call(
            () => client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, input(req), metadata,
              callOptions, settle(resolve, reject, opts?.signal)),
            opts?.signal,
            promise,
          );
          return promise;
        };
        break;
      case "client_streaming":
        methods[method.localName] = async (reqs: AsyncIterable<unknown>, opts?: CallOptions) => {
          const { metadata, callOptions } = await prepare(opts);
          const { promise, resolve, reject } = Promise.withResolvers();
          const stream = call(
            () => client.makeClientStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, metadata,
              callOptions, settle(resolve, reject, opts?.signal)),
            opts?.signal,
            promise,
          );
          try {
            await pump(reqs, stream, input);
          } catch (err) {
            stream.cancel(); // the request iterable failed: stop the call and report the iterable's error
            promise.catch(() => {});
            throw err;
          }
          return promise;
        };
        break;
      case "server_streaming":
        methods[method.localName] = (req: unknown, opts?: CallOptions) =>
          (async function* () {
            const { metadata, callOptions } = await prepare(opts);
            const call = client.makeServerStreamRequest(
              def.path, def.requestSerialize, def.responseDeserialize, input(req), metadata, callOptions,
            );
            yield* readResponses(call, opts?.signal, linkSignal(call, opts?.signal));
          })();
        break;
      case "bidi_streaming":
        methods[method.localName] = (reqs: AsyncIterable<unknown>, opts?: CallOptions) =>
          (async function* () {
            const { metadata, callOptions } = await prepare(opts);
            const call = client.makeBidiStreamRequest(
              def.path, def.requestSerialize, def.responseDeserialize, metadata, callOptions,
            );
            pump(reqs, call, input).catch(() => call.cancel());
            yield* readResponses(call, opts?.signal, linkSignal(call, opts?.signal));
          })();
        break;
    }
  }
  return Object.assign(methods, {
    close: () => {
      if (!shared) client.close();
    },
    channel: client.getChannel(),
  }) as ServiceClient<S>;
}

/** Writes every request (honouring back-pressure), then half-closes. */
async function pump(
  reqs: AsyncIterable<unknown>,
  call: grpc.ClientWritableStream<unknown> | grpc.ClientDuplexStream<unknown, unknown>,
  input: (msg: unknown) => unknown,
): Promise<void> {
  for await (const req of reqs) {
    if (call.destroyed) return; // the call already ended (error or cancel); its status reports why
    if (!call.write(input(req))) await Promise.race([once(call, "drain"), once(call, "close")]);
  }
  call.end();
}

async function* readResponses(
  call: grpc.ClientReadableStream<unknown>,
  signal: AbortSignal | undefined,
  unlink: () => void,
): AsyncGenerator<unknown, void, undefined> {
  try {
    for await (const res of call) yield res;
  } catch (err) {
    throw signal?.aborted ? abortError(signal, err) : fromGrpcError(err);
  } finally {
    unlink();
    call.cancel(); // a consumer that stops early ends the call; a no-op once it finished
  }
}

function abortError(signal: AbortSignal, cause: unknown): ConnectorError {
  const reason = signal.reason instanceof Error ? signal.reason.message : "aborted";
  return new ConnectorError(Code.CANCELLED, `call cancelled: ${reason}`, { cause });
}
