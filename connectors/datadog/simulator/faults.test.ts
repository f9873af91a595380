import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "./index.ts";
import { call, keyHeaders } from "./test-support.ts";

describe("fault injection", () => {
  let sim: Simulator;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 4, counts: { users: 45, teams: 25 }, rateLimit: { limit: 10_000, periodSeconds: 60 } });
  });
  afterEach(() => sim.clearFaults());
  afterAll(async () => {
    await sim.close();
  });

  it("answers a status a given number of times, only where it matches, then recovers", async () => {
    sim.injectFaults([{ match: { method: "GET", pathPrefix: "/api/v2/users" }, kind: "status", status: 503, count: 2 }]);
    expect((await call(sim, "/api/v2/team")).status).toBe(200);
    const first = await call(sim, "/api/v2/users");
    expect(first.status).toBe(503);
    expect(first.body).toEqual({ errors: ["Service Unavailable"] });
    expect(first.headers.get("x-ratelimit-name")).toBe("users");
    expect((await call(sim, "/api/v2/users?page[number]=1")).status).toBe(503);
    expect((await call(sim, "/api/v2/users")).status).toBe(200);
    expect(sim.pendingFaults()).toEqual([]);
  });

  it("answers 429 without any rate-limit header", async () => {
    sim.resetStats();
    sim.injectFaults([{ kind: "429-no-headers", count: 1 }]);
    const answer = await call(sim, "/api/v2/users");
    expect(answer.status).toBe(429);
    expect([...answer.headers.keys()].filter((k) => k.startsWith("x-ratelimit"))).toEqual([]);
    expect(sim.stats.http429).toBe(1);
  });

  it("resets the connection in the middle of the body", async () => {
    sim.injectFaults([{ kind: "reset", count: 1 }]);
    const response = await fetch(`${sim.baseUrl}/api/v2/users?page[size]=50`, { headers: keyHeaders(sim) });
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
    expect((await call(sim, "/api/v2/users")).status).toBe(200);
  });

  it("delays an answer, or starts one that never finishes", async () => {
    sim.injectFaults([{ kind: "slow", delayMs: 50, count: 1 }]);
    expect((await call(sim, "/api/v2/users")).status).toBe(200);

    sim.injectFaults([{ kind: "slow", count: 1 }]);
    const controller = new AbortController();
    const response = await fetch(`${sim.baseUrl}/api/v2/users?page[size]=50`, { headers: keyHeaders(sim), signal: controller.signal });
    const reader = response.body!.getReader();
    const firstChunk = await reader.read();
    expect(firstChunk.done).toBe(false);
    const expected = Number(response.headers.get("content-length"));
    expect(firstChunk.value!.length).toBeLessThan(expected);
    const next = await Promise.race([reader.read().then(() => "more"), sleep(200).then(() => "still waiting")]);
    expect(next).toBe("still waiting");
    controller.abort();
  });

  it("truncates JSON", async () => {
    const good = await call(sim, "/api/v2/users?page[size]=5");
    sim.injectFaults([{ kind: "malformed", count: 1 }]);
    const bad = await call(sim, "/api/v2/users?page[size]=5");
    expect(bad.status).toBe(200);
    expect(() => JSON.parse(bad.text)).toThrow();
    expect(good.text.startsWith(bad.text)).toBe(true);
  });

  it("breaks the shape in each way asked", async () => {
    const shaped = async (variant: "drop-required" | "wrong-type" | "nulls" | "unknown-fields"): Promise<any> => {
      sim.injectFaults([{ kind: "wrong-shape", variant, count: 1 }]);
      return (await call(sim, "/api/v2/users?page[size]=3")).body;
    };
    const dropped = await shaped("drop-required");
    expect(dropped.data[0].id).toBeUndefined();
    expect(dropped.data[1].id).toBeTypeOf("string");
    expect((await shaped("wrong-type")).data[0].id).toBe(12345);
    expect((await shaped("nulls")).data[0].attributes).toBeNull();
    const extra = await shaped("unknown-fields");
    expect(extra.unexpected_top_level).toBeDefined();
    expect(extra.data[0].unexpected_field).toBe("surprise");
    expect(extra.data[0].attributes.email).toBeTypeOf("string");
  });

  it("misstates every total of a listing answer, the items unchanged", async () => {
    const honest = (await call(sim, "/api/v2/users?page[size]=5")).body;
    sim.injectFaults([{ kind: "total", total: 1e11, count: 2 }]);
    const users = (await call(sim, "/api/v2/users?page[size]=5")).body;
    expect(users.meta.page).toMatchObject({ total_count: 1e11, total_filtered_count: 1e11 });
    expect(users.data).toEqual(honest.data);
    expect((await call(sim, "/api/v2/team?page[size]=5")).body.meta.pagination.total).toBe(1e11);
    expect((await call(sim, "/api/v2/team?page[size]=5")).body.meta.pagination.total).toBe(25);
  });

  it("repeats the first page forever, with a next link that moves on", async () => {
    const page0 = await call(sim, "/api/v2/team?page[size]=5");
    sim.injectFaults([{ kind: "repeat-page" }]);
    const page3 = await call(sim, "/api/v2/team?page[size]=5&page[number]=3");
    expect(page3.body.data.map((t: any) => t.id)).toEqual(page0.body.data.map((t: any) => t.id));
    expect(page3.body.links.next).toContain("page%5Bnumber%5D=4");
    const users = await call(sim, "/api/v2/users?page[size]=5&page[number]=2");
    const users0 = await call(sim, "/api/v2/users?page[size]=5&page[number]=0");
    expect(users.body.data).toEqual(users0.body.data);
    // Not a paged route: left alone.
    expect((await call(sim, `/api/v2/team/${page0.body.data[0].id}`)).body.data.id).toBe(page0.body.data[0].id);
  });

  it("puts an object of the previous page again at the top of the next", async () => {
    const page0 = await call(sim, "/api/v2/users?page[size]=10");
    sim.injectFaults([{ kind: "duplicate", count: 1 }]);
    // A first page cannot repeat anything, so it does not use the fault up.
    expect((await call(sim, "/api/v2/users?page[size]=10")).body.data).toHaveLength(10);
    const page1 = await call(sim, "/api/v2/users?page[size]=10&page[number]=1");
    expect(page1.body.data).toHaveLength(11);
    expect(page1.body.data[0].id).toBe(page0.body.data[9].id);
    expect(sim.pendingFaults()).toEqual([]);
  });

  it("sends an oversized but well-formed body", async () => {
    sim.injectFaults([{ kind: "oversized", bytes: 3 * 1024 * 1024, count: 1 }]);
    const response = await fetch(`${sim.baseUrl}/api/v2/users`, { headers: keyHeaders(sim) });
    expect(response.headers.get("content-length")).toBe(String(3 * 1024 * 1024));
    const text = await response.text();
    expect(text.length).toBe(3 * 1024 * 1024);
    expect(JSON.parse(text).data).toEqual([]);
  });

  it("rejects unknown fault kinds and bad counts", () => {
    expect(() => sim.injectFaults([{ kind: "explode" as never }])).toThrow(/unknown fault kind/);
    expect(() => sim.injectFaults([{ kind: "status", count: 0 }])).toThrow(/count/);
  });

  it("closes cleanly while an answer hangs", async () => {
    const other = await startSimulator({ counts: { users: 5 } });
    other.injectFaults([{ kind: "slow" }]);
    const pending = fetch(`${other.baseUrl}/api/v2/users`, { headers: keyHeaders(other) }).then((r) => r.text());
    while (!other.stats.byStatus[200]) await sleep(5);
    expect(other.stats.inFlight).toBe(1);
    await other.close();
    await expect(pending).rejects.toThrow();
  });
});
