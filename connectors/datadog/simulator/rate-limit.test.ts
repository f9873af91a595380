import { describe, expect, it } from "vitest";
import { startSimulator } from "./index.ts";
import { RateLimiter } from "./rate-limit.ts";
import { parseRateLimit } from "./settings.ts";
import { call } from "./test-support.ts";

describe("rate limits", () => {
  it("answers 429 after N requests of one named limit, with X-RateLimit headers on every answer", async () => {
    const sim = await startSimulator({ counts: { users: 30 }, rateLimit: { limit: 5, periodSeconds: 60 } });
    try {
      for (let i = 1; i <= 5; i++) {
        const answer = await call(sim, "/api/v2/users");
        expect(answer.status).toBe(200);
        expect(answer.headers.get("x-ratelimit-limit")).toBe("5");
        expect(answer.headers.get("x-ratelimit-period")).toBe("60");
        expect(answer.headers.get("x-ratelimit-remaining")).toBe(String(5 - i));
        expect(answer.headers.get("x-ratelimit-name")).toBe("users");
        const reset = Number(answer.headers.get("x-ratelimit-reset"));
        expect(reset).toBeGreaterThanOrEqual(1);
        expect(reset).toBeLessThanOrEqual(60);
      }
      const refused = await call(sim, `/api/v2/users/${sim.org.users.values()[0].id}`);
      expect(refused.status).toBe(429);
      expect(refused.body).toEqual({ errors: ["Too many requests"] });
      expect(refused.headers.get("x-ratelimit-remaining")).toBe("0");
      expect(refused.headers.get("x-ratelimit-name")).toBe("users");
      // Other limits are counted separately.
      const teams = await call(sim, "/api/v2/team");
      expect(teams.status).toBe(200);
      expect(teams.headers.get("x-ratelimit-name")).toBe("team");
      expect(teams.headers.get("x-ratelimit-remaining")).toBe("4");
      expect(sim.stats.http429).toBe(1);
      // Authentication comes first: a bad key is 403 even when the window is spent.
      expect((await call(sim, "/api/v2/users", { headers: { "DD-API-KEY": "bad" } })).status).toBe(403);
    } finally {
      await sim.close();
    }
  });

  it("uses per-name overrides and leaves unlimited simulators header-free", async () => {
    const sim = await startSimulator({ counts: { users: 5 }, rateLimit: { limit: 100, periodSeconds: 10 }, rateLimits: { on_call: { limit: 1, periodSeconds: 5 } } });
    const open = await startSimulator({ counts: { users: 5 } });
    try {
      const team = sim.org.teams.values()[0];
      expect((await call(sim, `/api/v2/on-call/teams/${team.id}/routing-rules`)).status).toBe(200);
      const second = await call(sim, `/api/v2/on-call/teams/${team.id}/routing-rules`);
      expect(second.status).toBe(429);
      expect(second.headers.get("x-ratelimit-period")).toBe("5");
      expect((await call(sim, "/api/v2/users")).headers.get("x-ratelimit-limit")).toBe("100");
      expect((await call(open, "/api/v2/users")).headers.get("x-ratelimit-limit")).toBeNull();
    } finally {
      await sim.close();
      await open.close();
    }
  });

  it("opens a new window once the period is over (fixed window, clock injected)", () => {
    const limiter = new RateLimiter({ limit: 2, periodSeconds: 10 });
    expect(limiter.take("users", 1_000)!.allowed).toBe(true);
    expect(limiter.take("users", 2_000)!.allowed).toBe(true);
    const refused = limiter.take("users", 3_500)!;
    expect(refused.allowed).toBe(false);
    expect(refused.headers["x-ratelimit-reset"]).toBe("8");
    expect(limiter.take("users", 10_999)!.allowed).toBe(false);
    const fresh = limiter.take("users", 11_000)!;
    expect(fresh.allowed).toBe(true);
    expect(fresh.headers["x-ratelimit-remaining"]).toBe("1");
    expect(new RateLimiter(null).take("users")).toBeNull();
  });

  it("parses N/SECONDS and explains bad input", () => {
    expect(parseRateLimit("100/10")).toEqual({ limit: 100, periodSeconds: 10 });
    expect(parseRateLimit("3/0.5")).toEqual({ limit: 3, periodSeconds: 0.5 });
    for (const bad of ["100", "0/10", "10/0", "a/b", "-1/5"]) expect(() => parseRateLimit(bad)).toThrow(/N\/SECONDS/);
  });
});
