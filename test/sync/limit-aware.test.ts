import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { anyUnpack, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createConnectorService } from "../../src/connector/service.ts";
import { annotate, findAnnotation, pack } from "../../src/connector/annotations.ts";
import { entitlement, grant, groupResource, resourceId, resourceType } from "../../src/connector/builders.ts";
import type { Connector, ResourceSyncer } from "../../src/connector/types.ts";
import { RateLimitDescriptionSchema } from "../../src/gen/c1/connector/v2/annotation_ratelimit_pb.js";
import { ResourceType_Trait, type Resource } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { HttpClient } from "../../src/http/client.ts";
import { collectRateLimit } from "../../src/http/rate-limit-report.ts";
import { runSync } from "../../src/sync/engine.ts";
import { LimitAwareOrder } from "../../src/sync/limit-aware.ts";
import { c1zRows } from "../helpers/c1z-rows.ts";
import { silentLogger } from "../helpers/logger.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";
import { json, startHttpServer, type TestServer } from "../http/servers.ts";

const rateLimit = (limit: number, remaining: number, resetAt: number) =>
  annotate.rateLimit({ limit, remaining, resetAt: new Date(resetAt), overLimit: false });

describe("LimitAwareOrder", () => {
  it("leaves the choice to the caller until a class reports a limit", () => {
    const order = new LimitAwareOrder(() => 0);
    expect(order.choose([{ key: "grants:a", items: 5, pages: 0 }])).toBeUndefined();
    order.pageStarted("grants:a");
    order.pageEnded("grants:a", []); // an answer without a RateLimitDescription teaches nothing
    expect(order.choose([{ key: "grants:a", items: 5, pages: 0 }])).toBeUndefined();
  });

  it("serves the class whose waiting pages need the longest at its rate, pages per chain learned", () => {
    let now = 0;
    const order = new LimitAwareOrder(() => now);
    for (const [key, limit] of [["grants:team", 80], ["grants:role", 800]] as const) {
      order.chainStarted(key);
      order.pageStarted(key);
      order.pageEnded(key, [rateLimit(limit, limit - 1, 10_000)]);
    }
    // Same items waiting: the tighter limit needs ten times as long.
    expect(order.choose([{ key: "grants:role", items: 10, pages: 0 }, { key: "grants:team", items: 10, pages: 0 }])).toBe("grants:team");
    // Ten times the work behind the wider limit, and its chains are three pages each: role needs longer.
    order.pageStarted("grants:role");
    order.pageEnded("grants:role", [rateLimit(800, 700, 10_000)]);
    order.pageStarted("grants:role");
    order.pageEnded("grants:role", [rateLimit(800, 699, 10_000)]);
    expect(order.choose([{ key: "grants:role", items: 40, pages: 0 }, { key: "grants:team", items: 10, pages: 0 }])).toBe("grants:role");
    now = 1;
    expect(order.choose([{ key: "grants:role", items: 30, pages: 0 }, { key: "grants:team", items: 10, pages: 0 }])).toBe("grants:team");
  });

  it("counts handed-out pages as chains of their own, and tells which waiting work is longest", () => {
    const order = new LimitAwareOrder(() => 0);
    // One row that handed out 99 more pages, each fetched alone: a chain is one page, not a hundred.
    for (let i = 0; i < 100; i++) {
      order.chainStarted("grants:role");
      order.pageStarted("grants:role");
      order.pageEnded("grants:role", [rateLimit(100, 50, 10_000)]);
    }
    const role = { key: "grants:role", items: 10, pages: 0 };
    expect(order.longest([role])).toBe(1_000); // 10 chains x 1 page x 10 s / 100
    expect(order.longest([{ key: "grants:unknown", items: 1_000, pages: 0 }])).toBe(-1);
    expect(order.longest([role, { key: "grants:role", items: 20, pages: 5 }])).toBe(2_500);
  });

  it("skips a class out of budget until its window resets, and never holds all work back", () => {
    let now = 0;
    const order = new LimitAwareOrder(() => now);
    order.pageStarted("grants:team");
    order.pageEnded("grants:team", [rateLimit(10, 2, 5_000)]);
    order.pageStarted("grants:role");
    order.pageEnded("grants:role", [rateLimit(1000, 900, 5_000)]);
    const both = [{ key: "grants:team", items: 50, pages: 0 }, { key: "grants:role", items: 50, pages: 0 }];
    expect(order.choose(both)).toBe("grants:team");
    // Two pages in flight use the two requests left in team's window: role goes while team waits.
    order.pageStarted("grants:team");
    order.pageStarted("grants:team");
    expect(order.choose(both)).toBe("grants:role");
    // Every limited class out of budget: the longest one still starts (its requests wait in the HTTP pacing).
    expect(order.choose([{ key: "grants:team", items: 50, pages: 0 }])).toBe("grants:team");
    now = 5_000; // the window reset
    expect(order.choose(both)).toBe("grants:team");
  });

  it("takes a hostile connector's descriptions as ordering hints only: nothing it reports holds work back", () => {
    const order = new LimitAwareOrder(() => 1_000);
    const described = (key: string, limit: bigint, remaining: bigint, resetAtMs: number) => {
      order.pageStarted(key);
      order.pageEnded(key, [pack(RateLimitDescriptionSchema, { limit, remaining, resetAt: timestampFromMs(resetAtMs) })]);
    };
    described("grants:zero", 0n, 5n, 2_000); // no limit: ignored, the class stays unknown
    described("grants:far", 1n, -9n, 8.64e15); // out of budget until the end of time (and a window clamped to 1 h)
    described("grants:huge", 2n ** 63n - 1n, 2n ** 63n - 1n, 2_000);
    expect(order.choose([{ key: "grants:far", items: 1, pages: 0 }, { key: "grants:huge", items: 1_000_000, pages: 0 }])).toBe("grants:huge");
    expect(order.choose([{ key: "grants:far", items: 1, pages: 0 }])).toBe("grants:far");
    const turns = { callersTurn: false };
    expect(order.choose([{ key: "grants:zero", items: 9, pages: 0 }, { key: "grants:far", items: 1, pages: 0 }], turns)).toBeUndefined();
  });

  it("alternates with the caller's turns while some class with work has not reported a limit", () => {
    const order = new LimitAwareOrder(() => 0);
    order.pageStarted("list:user");
    order.pageEnded("list:user", [rateLimit(100, 50, 10_000)]);
    const mixed = [{ key: "list:user", items: 3, pages: 0 }, { key: "list:group", items: 3, pages: 0 }];
    const turns = { callersTurn: false };
    const picks = [0, 1, 2, 3].map(() => order.choose(mixed, turns));
    expect(picks).toEqual([undefined, "list:user", undefined, "list:user"]);
  });

  it("reads a limit off a RateLimitDescription exactly as annotate.rateLimit packs it", () => {
    const packed = rateLimit(40, 7, 12_000);
    const rl = anyUnpack(packed, RateLimitDescriptionSchema)!;
    expect([rl.limit, rl.remaining, rl.resetAt]).toEqual([40n, 7n, timestampFromMs(12_000)]);
  });
});

