/**
 * Proactive pacing from X-RateLimit-* response headers, so that a server that advertises its limits never has to
 * answer 429.
 *
 * Datadog-style headers: X-RateLimit-Limit (requests per window), -Period (window length, s), -Remaining (left in
 * this window), -Reset (seconds until the window resets) and -Name (the limit; several operations may share one).
 *
 * Model:
 * - A request belongs to a "route key" (the caller's operation id). The limit name is only known after a first
 *   response, so the first request of an unknown route is a probe: the route's other requests wait for it.
 *   A successful response without rate-limit headers marks the route unlimited (a later response with headers
 *   re-learns it); an error answer without them leaves the route unknown, so the next request probes again.
 * - Per limit name: the smallest Remaining seen in the current window, the window's reset time, and the number
 *   of requests in flight. A request may be sent while `remaining - inFlight - probes > 0` (a probe of a route
 *   not learned yet may turn out to share this limit); otherwise it waits until a response changes the picture
 *   or the window resets. Reserving the slot before sending keeps a burst of concurrent requests from
 *   overshooting.
 * - Reset is "seconds until reset" as seen by the server when it answered; the answer arrives after that, so
 *   `receivedAt + reset` is never earlier than the real reset (for a server that rounds up). When it passes, a
 *   new window is assumed with Remaining = Limit until answers from the new window refine it; its end is a
 *   guess (the server opened it when the first request arrived, later than we can see) until its first answer
 *   says when it ends, and later answers only bring that end closer. Answers whose
 *   reset estimate is half a period away from the tracked window belong to another window and are either
 *   adopted (newer) or ignored (late answers from an older window).
 * - A 429 that happens anyway (a server that rounds Reset down, another client on the same org) widens that
 *   limit's safety margin, so the next window starts a little later.
 */
import { sleep } from "./backoff.ts";

export interface RateLimitHeaders {
  limit: number | undefined;
  /** Window length in seconds. */
  period: number | undefined;
  remaining: number;
  /** Seconds until the window resets. */
  reset: number;
  name: string | undefined;
}

function num(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number.parseFloat(value.trim());
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Reads X-RateLimit-* headers; undefined unless at least Remaining and Reset are present and numeric. */
export function parseRateLimitHeaders(get: (name: string) => string | undefined): RateLimitHeaders | undefined {
  const remaining = num(get("x-ratelimit-remaining"));
  const reset = num(get("x-ratelimit-reset"));
  if (remaining === undefined || reset === undefined) return undefined;
  const name = get("x-ratelimit-name")?.trim();
  return {
    limit: num(get("x-ratelimit-limit")),
    period: num(get("x-ratelimit-period")),
    remaining: Math.floor(remaining),
    reset,
    name: name ? name : undefined,
  };
}

/** Wakes every waiter when something changed. */
class Notifier {
  #resolve: () => void = () => {};
  #promise: Promise<void> = this.#fresh();

  #fresh(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#resolve = resolve;
    });
  }

  get changed(): Promise<void> {
    return this.#promise;
  }

  notify(): void {
    const resolve = this.#resolve;
    this.#promise = this.#fresh();
    resolve();
  }
}

/** Waits for `notifier` to fire or `ms` to pass, whichever first; rejects if `signal` aborts. */
async function waitForChange(notifier: Notifier, ms: number, signal: AbortSignal | undefined): Promise<void> {
  const timer = new AbortController();
  const onAbort = () => timer.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await Promise.race([notifier.changed, sleep(Math.max(1, ms), timer.signal)]);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    timer.abort();
  }
  if (signal?.aborted) throw signal.reason;
}

interface LimitState {
  name: string;
  limit: number;
  periodMs: number;
  remaining: number;
  /** Epoch ms after which the window has certainly reset (includes the margin). */
  resetAt: number;
  /**
   * False while `resetAt` is our guess for a window assumed at a reset: the server opened it when the first
   * request reached it, later than we assumed, so until an answer from it says when it ends it may end later.
   */
  endKnown: boolean;
  inFlight: number;
  /** Extra wait after reset, grown by 429s that happen despite pacing. */
  extraMarginMs: number;
  /**
   * When the last requests counted against this limit completed. A request may wait in the connection pool after
   * its slot is granted, so its arrival at the server is known only to precede its completion.
   */
  recentDone: number[];
  notifier: Notifier;
}

