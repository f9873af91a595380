/**
 * A small JSON-over-HTTP client on undici, reusable by any connector:
 * - one keep-alive connection pool per origin (undici Agent) with a connection limit; HTTPS_PROXY / HTTP_PROXY /
 *   NO_PROXY honoured (EnvHttpProxyAgent); extra CAs from NODE_EXTRA_CA_CERTS work because no `ca` is set unless
 *   the caller adds one (`extraCaCerts`, added to the default store, never replacing it);
 * - a per-attempt timeout covering connect, headers and the whole body; caller cancellation via AbortSignal;
 * - a response size cap, the body read fully before it is parsed;
 * - pacing from X-RateLimit-* headers (rate-limit.ts); on 429 wait for the reset and retry;
 * - bounded retries with jittered exponential backoff on 500/502/503/504 and connection failures, for idempotent
 *   methods (POST/PATCH only when the caller says the request is safe to repeat); each retry is logged at debug,
 *   and a warning says at most once a minute that requests are being retried;
 * - fail fast on a host that has never answered: a refused connection or a failed DNS lookup before the first
 *   response of this client gets two quick retries, then an `unreachable` error (a wrong address or blocked
 *   egress does not fix itself; a host that has answered before keeps the full retry budget);
 * - one retry with fresh credentials when the server answers 401 and the credential source says it refreshed.
 * Errors are HttpError with a stable code; messages never contain credential header values.
 *
 * Each policy is its own piece (pipeline.ts), composed once per client around this file's transport:
 * retry.ts → decode.ts → auth.ts → pacing.ts → metrics → rate-limit-report.ts → transport (undici request, timeout,
 * capped body read).
 */
import { getCACertificates, rootCertificates } from "node:tls";
import { createRequire } from "node:module";
import type { Dispatcher, EnvHttpProxyAgent as EnvHttpProxyAgentClass } from "undici";
import type { Logger } from "pino";
import { eitherSignal } from "./abort.ts";
import { authInterceptor } from "./auth.ts";
import { DEFAULT_BACKOFF, type BackoffPolicy } from "./backoff.ts";
import { DEFAULT_MAX_BODY_BYTES, readCappedBody } from "./body.ts";
import { classifyNetworkError } from "./classify.ts";
import { decodeJson } from "./decode.ts";
import { abortedError, HttpError, HttpErrorCode, redactSecrets } from "./errors.ts";
import { HttpMetrics, metricsInterceptor } from "./metrics.ts";
import { pacingInterceptor } from "./pacing.ts";
import { reportRateLimit } from "./rate-limit-report.ts";
import { compose, type Call, type Exchange, type Outcome } from "./pipeline.ts";
import { describeProxy, proxyFor, proxySettingsFromEnv, type ProxySettings } from "./proxy.ts";
import { parseRateLimitHeaders, RateLimiter, type RateLimiterOptions } from "./rate-limit.ts";
import { retrying } from "./retry.ts";
import { egressInterceptor, type EgressPolicy } from "./egress.ts";
import { whenSentTo } from "./sent.ts";

/**
 * undici's proxy-aware agent from its own file: undici's index loads 109 modules (fetch, WebSocket, caches,
 * mocks), this and the request API 32, and a sync needs no more (issue 14: start-up). What the index does besides
 * exporting, this does too: it puts the request API (request, stream, pipeline, upgrade, connect) on every
 * dispatcher's prototype (the proxy agent's CONNECT tunnel calls it). test/http/undici-deep-import.test.ts checks
 * that these are the index's own for the pinned version.
 */
const requireUndici = createRequire(import.meta.url);
const EnvHttpProxyAgent = requireUndici("undici/lib/dispatcher/env-http-proxy-agent.js") as typeof EnvHttpProxyAgentClass;
Object.assign((requireUndici("undici/lib/dispatcher/dispatcher.js") as { prototype: object }).prototype, requireUndici("undici/lib/api/index.js"));

/** Where a request's credentials come from. Structurally the same as a connector's credential provider. */
export interface HttpAuth {
  headers(signal?: AbortSignal): Promise<Record<string, string>>;
  onUnauthorized?(used: Record<string, string>, signal?: AbortSignal): Promise<boolean>;
  readonly secretHeaderNames: readonly string[];
}

export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";

export type QueryValue = string | number | boolean | undefined | readonly (string | number)[];

