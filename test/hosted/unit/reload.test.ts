import { describe, expect, it } from "vitest";
import { Code } from "../../../src/connector/errors.ts";
import type { ConnectorRpc } from "../../../src/connector/rpc.ts";
import { ALLOW_ALL } from "../../../src/http/egress.ts";
import { createLogger } from "../../../src/log/index.ts";
import { Generations, HostedReloadError, type LiveGeneration } from "../../../src/hosted/reload.ts";

function setup(opts: { drainTimeoutMs?: number; closeTimeoutMs?: number; slowClose?: boolean } = {}) {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", destination: { write: (l: string) => lines.push(l) } });
  let clock = 1_000_000;
  const closed: string[] = [];
  const builds: string[] = [];
  let failNext = false;
  let serve: string | undefined; // a platform that keeps serving one version
  const make = (version: string, level: "info" | "debug" = "info"): LiveGeneration => ({
    version,
    rpc: {} as ConnectorRpc,
    provisioning: false,
    egress: ALLOW_ALL,
    logger: logger.child({ config_version: version }),
    logLevel: { level, debugExpiresAt: undefined },
    close: async () => {
      if (opts.slowClose) await new Promise((r) => setTimeout(r, 1000));
      closed.push(version);
    },
  });
  const gens = new Generations(make("v1"), {
    logger,
    now: () => clock,
    drainTimeoutMs: opts.drainTimeoutMs,
    closeTimeoutMs: opts.closeTimeoutMs,
    build: async (requested) => {
      builds.push(requested);
      if (failNext) {
        failNext = false;
        throw new Error("GetConnectorConfig: UNAVAILABLE platform down");
      }
      return make(serve ?? requested);
    },
  });
  return {
    gens,
    builds,
    closed,
    lines,
    tick: (ms: number) => (clock += ms),
    failOnce: () => (failNext = true),
    serveOnly: (v: string | undefined) => (serve = v),
  };
}

describe("generations and reload", () => {
  it("reuses the generation without a version or for the current one, and rebuilds once for a new one", async () => {
    const t = setup();
    for (const v of [undefined, "", "v1"]) (await t.gens.acquire(v)).release();
    expect(t.builds).toEqual([]);
    t.tick(1500);
    const a = await t.gens.acquire("v2");
    expect(a.generation.version).toBe("v2");
    a.release();
    (await t.gens.acquire("v2")).release();
    expect(t.builds).toEqual(["v2"]);
    await new Promise((r) => setTimeout(r, 10));
    expect(t.closed).toEqual(["v1"]);
  });

  it("keeps the 1 s floor after a rebuild and the 5 s cap for the same requested version", async () => {
    const t = setup();
    t.tick(500);
    expect((await t.gens.acquire("v2")).generation.version).toBe("v1"); // under 1 s since cold start: skipped
    t.tick(600);
    t.serveOnly("v1-old"); // the platform keeps serving an older version
    expect((await t.gens.acquire("v2")).generation.version).toBe("v1-old");
    t.tick(1200);
    expect((await t.gens.acquire("v2")).generation.version).toBe("v1-old"); // same request within 5 s: skipped
    expect((await t.gens.acquire("v2")).generation.version).toBe("v1-old");
    t.tick(4000);
    await t.gens.acquire("v2"); // 5.2 s later: fetched again
    expect(t.builds).toEqual(["v2", "v2"]);
    expect(t.lines.filter((l) => l.includes("keeps serving another config version")).length).toBe(1);
    t.tick(1100);
    t.serveOnly(undefined);
    expect((await t.gens.acquire("v3")).generation.version).toBe("v3"); // a different version only waits for the 1 s floor
  });

  it("a failed rebuild keeps the old generation, answers UNAVAILABLE with Go's message, and is retried on the next call", async () => {
    const t = setup();
    t.tick(2000);
    t.failOnce();
    const err = await t.gens.acquire("v2").then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(HostedReloadError);
    expect((err as HostedReloadError).code).toBe(Code.UNAVAILABLE);
    expect((err as Error).message).toBe("lambda-run: failed to reload connector config: GetConnectorConfig: UNAVAILABLE platform down");
    expect(t.gens.current.version).toBe("v1");
    expect((await t.gens.acquire(undefined)).generation.version).toBe("v1");
    expect((await t.gens.acquire("v2")).generation.version).toBe("v2"); // failures do not stamp the rate cap
    expect(t.builds).toEqual(["v2", "v2"]);
  });

  it("concurrent calls for a new version share one rebuild", async () => {
    const t = setup();
    t.tick(2000);
    const all = await Promise.all([1, 2, 3, 4].map(() => t.gens.acquire("v2")));
    expect(all.map((a) => a.generation.version)).toEqual(["v2", "v2", "v2", "v2"]);
    expect(t.builds).toEqual(["v2"]);
  });

  it("closes the old generation only after its calls drain, or after the drain timeout", async () => {
    const t = setup({ drainTimeoutMs: 200 });
    const inflight = await t.gens.acquire(undefined);
    t.tick(2000);
    (await t.gens.acquire("v2")).release();
    await new Promise((r) => setTimeout(r, 20));
    expect(t.closed).toEqual([]);
    inflight.release();
    await new Promise((r) => setTimeout(r, 10));
    expect(t.closed).toEqual(["v1"]);

    const stuck = await t.gens.acquire(undefined);
    t.tick(2000);
    (await t.gens.acquire("v3")).release();
    await new Promise((r) => setTimeout(r, 300));
    expect(t.closed).toEqual(["v1", "v2"]);
    expect(t.lines.some((l) => l.includes("did not drain in time"))).toBe(true);
    stuck.release();
  });

  it("bounds a slow close and applies the generation's log level on every call", async () => {
    const t = setup({ closeTimeoutMs: 50, slowClose: true });
    t.tick(2000);
    (await t.gens.acquire("v2")).release();
    await new Promise((r) => setTimeout(r, 120));
    expect(t.lines.some((l) => l.includes("did not close within 50 ms"))).toBe(true);
    const a = await t.gens.acquire(undefined);
    expect(a.generation.logger.level).toBe("info");
    a.release();
    await t.gens.close();
    await expect(t.gens.acquire(undefined)).rejects.toThrow(/shut down/);
  });
});
