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
 */
import { getCACertificates, rootCertificates } from "node:tls";
import { EnvHttpProxyAgent, type Dispatcher } from "undici";
import type { Logger } from "pino";
import { backoffDelay, DEFAULT_BACKOFF, parseRetryAfter, sleep, type BackoffPolicy } from "./backoff.ts";
import { DEFAULT_MAX_BODY_BYTES, readCappedBody } from "./body.ts";
import { classifyNetworkError } from "./classify.ts";
import { HttpError, HttpErrorCode, redactSecrets } from "./errors.ts";
import { HttpMetrics } from "./metrics.ts";
import { describeProxy, proxyFor, proxySettingsFromEnv, type ProxySettings } from "./proxy.ts";
import { nextTurn } from "./turns.ts";
import { parseRateLimitHeaders, RateLimiter, type RateLimiterOptions, type RateLimitSlot } from "./rate-limit.ts";

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
}

const RETRY_STATUSES = new Set([500, 502, 503, 504]);
const IDEMPOTENT = new Set<HttpMethod>(["GET", "HEAD", "PUT", "DELETE"]);
export const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
/** Quick retries for a host that has never answered: enough for a listener that is just starting, no more. */
const UNREACHABLE_RETRIES = 2;
const UNREACHABLE_BACKOFF: BackoffPolicy = { baseMs: 100, maxMs: 400 };
const RETRY_WARNING_INTERVAL_MS = 60_000;

/** Causes that mean "nobody is there" (as opposed to a connection that broke after reaching someone). */
const UNREACHABLE_CAUSES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_FAIL", "EAI_NODATA"]);

function isUnreachable(error: HttpError): boolean {
  if (error.code === HttpErrorCode.DNS) return true;
  if (error.code !== HttpErrorCode.CONNECTION && error.code !== HttpErrorCode.PROXY) return false;
  return error.causeCode !== undefined && UNREACHABLE_CAUSES.has(error.causeCode);
}

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

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

class AttemptTimeout extends Error {
  constructor() {
    super("attempt timed out");
    this.name = "AttemptTimeout";
  }
}

type AttemptOutcome =
  | { kind: "response"; status: number; headers: Record<string, string>; body: Buffer }
  | { kind: "error"; error: HttpError; transient: boolean; neverSent: boolean };