export interface HttpRequest {
  method: HttpMethod;
  /** Path below the base URL, starting with "/". Path parameters must already be encoded (see `encodePath`). */
  path: string;
  query?: Record<string, QueryValue>;
  /** Serialised as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Name of the operation, used in errors, logs and as the default rate-limit route key. */
  operation: string;
  /** Requests with the same route key are assumed to share a rate limit until the server names it. */
  routeKey?: string;
  /** POST/PATCH may be retried after a 5xx or a broken connection only when this is true. */
  retryable?: boolean;
  /** Statuses that count as success (default: 2xx). */
  acceptStatus?: (status: number) => boolean;
  /** Send without credentials (e.g. a reachability probe). */
  anonymous?: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  /** Lower-case header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Parsed JSON, or undefined for an empty body. */
  body: unknown;
  /** Attempts it took (1 = first try). */
  attempts: number;
}

export interface HttpClientOptions {
  /** Origin plus an optional path prefix, e.g. "https://api.datadoghq.com" or "https://gw.example.com/datadog". */
  baseUrl: string;
  auth?: HttpAuth;
  /** Connections per origin (default 16). */
  connections?: number;
  /** Per-attempt deadline for connect + headers + body (default 60 s). */
  timeoutMs?: number;
  /** Warn (at most once a minute) that requests are being retried; off for callers that report failures themselves. */
  retryWarnings?: boolean;
  /** TCP/TLS connect timeout (default 15 s). */
  connectTimeoutMs?: number;
  /** Response body cap in bytes (default 32 MiB). */
  maxBodyBytes?: number;
  /** Retries after 5xx / connection failures (default 5). */
  maxRetries?: number;
  /** Waits after 429 before giving up with RATE_LIMITED (default 10). */
  maxRateLimitRetries?: number;
  backoff?: BackoffPolicy;
  /** Pacing from X-RateLimit-* headers; on by default. */
  rateLimit?: boolean | RateLimiterOptions;
  metrics?: HttpMetrics;
  logger?: Logger;
  userAgent?: string;
  /** Proxy settings; default from the environment. */
  proxy?: ProxySettings;
  /** PEM certificates trusted in addition to the default store (which already includes NODE_EXTRA_CA_CERTS). */
  extraCaCerts?: string[];
  /** Use this dispatcher instead of creating one (it is then not closed by `close()`). */
  dispatcher?: Dispatcher;
  /** Jitter source (tests pin it). */
  random?: () => number;
  /** Hosts requests may go to (hosted mode's served policy); checked before anything is sent. Default: any. */
  egress?: EgressPolicy;
}

const IDEMPOTENT = new Set<HttpMethod>(["GET", "HEAD", "PUT", "DELETE"]);
export const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;

/** Encodes one path segment (ids from APIs are untrusted input: "../" must not change the path). */
export function encodePath(strings: TemplateStringsArray, ...values: (string | number)[]): string {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += encodeURIComponent(String(values[i])) + strings[i + 1];
  return out;
}

function buildQuery(query: Record<string, QueryValue> | undefined): string {
  if (!query) return "";
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(v))}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

function flattenHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

/** Pulls human-readable error strings out of an error body (JSON:API `errors`, or plain text), redacted and short. */
export function extractServerErrors(body: Buffer, secrets: string[]): string[] {
  const text = body.toString("utf8").trim();
  if (text === "") return [];
  let out: string[] = [];
  try {
    const json: unknown = JSON.parse(text);
    const errors = (json as { errors?: unknown })?.errors;
    if (Array.isArray(errors)) {
      out = errors.map((e) => {
        if (typeof e === "string") return e;
        if (e && typeof e === "object") {
          const r = e as Record<string, unknown>;
          const parts = [r.title, r.detail].filter((x) => typeof x === "string" && x !== "");
          return parts.length ? parts.join(": ") : JSON.stringify(e);
        }
        return String(e);
      });
    } else if (typeof (json as { error?: unknown })?.error === "string") {
      out = [(json as { error: string }).error];
    } else if (typeof (json as { message?: unknown })?.message === "string") {
      out = [(json as { message: string }).message];
    }
  } catch {
    out = [text];
  }
  return out.slice(0, 5).map((s) => {
    const red = redactSecrets(s.replace(/\s+/g, " "), secrets);
    return red.length > 300 ? `${red.slice(0, 300)}…` : red;
  });
}

class AttemptTimeout extends Error {
  constructor() {
    super("attempt timed out");
    this.name = "AttemptTimeout";
  }
}