/**
 * A real HTTP server with fixed-window limits per path (X-RateLimit-* as Datadog sends them) and a connector whose
 * grants of type "tight" go to /tight (200 per window) and of type "wide" to /wide (100,000 per window).
 */
function limitedServer(): Promise<TestServer & { order: string[] }> {
  const order: string[] = [];
  const used = new Map<string, number>();
  // Wide enough that no test here ever waits for a window to reset.
  const limits: Record<string, number> = { "/tight": 200, "/wide": 100_000 };
  return startHttpServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    const limit = limits[path];
    if (limit === undefined) return json(res, 404, { errors: ["no such path"] });
    order.push(path.slice(1));
    const n = (used.get(path) ?? 0) + 1;
    used.set(path, n);
    json(res, 200, { ok: true }, {
      "x-ratelimit-limit": String(limit),
      "x-ratelimit-period": "60",
      "x-ratelimit-remaining": String(Math.max(0, limit - n)),
      "x-ratelimit-reset": "60",
      "x-ratelimit-name": path.slice(1),
    });
  }).then((server) => Object.assign(server, { order }));
}

function limitedConnector(http: HttpClient, perType: number, ownAnnotation = false): Connector {
  const groupType = (id: string) => resourceType({ id, displayName: id, traits: [ResourceType_Trait.GROUP] });
  const syncer = (type: string): ResourceSyncer => {
    const all = Array.from({ length: perType }, (_, i) => groupResource({ type, id: `${type}${i}`, displayName: `${type} ${i}` }));
    const member = (r: Resource) => entitlement(r, "member", { grantableTo: [groupType(type)] });
    return {
      resourceType: groupType(type),
      list: async () => ({ items: all }),
      entitlements: async (_ctx, r) => ({ items: [member(r)] }),
      grants: async (ctx, r) => {
        await http.request({ operation: `Get_${type}`, method: "GET", path: `/${type}`, signal: ctx.signal });
        const annotations = ownAnnotation ? [rateLimit(5, 4, Date.now() + 1000)] : [];
        return { items: [grant(member(r), resourceId(type, r.id!.resource))], annotations };
      },
    };
  };
  return { info: { displayName: "limited" }, validate: async () => [], syncers: [syncer("wide"), syncer("tight")] };
}