/**
 * X-RateLimit-Reset is whole seconds, so a window's true end can be up to a second before our estimate, and a
 * server that opens the next window with the first request after the end counts, in that new window, what we
 * sent in that last second. A window assumed fresh starts with those already spent.
 */
const RESET_UNCERTAINTY_MS = 1000;

type RouteState =
  | { kind: "probing"; notifier: Notifier }
  | { kind: "limited"; name: string }
  | { kind: "unlimited" };

export interface RateLimitSlot {
  /** The limit the request was counted against, if known when it was sent. */
  readonly limitName: string | undefined;
  /**
   * Must be called exactly once, when the response headers arrived (with the parsed headers, or undefined when
   * there were none) or when the attempt failed without a response (status undefined).
   */
  release(headers: RateLimitHeaders | undefined, status: number | undefined): void;
}

export interface RateLimitStatus {
  name: string;
  limit: number;
  remaining: number;
  inFlight: number;
  resetInMs: number;
}

export interface RateLimiterOptions {
  /** Added to every reset estimate (ms). Default 50. */
  marginMs?: number;
  /** Upper bound of the adaptive extra margin (ms). Default 1000. */
  maxExtraMarginMs?: number;
  now?: () => number;
}

export class RateLimiter {
  readonly #routes = new Map<string, RouteState>();
  readonly #limits = new Map<string, LimitState>();
  readonly #marginMs: number;
  readonly #maxExtraMarginMs: number;
  readonly #now: () => number;
  /** First requests of routes whose limit is not known yet: they may count against any limit. */
  #probesInFlight = 0;

  constructor(options: RateLimiterOptions = {}) {
    this.#marginMs = options.marginMs ?? 50;
    this.#maxExtraMarginMs = options.maxExtraMarginMs ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /** Waits until a request on `routeKey` may be sent, and reserves its slot. */
  async acquire(routeKey: string, signal?: AbortSignal): Promise<RateLimitSlot> {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const route = this.#routes.get(routeKey);
      if (route === undefined) {
        const probing: RouteState = { kind: "probing", notifier: new Notifier() };
        this.#routes.set(routeKey, probing);
        this.#probesInFlight++;
        return this.#slot(routeKey, undefined, probing);
      }
      if (route.kind === "probing") {
        await waitForChange(route.notifier, 60_000, signal);
        continue;
      }
      if (route.kind === "unlimited") return this.#slot(routeKey, undefined, undefined);

      const state = this.#limits.get(route.name);
      if (state === undefined) return this.#slot(routeKey, undefined, undefined);
      const now = this.#now();
      if (now >= state.resetAt) {
        // The window we tracked has certainly reset: assume a fresh one until answers say otherwise, less what
        // we sent while its true end was uncertain (those requests may have opened it).
        // Requests still running count through `inFlight`; those that completed since the window may have ended
        // may have reached the server after it ended.
        const since = state.resetAt - this.#marginMs - state.extraMarginMs - RESET_UNCERTAINTY_MS;
        state.recentDone = state.recentDone.filter((t) => t >= since);
        state.remaining = Math.max(0, state.limit - state.recentDone.length);
        state.resetAt = now + state.periodMs + this.#marginMs + state.extraMarginMs;
        state.endKnown = false;
      }
      if (state.remaining - state.inFlight - this.#probesInFlight > 0) {
        state.inFlight++;
        return this.#slot(routeKey, state, undefined);
      }
      await waitForChange(state.notifier, state.resetAt - now, signal);
    }
  }