export class HttpClient {
  readonly metrics: HttpMetrics;
  readonly rateLimiter: RateLimiter | undefined;
  readonly baseUrl: URL;
  readonly #prefix: string;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  #closing: Promise<void> | undefined;
  readonly #timeoutMs: number;
  readonly #maxBodyBytes: number;
  readonly #logger: Logger | undefined;
  readonly #userAgent: string;
  readonly #proxy: string | undefined;
  /** Some request of this client got an answer (any status): from then on, connection failures are transient. */
  #answered = false;
  /** The policies composed once around the transport (see pipeline.ts); per request only the Exchange is new. */
  readonly #send: (ex: Exchange) => Promise<HttpResponse>;

  constructor(options: HttpClientOptions) {
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch {
      throw new HttpError({ code: HttpErrorCode.INVALID_REQUEST, message: `base URL "${options.baseUrl}" is not a valid URL` });
    }
    if (base.protocol !== "https:" && base.protocol !== "http:") {
      throw new HttpError({ code: HttpErrorCode.INVALID_REQUEST, message: `base URL must be http(s), got ${base.protocol}` });
    }
    if (base.username || base.password) {
      throw new HttpError({ code: HttpErrorCode.INVALID_REQUEST, message: "base URL must not contain user:password credentials" });
    }
    this.baseUrl = base;
    this.#prefix = base.pathname.replace(/\/+$/, "");
    this.metrics = options.metrics ?? new HttpMetrics();
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.#logger = options.logger;
    this.#userAgent = options.userAgent ?? `baton-ts-http (node ${process.version})`;
    this.rateLimiter =
      options.rateLimit === false ? undefined : new RateLimiter(typeof options.rateLimit === "object" ? options.rateLimit : {});

    const proxy = options.proxy ?? proxySettingsFromEnv();
    const viaProxy = proxyFor(base, proxy);
    this.#proxy = viaProxy === undefined ? undefined : describeProxy(viaProxy);
    if (options.dispatcher) {
      this.#dispatcher = options.dispatcher;
      this.#ownsDispatcher = false;
    } else {
      const ca = options.extraCaCerts?.length ? [...defaultCaCertificates(), ...options.extraCaCerts] : undefined;
      // The per-attempt deadline bounds the connect too; a shorter --http-timeout must not wait 15 s for a SYN.
      const connectTimeout = Math.min(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, this.#timeoutMs);
      this.#dispatcher = new EnvHttpProxyAgent({
        httpProxy: proxy.httpProxy,
        httpsProxy: proxy.httpsProxy,
        noProxy: proxy.noProxy,
        connections: options.connections ?? 16,
        keepAliveTimeout: 15_000,
        keepAliveMaxTimeout: 60_000,
        allowH2: false,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
        connect: { timeout: connectTimeout, ...(ca ? { ca } : {}) },
        ...(ca ? { requestTls: { ca }, proxyTls: { ca } } : {}),
      } as EnvHttpProxyAgentClass.Options);
      this.#ownsDispatcher = true;
    }

