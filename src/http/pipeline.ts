/**
 * The shape every HTTP policy shares: an `Interceptor` wraps the `Call` below it, so auth, pacing, metrics and
 * decoding are each a small function composed once per client around one transport (no per-request wiring).
 * A `Call` answers one attempt with an `Outcome` instead of throwing, so the retry policy on top decides alone
 * what is final; the `Exchange` is the one per-request object the pieces share (built once, reused per attempt).
 */
import type { HttpError } from "./errors.ts";
import type { RateLimitSlot } from "./rate-limit.ts";
import type { HttpMethod, HttpRequest } from "./client.ts";

export interface Exchange {
  readonly req: HttpRequest;
  readonly method: HttpMethod;
  readonly routeKey: string;
  readonly pathAndQuery: string;
  /** Origin + path, no query string: what errors and logs show. */
  readonly displayUrl: string;
  readonly body: string | undefined;
  readonly accept: (status: number) => boolean;
  /** The method is idempotent or the caller said the request is safe to repeat. */
  readonly repeatable: boolean;
  /** Set by the auth piece before each attempt. */
  authHeaders: Record<string, string>;
  /** Credential values to redact from server text (set with `authHeaders`). */
  secrets: string[];
  /** Set by the pacing piece; the transport releases it as soon as headers arrive. */
  slot: RateLimitSlot | undefined;
  /** Attempts put on the wire so far. */
  attempts: number;
  /** The 401 refresh is tried once per request. */
  refreshedAuth: boolean;
}

export type Outcome =
  /** `value` is the decoded JSON, set for accepted statuses by the decoding piece. */
  | { kind: "response"; status: number; headers: Record<string, string>; body: Buffer; value?: unknown }
  /** The answer was accepted but its body is not JSON: retried like a 5xx, final as is. */
  | { kind: "invalid"; error: HttpError }
  /** No (complete) response. `network` counts it in the metrics; `neverSent` means a POST may be repeated. */
  | { kind: "error"; error: HttpError; transient: boolean; neverSent: boolean; network: boolean };

export type Call = (ex: Exchange) => Promise<Outcome>;
export type Interceptor = (next: Call) => Call;

/** `compose([a, b], t)` is `a(b(t))`: the first piece sees the request first and the outcome last. */
export function compose(interceptors: readonly (Interceptor | undefined)[], transport: Call): Call {
  let call = transport;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    const piece = interceptors[i];
    if (piece) call = piece(call);
  }
  return call;
}