describe("limit-aware order in a sync (real HTTP server, SDK HttpClient, in-process connector service)", () => {
  const logger = silentLogger();
  const temp = makeTempDir("limit-aware-");
  const dir = temp.dir;
  let server: TestServer & { order: string[] };

  beforeAll(async () => {
    server = await limitedServer();
  });
  afterAll(async () => {
    await server.close();
    temp.cleanup();
  });

  it("reports the rate limit a list call ran under, unless the connector reported one itself", async () => {
    const http = new HttpClient({ baseUrl: server.url, logger });
    try {
      const rpc = createConnectorService(limitedConnector(http, 1), { logger, provisioning: false });
      const resource = groupResource({ type: "tight", id: "tight0", displayName: "tight 0" });
      const page = await rpc.listGrants({ resource }, {});
      const rl = findAnnotation(page.annotations, RateLimitDescriptionSchema)!;
      expect(rl.limit).toBe(200n);
      expect(Number(rl.remaining)).toBeLessThan(200);
      expect(Number(rl.resetAt!.seconds) * 1000).toBeGreaterThan(Date.now() + 50_000);

      const own = createConnectorService(limitedConnector(http, 1, true), { logger, provisioning: false });
      const annotated = await own.listGrants({ resource }, {});
      expect(annotated.annotations.filter((a) => a.typeUrl.endsWith("RateLimitDescription"))).toHaveLength(1);
      expect(findAnnotation(annotated.annotations, RateLimitDescriptionSchema)!.limit).toBe(5n);
      // No HTTP inside: nothing to report.
      expect((await rpc.listEntitlements({ resource }, {})).annotations).toEqual([]);
    } finally {
      await http.close();
    }
  });

  it("keeps the most constrained of several answers, and only inside a collection", async () => {
    const http = new HttpClient({ baseUrl: server.url, logger });
    try {
      const { value, rateLimit: seen } = await collectRateLimit(async () => {
        await http.request({ operation: "w", method: "GET", path: "/wide" });
        await http.request({ operation: "t", method: "GET", path: "/tight" });
        await http.request({ operation: "w", method: "GET", path: "/wide" });
        return 7;
      });
      expect(value).toBe(7);
      expect(seen?.limit).toBe(200);
      expect((await collectRateLimit(async () => 0)).rateLimit).toBeUndefined();
    } finally {
      await http.close();
    }
  });

  it("serves the type under the tightest limit first, with the same rows as equal turns", async () => {
    const orders: Record<string, string[]> = {};
    for (const limitAware of [true, false]) {
      server.order.length = 0;
      const http = new HttpClient({ baseUrl: server.url, logger });
      try {
        const rpc = createConnectorService(limitedConnector(http, 12), { logger, provisioning: false });
        const file = join(dir, `order-${limitAware}.c1z`);
        const result = await runSync({ connector: rpc, file, logger, concurrency: 1, limitAware });
        expect(result.stats.grants).toBe(24);
      } finally {
        await http.close();
      }
      orders[String(limitAware)] = [...server.order];
    }
    const lastTight = (o: string[]) => o.lastIndexOf("tight");
    const nthWide = (o: string[], n: number) => o.reduce<number[]>((at, p, i) => (p === "wide" ? [...at, i] : at), [])[n - 1];
    // Limit-aware: once both limits are known, every tight page goes before the wide ones (at most a probe or two
    // of wide first). Equal turns alternate: the fourth wide page comes long before the last tight one.
    expect(lastTight(orders.true)).toBeLessThan(nthWide(orders.true, 4));
    expect(lastTight(orders.false)).toBeGreaterThan(nthWide(orders.false, 4));
    expect((await c1zRows(join(dir, "order-true.c1z"))).rows).toEqual((await c1zRows(join(dir, "order-false.c1z"))).rows);
  });
});
