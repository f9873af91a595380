/**
 * Retry piece, the top of the pipeline: turns attempt outcomes into the answer or the final HttpError. Waits on 429
 * (for the reset), retries 500/502/503/504, bad JSON and connection failures with the one backoff policy for
 * repeatable requests, gives a host that never answered two quick retries only, and warns at most once a minute.
 */
import type { Logger } from "pino";
import { backoffDelay, parseRetryAfter, sleep, type BackoffPolicy } from "./backoff.ts";
import { abortedError, HttpError, HttpErrorCode } from "./errors.ts";
import type { HttpMetrics } from "./metrics.ts";
import type { Call, Exchange } from "./pipeline.ts";
import { parseRateLimitHeaders } from "./rate-limit.ts";
import { extractServerErrors, type HttpResponse } from "./client.ts";

const RETRY_STATUSES = new Set([500, 502, 503, 504]);
/** Quick retries for a host that has never answered: enough for a listener that is just starting, no more. */
const UNREACHABLE_RETRIES = 2;
const UNREACHABLE_BACKOFF: BackoffPolicy = { baseMs: 100, maxMs: 400 };
const RETRY_WARNING_INTERVAL_MS = 60_000;
/** Causes that mean "nobody is there" (as opposed to a connection that broke after reaching someone). */
const UNREACHABLE_CAUSES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_FAIL", "EAI_NODATA"]);

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

export interface RetryOptions {
  maxRetries: number;
  maxRateLimitRetries: number;
  backoff: BackoffPolicy;
  random: () => number;
  metrics: HttpMetrics;
  logger: Logger | undefined;
  retryWarnings: boolean;
  /** host[:port] named in the retry warning. */
  host: string;
  /** A limiter paces the next attempt itself when the 429 carried rate-limit headers. */
  paced: boolean;
  /** Some request of this client got an answer: connection failures are transient from then on. */
  answered: () => boolean;
}

function isUnreachable(error: HttpError): boolean {
  if (error.code === HttpErrorCode.DNS) return true;
  if (error.code !== HttpErrorCode.CONNECTION && error.code !== HttpErrorCode.PROXY) return false;
  return error.causeCode !== undefined && UNREACHABLE_CAUSES.has(error.causeCode);
}

export function retrying(o: RetryOptions, next: Call): (ex: Exchange) => Promise<HttpResponse> {
  const { metrics, backoff, random } = o;
  let lastRetryWarning = Number.NEGATIVE_INFINITY;
  let retriesSinceWarning = 0;

  /** Every retry is a debug line; the warning is never for the quick retries of a host that has never answered. */
  const retryWait = async (ex: Exchange, ms: number, reason: HttpError, quiet = false): Promise<void> => {
    metrics.retries++;
    retriesSinceWarning++;
    const req = ex.req;
    const fields = { operation: req.operation, code: reason.code, status: reason.status, waitMs: Math.round(ms) };
    o.logger?.debug(fields, `retrying ${req.operation} after: ${reason.message}`);
    const now = performance.now();
    if (o.retryWarnings && !quiet && now - lastRetryWarning >= RETRY_WARNING_INTERVAL_MS) {
      o.logger?.warn(
        { ...fields, retries: retriesSinceWarning },
        `requests to ${o.host} are being retried, which slows this run down ` +
          `(${retriesSinceWarning} ${retriesSinceWarning === 1 ? "retry" : "retries"} since the last warning; latest: ${reason.message}); ` +
          "each retry is logged at --log-level debug",
      );
      lastRetryWarning = now;
      retriesSinceWarning = 0;
    }
    const start = performance.now();
    try {
      await sleep(ms, req.signal);
    } catch (err) {
      throw abortedError(req.operation, req.method, req.path, err);
    } finally {
      metrics.retryWaitMs += performance.now() - start;
    }
  };

  return async (ex) => {
    const { method, displayUrl, repeatable } = ex;
    let failures = 0;
    let limited = 0;
    for (;;) {
      const outcome = await next(ex);

      if (outcome.kind === "response") {
        const { status, headers } = outcome;
        if (ex.accept(status)) return { status, headers, body: outcome.value, attempts: ex.attempts };

        const serverErrors = extractServerErrors(outcome.body, ex.secrets);
        const statusError = (code: HttpErrorCode, extra = "") =>
          new HttpError({
            code,
            operation: ex.req.operation,
            method,
            url: displayUrl,
            status,
            serverErrors,
            attempts: ex.attempts,
            message:
              `${method} ${displayUrl} answered ${status} ${STATUS_TEXT[status] ?? ""}`.trimEnd() +
              (serverErrors.length ? `: ${serverErrors.join("; ")}` : "") +
              extra,
          });

        if (status === 429) {
          limited++;
          if (limited > o.maxRateLimitRetries) {
            metrics.failures++;
            throw statusError(HttpErrorCode.RATE_LIMITED, ` (still rate limited after ${limited} attempts)`);
          }
          const retryAfter = parseRetryAfter(headers["retry-after"]);
          const paced = o.paced && parseRateLimitHeaders((n) => headers[n]) !== undefined;
          // With rate-limit headers the limiter itself holds the next attempt until the reset.
          const delay = Math.max(retryAfter ?? 0, paced ? 0 : backoffDelay(limited - 1, backoff, random));
          await retryWait(ex, delay, statusError(HttpErrorCode.RATE_LIMITED));
          continue;
        }

        if (RETRY_STATUSES.has(status) && repeatable && failures < o.maxRetries) {
          failures++;
          const retryAfter = parseRetryAfter(headers["retry-after"]) ?? 0;
          const delay = Math.max(Math.min(retryAfter, backoff.maxMs * 4), backoffDelay(failures - 1, backoff, random));
          await retryWait(ex, delay, statusError(HttpErrorCode.HTTP_STATUS));
          continue;
        }

        metrics.failures++;
        throw statusError(HttpErrorCode.HTTP_STATUS);
      }

      if (outcome.kind === "invalid") {
        if (repeatable && failures < o.maxRetries) {
          failures++;
          await retryWait(ex, backoffDelay(failures - 1, backoff, random), outcome.error);
          continue;
        }
        metrics.failures++;
        throw outcome.error;
      }

      // No response.
      const { error, transient, neverSent } = outcome;
      if (error.code === HttpErrorCode.ABORTED || error.code === HttpErrorCode.BODY_TOO_LARGE) {
        metrics.failures++;
        throw error;
      }
      const unreachable = !o.answered() && isUnreachable(error);
      if (unreachable) {
        if (transient && (repeatable || neverSent) && failures < UNREACHABLE_RETRIES) {
          failures++;
          await retryWait(ex, backoffDelay(failures - 1, UNREACHABLE_BACKOFF, random), error, true);
          continue;
        }
      } else if (transient && (repeatable || neverSent) && failures < o.maxRetries) {
        failures++;
        await retryWait(ex, backoffDelay(failures - 1, backoff, random), error);
        continue;
      }
      metrics.failures++;
      const attempts = ex.attempts;
      throw new HttpError({
        code: error.code,
        operation: ex.req.operation,
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
  };
}
