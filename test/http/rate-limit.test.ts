import { describe, expect, it } from "vitest";
import { backoffDelay, parseRetryAfter } from "../../src/http/backoff.ts";
import { parseRateLimitHeaders, RateLimiter, type RateLimitHeaders } from "../../src/http/rate-limit.ts";

function headers(h: Partial<RateLimitHeaders> & { remaining: number; reset: number }): RateLimitHeaders {
  return { limit: 10, period: 10, name: "n", ...h };
}

describe("parseRateLimitHeaders", () => {
  it("reads the five headers and tolerates missing optional ones", () => {
    const map: Record<string, string> = {
      "x-ratelimit-limit": "100",
      "x-ratelimit-period": "10",
      "x-ratelimit-remaining": "42",
      "x-ratelimit-reset": "7",
      "x-ratelimit-name": "users_list",
    };
    expect(parseRateLimitHeaders((n) => map[n])).toEqual({ limit: 100, period: 10, remaining: 42, reset: 7, name: "users_list" });
    expect(parseRateLimitHeaders((n) => ({ "x-ratelimit-remaining": "1", "x-ratelimit-reset": "2.5" })[n])).toEqual({
      limit: undefined,
      period: undefined,
      remaining: 1,
      reset: 2.5,
      name: undefined,
    });
    expect(parseRateLimitHeaders((n) => ({ "x-ratelimit-remaining": "x", "x-ratelimit-reset": "2" })[n])).toBeUndefined();
    expect(parseRateLimitHeaders(() => undefined)).toBeUndefined();
  });
});

describe("RateLimiter", () => {
  it("lets only one probe out per unknown route, then learns the limit name", async () => {
    const rl = new RateLimiter();
    const probe = await rl.acquire("ListUsers");
    let second = false;
    const p = rl.acquire("ListUsers").then((s) => {
      second = true;
      return s;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(second).toBe(false);
    probe.release(headers({ remaining: 5, reset: 5, name: "users" }), 200);
    const s2 = await p;
    expect(s2.limitName).toBe("users");
    expect(rl.limitNameOf("ListUsers")).toBe("users");
    s2.release(undefined, 200);
  });

  it("marks a route without headers unlimited, and re-probes after a failure without an answer", async () => {
    const rl = new RateLimiter();
    (await rl.acquire("A")).release(undefined, 200);
    const many = await Promise.all([rl.acquire("A"), rl.acquire("A"), rl.acquire("A")]);
    expect(many.every((s) => s.limitName === undefined)).toBe(true);

    (await rl.acquire("B")).release(undefined, undefined); // network error: nothing learned
    (await rl.acquire("B")).release(undefined, 401); // refused before rate limiting: nothing learned either
    const again = await rl.acquire("B"); // probes again (does not block)
    again.release(headers({ remaining: 3, reset: 5, name: "b" }), 200);
    expect(rl.limitNameOf("B")).toBe("b");
  });

  it("never hands out more slots than Remaining minus requests in flight", async () => {
    const rl = new RateLimiter();
    (await rl.acquire("R")).release(headers({ remaining: 3, reset: 30, name: "r" }), 200);
    const slots = [await rl.acquire("R"), await rl.acquire("R"), await rl.acquire("R")];
    let fourth = false;
    const ac = new AbortController();
    const p = rl.acquire("R", ac.signal).then(
      () => (fourth = true),
      () => "aborted",
    );
    await new Promise((r) => setTimeout(r, 30));
    expect(fourth).toBe(false);
    expect(rl.status()[0]).toMatchObject({ name: "r", remaining: 3, inFlight: 3 });
    // Answers in the same window lower Remaining to 0: still nothing free after they land.
    for (const [i, s] of slots.entries()) s.release(headers({ remaining: 2 - i, reset: 30, name: "r" }), 200);
    await new Promise((r) => setTimeout(r, 30));
    expect(fourth).toBe(false);
    ac.abort(new Error("stop"));
    expect(await p).toBe("aborted");
  });

  it("opens a new window once the advertised reset has passed", async () => {
    const rl = new RateLimiter({ marginMs: 0 });
    (await rl.acquire("R")).release(headers({ remaining: 0, reset: 0.2, limit: 2, name: "r" }), 200);
    const start = Date.now();
    const a = await rl.acquire("R");
    expect(Date.now() - start).toBeGreaterThanOrEqual(150);
    const b = await rl.acquire("R");
    expect(rl.status()[0]).toMatchObject({ remaining: 2, inFlight: 2 });
    a.release(undefined, undefined);
    b.release(undefined, undefined);
  });

  it("takes the end of a window it assumed at a reset from that window's first answer, even when later than guessed", async () => {
    let now = 1_000_000;
    const rl = new RateLimiter({ marginMs: 0, now: () => now });
    const spend = async (from: number) => {
      for (let left = from; left >= 0; left--) (await rl.acquire("R")).release(headers({ remaining: left, reset: 10, name: "r" }), 200);
    };
    await spend(9); // window 1 (10/10 s) spent
    now += 10_000;
    // The client assumes window 2 from now; the server opens it when this request arrives, 400 ms later, and
    // answers 100 ms after that: 10 whole seconds left (rounded up) from 500 ms past our guess of its start.
    const first = await rl.acquire("R");
    now += 500;
    first.release(headers({ remaining: 9, reset: 10, name: "r" }), 200);
    await spend(8); // window 2 spent
    now += 9_600; // our guessed end of window 2 has passed, the server's has not
    const ac = new AbortController();
    let early = false;
    const waiting = rl.acquire("R", ac.signal).then(
      (slot) => {
        early = true;
        slot.release(undefined, undefined);
      },
      () => "waited",
    );
    await new Promise((r) => setTimeout(r, 30));
    ac.abort(new Error("stop"));
    expect(await waiting).toBe("waited");
    expect(early).toBe(false);
    now += 500; // past the end the server announced
    (await rl.acquire("R")).release(undefined, undefined);
  });

  it("ignores late answers from an older window", async () => {
    let now = 1_000_000;
    const rl = new RateLimiter({ marginMs: 0, now: () => now });
    (await rl.acquire("R")).release(headers({ remaining: 5, reset: 10, period: 10, name: "r" }), 200);
    const late = await rl.acquire("R");
    now += 10_500; // window reset
    const fresh = await rl.acquire("R"); // assumes the new window: remaining = limit
    late.release(headers({ remaining: 0, reset: 1, period: 10, name: "r" }), 200); // processed in the old window
    expect(rl.status()[0].remaining).toBe(10);
    fresh.release(headers({ remaining: 9, reset: 10, period: 10, name: "r" }), 200);
    expect(rl.status()[0].remaining).toBe(9);
  });
});

describe("backoff", () => {
  it("grows exponentially with jitter and a cap", () => {
    const p = { baseMs: 100, maxMs: 1000 };
    expect(backoffDelay(0, p, () => 0)).toBe(50);
    expect(backoffDelay(0, p, () => 1)).toBe(100);
    expect(backoffDelay(3, p, () => 1)).toBe(800);
    expect(backoffDelay(10, p, () => 1)).toBe(1000);
  });

  it("parses Retry-After seconds and dates", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
