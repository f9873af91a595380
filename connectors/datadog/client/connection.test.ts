/**
 * DatadogConnection's early API key check (a one-shot sync's first request, cli-sync.ts) against the simulator:
 * the check started early serves the next validateApiKey() and only that one, and a failure reaches the taker.
 */
import { channel } from "node:diagnostics_channel";
import { afterEach, describe, expect, it } from "vitest";
import { HttpError } from "../../../src/index.ts";
import { rejection } from "../../../test/helpers/rejection.ts";
import { startSimulator, type Simulator } from "../simulator/index.ts";
import { DatadogConnection } from "./connection.ts";
import { StaticKeyProvider } from "./credentials.ts";
import { DatadogClient } from "./datadog-client.ts";

const noProxy = { httpProxy: "", httpsProxy: "", noProxy: "" };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function simulator(): Promise<Simulator> {
  const sim = await startSimulator({ seed: 4, counts: { users: 5 } });
  cleanups.push(() => sim.close());
  return sim;
}

function connect(sim: Simulator, apiKey = sim.apiKey): DatadogConnection {
  const connection = new DatadogConnection({
    baseUrl: sim.baseUrl,
    credentials: new StaticKeyProvider(apiKey, sim.appKey),
    http: { proxy: noProxy, maxRetries: 0 },
  });
  cleanups.push(() => connection.close());
  return connection;
}

const validations = (sim: Simulator) => sim.stats.byOperation["GET /api/v1/validate"] ?? 0;

describe("the early API key check", () => {
  it("is sent at once and taken by the client's next validateApiKey, which asks nothing more", async () => {
    const sim = await simulator();
    const connection = connect(sim);
    await connection.startApiKeyCheck();
    await expect.poll(() => validations(sim)).toBe(1);
    // A client built afterwards on the same connection (as the sync's connector is) takes the answer.
    const client = new DatadogClient({ connection });
    expect(await client.validateApiKey()).toBe(true);
    expect(validations(sim)).toBe(1);
    // Only once: a later Validate asks Datadog again.
    expect(await client.validateApiKey()).toBe(true);
    expect(validations(sim)).toBe(2);
  });

  it("hands its failure to the taker, with nothing unhandled before it is taken", async () => {
    const sim = await simulator();
    const connection = connect(sim, "wrong-api-key-0000");
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    cleanups.push(() => void process.off("unhandledRejection", onUnhandled));
    await connection.startApiKeyCheck();
    await expect.poll(() => sim.stats.byStatus[403] ?? 0).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(unhandled).toEqual([]);
    const err = await rejection(connection.validateApiKey(), HttpError);
    expect(err.status).toBe(403);
    expect(validations(sim)).toBe(1);
  });
});

describe("the early API key check that fails before it is sent", () => {
  it("ends the wait at once (nothing reached the wire) and hands the failure over", async () => {
    // Port 9 on loopback: refused at once, nothing is ever written.
    const connection = new DatadogConnection({
      baseUrl: "http://127.0.0.1:9",
      credentials: new StaticKeyProvider("0".repeat(32), "0".repeat(40)),
      http: { proxy: noProxy, maxRetries: 0 },
    });
    cleanups.push(() => connection.close());
    const started = performance.now();
    await connection.startApiKeyCheck(undefined, 30_000);
    expect(performance.now() - started).toBeLessThan(10_000);
    await rejection(connection.validateApiKey(), HttpError);
    // The 30 s wait is over, not left behind: it no longer listens for requests being sent.
    expect(channel("undici:client:sendHeaders").hasSubscribers).toBe(false);
  });
});
