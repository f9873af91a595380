/**
 * Counters of one HTTP client (or of several sharing one instance). Plain numbers so that the CLI progress
 * display and the benchmark can read them at any time without locking; `snapshot()` copies them.
 */
import type { Interceptor } from "./pipeline.ts";
export interface HttpMetricsSnapshot {
  /** Attempts sent on the wire (a retried request counts once per attempt). */
  requests: number;
  /** Attempts that were retries of an earlier attempt (429, 5xx, connection errors, 401 refresh). */
  retries: number;
  /** Responses with status 429. */
  http429: number;
  /** Responses with status >= 500. */
  http5xx: number;
  /** Attempts that failed without a response (DNS, TLS, connection, timeout). */
  networkErrors: number;
  /** Requests that finally failed (after retries). */
  failures: number;
  /** Time requests spent waiting for a rate-limit slot before being sent (ms, summed over requests). */
  rateLimitWaitMs: number;
  /** Time spent sleeping between attempts (backoff, 429 resets) (ms, summed). */
  retryWaitMs: number;
  /** Response body bytes read. */
  bytesReceived: number;
  /** Requests currently on the wire. */
  inFlight: number;
}

export class HttpMetrics implements HttpMetricsSnapshot {
  requests = 0;
  retries = 0;
  http429 = 0;
  http5xx = 0;
  networkErrors = 0;
  failures = 0;
  rateLimitWaitMs = 0;
  retryWaitMs = 0;
  bytesReceived = 0;
  inFlight = 0;

  /** Total time spent waiting rather than sending (pacing + retries). */
  get waitMs(): number {
    return this.rateLimitWaitMs + this.retryWaitMs;
  }

  snapshot(): HttpMetricsSnapshot {
    return {
      requests: this.requests,
      retries: this.retries,
      http429: this.http429,
      http5xx: this.http5xx,
      networkErrors: this.networkErrors,
      failures: this.failures,
      rateLimitWaitMs: Math.round(this.rateLimitWaitMs),
      retryWaitMs: Math.round(this.retryWaitMs),
      bytesReceived: this.bytesReceived,
      inFlight: this.inFlight,
    };
  }
}

/** Metrics piece, right around the transport: counts what went on the wire, per attempt. */
export function metricsInterceptor(metrics: HttpMetrics): Interceptor {
  return (next) => async (ex) => {
    metrics.requests++;
    metrics.inFlight++;
    try {
      const outcome = await next(ex);
      const status = outcome.kind === "response" ? outcome.status : outcome.error.status;
      if (status === 429) metrics.http429++;
      if (status !== undefined && status >= 500) metrics.http5xx++;
      if (outcome.kind === "response") metrics.bytesReceived += outcome.body.length;
      else if (outcome.kind === "error" && outcome.network) metrics.networkErrors++;
      return outcome;
    } finally {
      metrics.inFlight--;
    }
  };
}
