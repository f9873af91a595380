/**
 * What one served connector lets its callers make it hold: connections, streams per connection, calls running
 * and waiting, message sizes, and how long a connection may stay silent or idle. The defaults keep a flood
 * within the k8s manifests' 256Mi request / 512Mi limit (test/faults/trust-grpc.cases.ts measures it).
 */
import type * as grpc from "@grpc/grpc-js";
import { ServerInterceptingCall } from "@grpc/grpc-js";
import { Code } from "../connector/errors.ts";

// The limits and their defaults live apart from grpc-js, so `serve --help` can show the defaults without loading it.
import { DEFAULT_LIMITS, type ServerLimits } from "./server-limits.ts";
export { DEFAULT_LIMITS, type ServerLimits };

/** grpc-js server options for `limits` (the connection cap and the handshake timeout live in the listener). */
export function grpcServerOptions(limits: ServerLimits, interceptors: grpc.ServerInterceptor[] = []): grpc.ServerOptions {
  return {
    interceptors,
    "grpc.max_receive_message_length": limits.maxReceiveMessageBytes,
    "grpc.max_send_message_length": limits.maxSendMessageBytes,
    "grpc.max_concurrent_streams": limits.maxStreamsPerConnection,
    "grpc.max_connection_idle_ms": limits.idleTimeoutMs,
    "grpc.keepalive_time_ms": limits.keepaliveTimeMs,
    "grpc.keepalive_timeout_ms": limits.keepaliveTimeoutMs,
    // channelz keeps per-session and per-call bookkeeping nobody here reads.
    "grpc.enable_channelz": 0,
  };
}

export interface CallLimiter {
  /** A grpc-js server interceptor (ServerOptions.interceptors). */
  interceptor: grpc.ServerInterceptor;
  /** Calls holding a slot and calls waiting for one, right now. */
  readonly running: number;
  readonly queued: number;
  /** Calls refused with RESOURCE_EXHAUSTED since the start. */
  readonly refused: number;
}

/**
 * A server-wide cap on open calls with a small FIFO queue, at the transport: a call takes its slot when its
 * headers arrive (before its request is read) and gives it back when its status has been sent, which for a
 * unary answer is after the response was written out. So the cap bounds responses waiting on a slow reader too:
 * measured, releasing when the handler returned let a flood pile ~200 KB answers up in HTTP/2 buffers.
 *
 * A queue, not a refusal at the first excess call: the Go engine retries only UNAVAILABLE and DEADLINE_EXCEEDED,
 * so a platform that briefly runs a few more calls than the cap would otherwise fail its sync. Beyond the queue
 * a flood gets RESOURCE_EXHAUSTED at once, before its request is even read. A waiting call that is cancelled
 * (client gone, deadline passed) leaves the queue.
 */
export function callLimiter(
  limits: Pick<ServerLimits, "maxConcurrentCalls" | "maxQueuedCalls">,
  onRefused?: (refused: number) => void,
): CallLimiter {
  let running = 0;
  let refused = 0;
  const waiting = new Set<() => void>();

  const release = () => {
    const next = waiting.values().next();
    if (next.done) {
      running--;
      return;
    }
    // The slot passes straight to the oldest waiter, so `running` stays as it is.
    waiting.delete(next.value);
    next.value();
  };

  const interceptor: grpc.ServerInterceptor = (_method, call) => {
    let holds = false;
    let done = false;
    let waiter: (() => void) | undefined;
    const finish = () => {
      if (done) return;
      done = true;
      if (holds) release();
      else if (waiter) waiting.delete(waiter);
    };
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            if (running < limits.maxConcurrentCalls) {
              running++;
              holds = true;
              return nextMetadata(metadata);
            }
            if (waiting.size >= limits.maxQueuedCalls) {
              refused++;
              onRefused?.(refused);
              done = true;
              return call.sendStatus({
                code: Code.RESOURCE_EXHAUSTED,
                details:
                  `the connector is busy: ${limits.maxConcurrentCalls} calls running and ${limits.maxQueuedCalls} waiting; ` +
                  "try again shortly",
              });
            }
            waiter = () => {
              holds = true;
              nextMetadata(metadata);
            };
            waiting.add(waiter);
          },
          onCancel: finish,
        }),
      sendStatus: (status, nextStatus) => {
        nextStatus(status);
        finish();
      },
    });
  };

  return {
    interceptor,
    get running() {
      return running;
    },
    get queued() {
      return waiting.size;
    },
    get refused() {
      return refused;
    },
  };
}