    const transport: Call = (ex) => this.#attempt(ex);
    const attempt = compose(
      [
        options.egress ? egressInterceptor(options.egress, base) : undefined,
        decodeJson,
        authInterceptor(options.auth, this.metrics),
        this.rateLimiter ? pacingInterceptor(this.rateLimiter, this.metrics) : undefined,
        metricsInterceptor(this.metrics),
        reportRateLimit,
      ],
      transport,
    );
    this.#send = retrying(
      {
        maxRetries: options.maxRetries ?? 5,
        maxRateLimitRetries: options.maxRateLimitRetries ?? 10,
        backoff: options.backoff ?? DEFAULT_BACKOFF,
        random: options.random ?? Math.random,
        metrics: this.metrics,
        logger: this.#logger,
        retryWarnings: options.retryWarnings ?? true,
        host: base.host,
        paced: this.rateLimiter !== undefined,
        answered: () => this.#answered,
      },
      attempt,
    );
  }

  /** The proxy (scheme://host:port) requests to the base URL go through, if any. */
  get proxy(): string | undefined {
    return this.#proxy;
  }

  /** Closes the connection pool it made (not one it was given); a second call waits for the first. */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await (this.#closing ??= this.#dispatcher.close());
  }

  /**
   * Resolves once a request to this client's origin has its headers on the wire, after `maxWaitMs` or when `signal`
   * aborts (sent.ts): a caller about to block the event loop (loading modules) lets a request it has just started
   * go out first.
   */
  whenRequestSent(maxWaitMs: number, signal?: AbortSignal): Promise<void> {
    return whenSentTo(this.baseUrl.origin, maxWaitMs, signal);
  }

  /** Sends a request with pacing, retries and credential refresh; resolves with the accepted response. */
  request(req: HttpRequest): Promise<HttpResponse> {
    const method = req.method;
    return this.#send({
      req,
      method,
      routeKey: req.routeKey ?? req.operation,
      pathAndQuery: `${this.#prefix}${req.path}${buildQuery(req.query)}`,
      displayUrl: `${this.baseUrl.origin}${this.#prefix}${req.path}`,
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      accept: req.acceptStatus ?? acceptOk,
      repeatable: IDEMPOTENT.has(method) || req.retryable === true,
      authHeaders: {},
      secrets: [],
      slot: undefined,
      attempts: 0,
      refreshedAuth: false,
    });
  }

  /** The transport: one attempt on the wire, its whole body read under the cap, failures classified. */
  async #attempt(ex: Exchange): Promise<Outcome> {
    const { req, method, pathAndQuery, displayUrl, body, authHeaders, slot, secrets } = ex;
    ex.attempts++;
    const headers: Record<string, string> = {
      accept: "application/json",
      "user-agent": this.#userAgent,
      ...req.headers,
      ...authHeaders,
    };
    if (body !== undefined) headers["content-type"] = "application/json";

    const timeoutMs = req.timeoutMs ?? this.#timeoutMs;
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(new AttemptTimeout()), timeoutMs);
    const signal = eitherSignal(timer.signal, req.signal);
    let released = false;
    const release = (h: Record<string, string> | undefined, status: number | undefined) => {
      if (released) return;
      released = true;
      slot?.release(h ? parseRateLimitHeaders((n) => h[n]) : undefined, status);
    };

    const started = performance.now();
    let status: number | undefined;
    let gotHeaders = false;
    try {
      const res = await this.#dispatcher.request({
        origin: this.baseUrl.origin,
        path: pathAndQuery,
        method,
        headers,
        body,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      gotHeaders = true;
      this.#answered = true;
      status = res.statusCode;
      const resHeaders = flattenHeaders(res.headers as Record<string, string | string[] | undefined>);
      release(resHeaders, status);
      const lengthHeader = resHeaders["content-length"];
      const contentLength = lengthHeader === undefined ? undefined : Number.parseInt(lengthHeader, 10);
      const buf = await readCappedBody(res.body, Number.isFinite(contentLength) ? contentLength : undefined, this.#maxBodyBytes, {
        operation: req.operation,
        method,
        url: displayUrl,
        status,
      });
      this.#logger?.debug(
        { operation: req.operation, method, path: pathAndQuery, status, ms: Math.round(performance.now() - started), bytes: buf.length },
        "http request",
      );
      return { kind: "response", status, headers: resHeaders, body: buf };
    } catch (err) {
      release(undefined, undefined);
      if (err instanceof HttpError) {
        return { kind: "error", error: err, transient: false, neverSent: false, network: false };
      }
      if (req.signal?.aborted) {
        return { kind: "error", error: abortedError(req.operation, method, displayUrl, err), transient: false, neverSent: false, network: false };
      }
      if (timer.signal.aborted) {
        const error = new HttpError({
          code: HttpErrorCode.TIMEOUT,
          operation: req.operation,
          method,
          url: displayUrl,
          status,
          message: `${method} ${displayUrl}: no complete response within ${timeoutMs} ms${gotHeaders ? " (headers arrived, body did not finish)" : ""}`,
          cause: err,
        });
        return { kind: "error", error, transient: true, neverSent: false, network: true };
      }
      const failure = classifyNetworkError(err, { host: this.baseUrl.hostname, proxy: this.#proxy });
      const error = new HttpError({
        code: failure.code,
        operation: req.operation,
        method,
        url: displayUrl,
        status,
        causeCode: failure.causeCode,
        host: failure.code === HttpErrorCode.PROXY ? this.#proxy : this.baseUrl.hostname,
        message: redactSecrets(`${method} ${displayUrl}: ${failure.detail}`, secrets),
        cause: err,
      });
      const neverSent = failure.causeCode === "ECONNREFUSED" && failure.code === HttpErrorCode.CONNECTION;
      return { kind: "error", error, transient: failure.transient, neverSent, network: true };
    } finally {
      clearTimeout(timeout);
    }
  }

}

function acceptOk(status: number): boolean {
  return status >= 200 && status < 300;
}

function defaultCaCertificates(): string[] {
  // getCACertificates("default") includes NODE_EXTRA_CA_CERTS; rootCertificates does not.
  try {
    return [...getCACertificates("default")];
  } catch {
    return [...rootCertificates];
  }
}
