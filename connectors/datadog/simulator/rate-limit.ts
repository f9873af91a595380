/**
 * Datadog-style rate limits: per org and per named limit, a fixed window of `limit` requests per `periodSeconds`.
 * Every rate-limited response carries X-RateLimit-Limit, -Period, -Remaining, -Reset (whole seconds until the
 * window ends, rounded up so a client that waits that long is never refused) and -Name.
 */
import type { RateLimitConfig } from "./settings.ts";

interface Window {
  startMs: number;
  used: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  headers: Record<string, string>;
}

export class RateLimiter {
  readonly #defaults: RateLimitConfig | null;
  readonly #overrides: Map<string, RateLimitConfig>;
  readonly #windows = new Map<string, Window>();

  constructor(defaults: RateLimitConfig | null, overrides: Record<string, RateLimitConfig> = {}) {
    for (const config of [defaults, ...Object.values(overrides)]) {
      if (config && (!Number.isInteger(config.limit) || config.limit < 1 || !(config.periodSeconds > 0))) {
        throw new RangeError(`invalid rate limit ${JSON.stringify(config)}: limit must be an integer >= 1, periodSeconds > 0`);
      }
    }
    this.#defaults = defaults;
    this.#overrides = new Map(Object.entries(overrides));
  }

  configFor(name: string): RateLimitConfig | null {
    return this.#overrides.get(name) ?? this.#defaults;
  }

  /** Counts one request against `name`; null when that name is not limited. */
  take(name: string, nowMs = Date.now()): RateLimitDecision | null {
    const config = this.configFor(name);
    if (!config) return null;
    const periodMs = config.periodSeconds * 1000;
    let window = this.#windows.get(name);
    if (!window || nowMs >= window.startMs + periodMs) {
      window = { startMs: nowMs, used: 0 };
      this.#windows.set(name, window);
    }
    const allowed = window.used < config.limit;
    if (allowed) window.used++;
    const resetSeconds = Math.max(1, Math.ceil((window.startMs + periodMs - nowMs) / 1000));
    return {
      allowed,
      headers: {
        "x-ratelimit-limit": String(config.limit),
        "x-ratelimit-period": String(config.periodSeconds),
        "x-ratelimit-remaining": String(Math.max(0, config.limit - window.used)),
        "x-ratelimit-reset": String(resetSeconds),
        "x-ratelimit-name": name,
      },
    };
  }
}