  /** Current view of every known limit (for progress displays and tests). */
  status(): RateLimitStatus[] {
    const now = this.#now();
    return [...this.#limits.values()].map((s) => ({
      name: s.name,
      limit: s.limit,
      remaining: s.remaining,
      inFlight: s.inFlight,
      resetInMs: Math.max(0, s.resetAt - now),
    }));
  }

  /** The limit name learned for a route key, if any. */
  limitNameOf(routeKey: string): string | undefined {
    const route = this.#routes.get(routeKey);
    return route?.kind === "limited" ? route.name : undefined;
  }

  #slot(routeKey: string, state: LimitState | undefined, probe: { kind: "probing"; notifier: Notifier } | undefined): RateLimitSlot {
    let released = false;
    return {
      limitName: state?.name,
      release: (headers, status) => {
        if (released) return;
        released = true;
        if (state) {
          state.inFlight--;
          state.recentDone.push(this.#now());
          if (state.recentDone.length > 2 * state.limit) state.recentDone.splice(0, state.recentDone.length - state.limit);
        }
        if (probe) this.#probesInFlight--;
        this.#learn(routeKey, headers, status, probe);
        if (probe) for (const limit of this.#limits.values()) limit.notifier.notify();
        else state?.notifier.notify();
      },
    };
  }

  #learn(
    routeKey: string,
    headers: RateLimitHeaders | undefined,
    status: number | undefined,
    probe: { kind: "probing"; notifier: Notifier } | undefined,
  ): void {
    if (headers) {
      const name = headers.name ?? routeKey;
      this.#routes.set(routeKey, { kind: "limited", name });
      this.#update(name, headers, status);
    } else if (probe) {
      // No headers on the probe's answer. Only a success says "this route is not paced by headers"; a network
      // failure, a 429 or an error answered before the server's rate limiting (401/403, 5xx) teaches nothing, so
      // the next request probes again (one at a time).
      if (status !== undefined && status < 400) this.#routes.set(routeKey, { kind: "unlimited" });
      else this.#routes.delete(routeKey);
    }
    probe?.notifier.notify();
  }

  #update(name: string, h: RateLimitHeaders, status: number | undefined): void {
    const now = this.#now();
    let state = this.#limits.get(name);
    const periodMs = h.period !== undefined && h.period > 0 ? h.period * 1000 : undefined;
    if (state === undefined) {
      state = {
        name,
        limit: h.limit ?? h.remaining + 1,
        periodMs: periodMs ?? Math.max(1000, h.reset * 1000),
        remaining: h.remaining,
        resetAt: now + h.reset * 1000 + this.#marginMs,
        endKnown: true,
        inFlight: 0,
        extraMarginMs: 0,
        recentDone: [],
        notifier: new Notifier(),
      };
      this.#limits.set(name, state);
    } else {
      if (h.limit !== undefined) state.limit = h.limit;
      if (periodMs !== undefined) state.periodMs = periodMs;
      if (status === 429) state.extraMarginMs = Math.min(this.#maxExtraMarginMs, state.extraMarginMs + 250);
      const estimate = now + h.reset * 1000 + this.#marginMs + state.extraMarginMs;
      const tolerance = state.periodMs / 2;
      if (status === 429) {
        // The server says this window is spent, whatever we assumed: believe its reset.
        state.resetAt = estimate;
        state.endKnown = true;
      } else if (estimate > state.resetAt + tolerance) {
        // An answer from a newer window than the one tracked.
        state.remaining = h.remaining;
        state.resetAt = estimate;
        state.endKnown = true;
      } else if (estimate >= state.resetAt - tolerance) {
        // Same window: answers may arrive out of order; the lowest Remaining is the most recent truth. Every
        // estimate is at or after the true end, so the earliest is the tightest, except against our own guess
        // for an assumed window, which the server's first answer replaces (it may end later than we guessed).
        state.remaining = Math.min(state.remaining, h.remaining);
        state.resetAt = state.endKnown ? Math.min(state.resetAt, estimate) : estimate;
        state.endKnown = true;
      }
      // else: a late answer from an older window; it says nothing about the current one.
    }
    if (status === 429) state.remaining = 0;
  }
}