export class HttpClient {
  readonly metrics: HttpMetrics;
  readonly rateLimiter: RateLimiter | undefined;
  readonly baseUrl: URL;
  readonly #prefix: string;
  readonly #auth: HttpAuth | undefined;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #timeoutMs: number;
  readonly #maxBodyBytes: number;
  readonly #maxRetries: number;
  readonly #maxRateLimitRetries: number;
  readonly #backoff: BackoffPolicy;
  readonly #logger: Logger | undefined;
  readonly #userAgent: string;
  readonly #proxy: string | undefined;
  readonly #random: () => number;
  readonly #retryWarnings: boolean;
  /** Some request of this client got an answer (any status): from then on, connection failures are transient. */
  #answered = false;
  #lastRetryWarning = Number.NEGATIVE_INFINITY;
  #retriesSinceWarning = 0;

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
    this.#auth = options.auth;
    this.metrics = options.metrics ?? new HttpMetrics();
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.#maxRetries = options.maxRetries ?? 5;
    this.#maxRateLimitRetries = options.maxRateLimitRetries ?? 10;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#logger = options.logger;
    this.#userAgent = options.userAgent ?? `baton-ts-http (node ${process.version})`;
    this.#random = options.random ?? Math.random;
    this.#retryWarnings = options.retryWarnings ?? true;
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
      } as EnvHttpProxyAgent.Options);
      this.#ownsDispatcher = true;
    }
  }

  /** The proxy (scheme://host:port) requests to the base URL go through, if any. */
  get proxy(): string | undefined {
    return this.#proxy;
  }

  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  /** Sends a request with pacing, retries and credential refresh; resolves with the accepted response. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const method = req.method;
    const routeKey = req.routeKey ?? req.operation;
    const pathAndQuery = `${this.#prefix}${req.path}${buildQuery(req.query)}`;
    const displayUrl = `${this.baseUrl.origin}${this.#prefix}${req.path}`;
    const accept = req.acceptStatus ?? ((s: number) => s >= 200 && s < 300);
    const repeatable = IDEMPOTENT.has(method) || req.retryable === true;
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);

    let attempts = 0;
    let failures = 0;
    let limited = 0;
    let refreshedAuth = false;
    for (;;) {
      const authHeaders = req.anonymous || !this.#auth ? {} : await this.#auth.headers(req.signal);
      const secrets = this.#secretValues(authHeaders);

      const waitStart = performance.now();
      let slot: RateLimitSlot | undefined;
      try {
        slot = await this.rateLimiter?.acquire(routeKey, req.signal);
      } catch (err) {
        throw this.#aborted(req, method, displayUrl, err);
      }
      this.metrics.rateLimitWaitMs += performance.now() - waitStart;

      attempts++;
      const outcome = await this.#attempt(req, method, pathAndQuery, displayUrl, body, authHeaders, slot, secrets);

      if (outcome.kind === "response") {
        const { status, headers } = outcome;
        if (accept(status)) {
          await nextTurn();
          let parsed: unknown;
          try {
            parsed = parseJsonBody(outcome.body);
          } catch {
            const error = new HttpError({
              code: HttpErrorCode.INVALID_RESPONSE,
              operation: req.operation,
              method,
              url: displayUrl,
              status,
              attempts,
              message: `${method} ${displayUrl} answered ${status} with a body that is not valid JSON (${outcome.body.length} bytes; truncated or malformed)`,
            });
            if (repeatable && failures < this.#maxRetries) {
              failures++;
              await this.#retryWait(req, backoffDelay(failures - 1, this.#backoff, this.#random), error);
              continue;
            }
            this.metrics.failures++;
            throw error;
          }
          return { status, headers, body: parsed, attempts };
        }

        const serverErrors = extractServerErrors(outcome.body, secrets);
        const statusError = (code: HttpErrorCode, extra = "") =>
          new HttpError({
            code,
            operation: req.operation,
            method,
            url: displayUrl,
            status,
            serverErrors,
            attempts,
            message:
              `${method} ${displayUrl} answered ${status} ${STATUS_TEXT[status] ?? ""}`.trimEnd() +
              (serverErrors.length ? `: ${serverErrors.join("; ")}` : "") +
              extra,
          });

        if (status === 401 && !refreshedAuth && this.#auth?.onUnauthorized && !req.anonymous) {
          refreshedAuth = true;
          if (await this.#auth.onUnauthorized(authHeaders, req.signal)) {
            this.metrics.retries++;
            continue;
          }
        }

        if (status === 429) {
          limited++;
          if (limited > this.#maxRateLimitRetries) {
            this.metrics.failures++;
            throw statusError(HttpErrorCode.RATE_LIMITED, ` (still rate limited after ${limited} attempts)`);
          }
          const retryAfter = parseRetryAfter(headers["retry-after"]);
          const paced = parseRateLimitHeaders((n) => headers[n]) !== undefined && this.rateLimiter !== undefined;
          // With rate-limit headers the limiter itself holds the next attempt until the reset.
          const delay = Math.max(retryAfter ?? 0, paced ? 0 : backoffDelay(limited - 1, this.#backoff, this.#random));
          await this.#retryWait(req, delay, statusError(HttpErrorCode.RATE_LIMITED));
          continue;
        }

        if (RETRY_STATUSES.has(status) && repeatable && failures < this.#maxRetries) {
          failures++;
          const retryAfter = parseRetryAfter(headers["retry-after"]) ?? 0;
          const delay = Math.max(Math.min(retryAfter, this.#backoff.maxMs * 4), backoffDelay(failures - 1, this.#backoff, this.#random));
          await this.#retryWait(req, delay, statusError(HttpErrorCode.HTTP_STATUS));
          continue;
        }

        this.metrics.failures++;
        throw statusError(HttpErrorCode.HTTP_STATUS);
      }

      // No response.
      const { error, transient, neverSent } = outcome;
      if (error.code === HttpErrorCode.ABORTED || error.code === HttpErrorCode.BODY_TOO_LARGE) {
        this.metrics.failures++;
        throw error;
      }
      const unreachable = !this.#answered && isUnreachable(error);
      if (unreachable) {
        if (transient && (repeatable || neverSent) && failures < UNREACHABLE_RETRIES) {
          failures++;
          await this.#retryWait(req, backoffDelay(failures - 1, UNREACHABLE_BACKOFF, this.#random), error, { quiet: true });
          continue;
        }
      } else if (transient && (repeatable || neverSent) && failures < this.#maxRetries) {
        failures++;
        await this.#retryWait(req, backoffDelay(failures - 1, this.#backoff, this.#random), error);
        continue;
      }
      this.metrics.failures++;
      throw new HttpError({
        code: error.code,
        operation: req.operation,
        method,
        url: displayUrl,
        causeCode: error.causeCode,
        host: error.host,
        attempts,
        unreachable,
        message: error.detail + (attempts > 1 ? ` (after ${attempts} attempts)` : ""),
        cause: error.cause,
      });
    }
  }

  async #attempt(
    req: HttpRequest,
    method: HttpMethod,
    pathAndQuery: string,
    displayUrl: string,
    body: string | undefined,
    authHeaders: Record<string, string>,
    slot: RateLimitSlot | undefined,
    secrets: string[],
  ): Promise<AttemptOutcome> {
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
    const signal = req.signal ? AbortSignal.any([req.signal, timer.signal]) : timer.signal;
    let released = false;
    const release = (h: Record<string, string> | undefined, status: number | undefined) => {
      if (released) return;
      released = true;
      slot?.release(h ? parseRateLimitHeaders((n) => h[n]) : undefined, status);
    };

    this.metrics.requests++;
    this.metrics.inFlight++;
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
      if (status === 429) this.metrics.http429++;
      if (status >= 500) this.metrics.http5xx++;
      const lengthHeader = resHeaders["content-length"];
      const contentLength = lengthHeader === undefined ? undefined : Number.parseInt(lengthHeader, 10);
      const buf = await readCappedBody(res.body, Number.isFinite(contentLength) ? contentLength : undefined, this.#maxBodyBytes, {
        operation: req.operation,
        method,
        url: displayUrl,
        status,
      });
      this.metrics.bytesReceived += buf.length;
      this.#logger?.debug(
        { operation: req.operation, method, path: pathAndQuery, status, ms: Math.round(performance.now() - started), bytes: buf.length },
        "http request",
      );
      return { kind: "response", status, headers: resHeaders, body: buf };
    } catch (err) {
      release(undefined, undefined);
      if (err instanceof HttpError) {
        return { kind: "error", error: err, transient: false, neverSent: false };
      }
      if (req.signal?.aborted) {
        return { kind: "error", error: this.#aborted(req, method, displayUrl, err), transient: false, neverSent: false };
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
        this.metrics.networkErrors++;
        return { kind: "error", error, transient: true, neverSent: false };
      }
      const failure = classifyNetworkError(err, { host: this.baseUrl.hostname, proxy: this.#proxy });
      this.metrics.networkErrors++;
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
      return { kind: "error", error, transient: failure.transient, neverSent };
    } finally {
      clearTimeout(timeout);
      this.metrics.inFlight--;
    }
  }

  /**
   * Waits before a retry. Every retry is a debug line; a warning says (at most once a minute, and never for the
   * quick retries of a host that has never answered, which end in an error of their own) that work is slowed.
   */
  async #retryWait(req: HttpRequest, ms: number, reason: HttpError, options: { quiet?: boolean } = {}): Promise<void> {
    this.metrics.retries++;
    this.#retriesSinceWarning++;
    const fields = { operation: req.operation, code: reason.code, status: reason.status, waitMs: Math.round(ms) };
    this.#logger?.debug(fields, `retrying ${req.operation} after: ${reason.message}`);
    const now = performance.now();
    if (this.#retryWarnings && options.quiet !== true && now - this.#lastRetryWarning >= RETRY_WARNING_INTERVAL_MS) {
      this.#logger?.warn(
        { ...fields, retries: this.#retriesSinceWarning },
        `requests to ${this.baseUrl.host} are being retried, which slows this run down ` +
          `(${this.#retriesSinceWarning} ${this.#retriesSinceWarning === 1 ? "retry" : "retries"} since the last warning; latest: ${reason.message}); ` +
          "each retry is logged at --log-level debug",
      );
      this.#lastRetryWarning = now;
      this.#retriesSinceWarning = 0;
    }
    const start = performance.now();
    try {
      await sleep(ms, req.signal);
    } catch (err) {
      throw this.#aborted(req, req.method, req.path, err);
    } finally {
      this.metrics.retryWaitMs += performance.now() - start;
    }
  }

  #aborted(req: HttpRequest, method: string, url: string, cause: unknown): HttpError {
    return new HttpError({
      code: HttpErrorCode.ABORTED,
      operation: req.operation,
      method,
      url,
      message: `${method} ${url}: cancelled by the caller`,
      cause,
    });
  }

  #secretValues(headers: Record<string, string>): string[] {
    const names = new Set((this.#auth?.secretHeaderNames ?? []).map((n) => n.toLowerCase()));
    names.add("authorization");
    const out: string[] = [];
    for (const [k, v] of Object.entries(headers)) {
      if (!names.has(k.toLowerCase())) continue;
      out.push(v);
      // "Bearer <token>": the token alone must not leak either.
      const space = v.indexOf(" ");
      if (space > 0) out.push(v.slice(space + 1));
    }
    return out;
  }
}

function parseJsonBody(buf: Buffer): unknown {
  if (buf.length === 0) return undefined;
  const text = buf.toString("utf8");
  if (text.trim() === "") return undefined;
  return JSON.parse(text);
}

function defaultCaCertificates(): string[] {
  // getCACertificates("default") includes NODE_EXTRA_CA_CERTS; rootCertificates does not.
  try {
    return [...getCACertificates("default")];
  } catch {
    return [...rootCertificates];
  }
}
