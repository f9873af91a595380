/**
 * connectors/datadog/hosted.ts cold-started by the hosted runtime against the hosted test platform and the
 * Datadog simulator: the platform's config reaches buildDatadog, and the served policy is enforced by the
 * connector's HTTP client (a host it does not list gets nothing sent).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { datadogHosted } from "../../../connectors/datadog/hosted.ts";
import { startSimulator, type Simulator } from "../../../connectors/datadog/simulator/index.ts";
import { Code, ConnectorError } from "../../../src/connector/errors.ts";
import { startHostedRuntime } from "../../../src/hosted/runtime.ts";
import { silentLogger } from "../../helpers/logger.ts";
import { startHostedPlatform, type HostedPlatform } from "../platform/index.ts";

let sim: Simulator;
let platform: HostedPlatform;
let baseUrl: string;
beforeAll(async () => {
  sim = await startSimulator({ seed: 3, counts: { users: 5, teams: 1, roles: 2 } });
  // A served policy lists host names, never IP literals, so the simulator is reached as localhost.
  baseUrl = sim.baseUrl.replace("127.0.0.1", "localhost");
  platform = await startHostedPlatform();
});
afterAll(async () => {
  await platform?.close();
  await sim?.close();
});

const config = () => ({ "api-key": sim.apiKey, "app-key": sim.appKey, "base-url": baseUrl });

describe("Datadog as a hosted connector", () => {
  it("validates against the simulator when the served policy allows its host", async () => {
    platform.setConfig(config(), "dd-1", { allowedHosts: ["localhost"], mode: "enforce" });
    const runtime = await startHostedRuntime(datadogHosted, platform.env, { logger: silentLogger() });
    try {
      const { generation, release } = await runtime.acquire(undefined);
      const before = sim.stats.requests;
      await generation.rpc.validate({});
      expect(sim.stats.requests).toBeGreaterThan(before);
      expect(generation.egress.mode).toBe("rules");
      release();
    } finally {
      await runtime.close();
    }
  });

  it("fails every call with the egress error, sending nothing, when the policy does not list the host", async () => {
    platform.setConfig(config(), "dd-2", { allowedHosts: ["api.datadoghq.com"], mode: "enforce" });
    const runtime = await startHostedRuntime(datadogHosted, platform.env, { logger: silentLogger() });
    const before = sim.stats.requests;
    try {
      const { generation, release } = await runtime.acquire(undefined);
      const err = await generation.rpc.listResources({ resourceTypeId: "user", pageSize: 10 }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectorError);
      expect((err as ConnectorError).code).toBe(Code.PERMISSION_DENIED);
      expect((err as Error).message).toMatch(/egress to http:\/\/localhost:\d+ is not allowed by the egress policy, which allows api\.datadoghq\.com; nothing was sent/);
      expect(sim.stats.requests).toBe(before);
      release();
    } finally {
      await runtime.close();
    }
  });
});
