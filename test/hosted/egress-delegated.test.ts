/**
 * The egress policy also covers Datadog's delegated-auth token exchange, which does not go through HttpClient:
 * a policy without the exchange host refuses it before anything is sent (the simulator counts requests).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DelegatedTokenProvider } from "../../connectors/datadog/auth/delegated-provider.ts";
import { startSimulator, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { installDelegatedTokenRoute, type DelegatedTokenStats } from "../../connectors/datadog/simulator/delegated-token.ts";
import { DENY_ALL, EgressDeniedError, egressPolicy } from "../../src/http/egress.ts";
import { fixedAws, TEST_AWS } from "../delegated/sim-helpers.ts";

let sim: Simulator;
let dt: DelegatedTokenStats;
beforeAll(async () => {
  sim = await startSimulator({ seed: 3, counts: { users: 3, roles: 1, teams: 1, schedules: 0, apiKeys: 1, appKeys: 1, serviceAccounts: 0 } });
  dt = installDelegatedTokenRoute(sim, { awsAccessKeyId: TEST_AWS.accessKeyId, awsSecretAccessKey: TEST_AWS.secretAccessKey });
});
afterAll(() => sim?.close());

const provider = (egress: typeof DENY_ALL) =>
  new DelegatedTokenProvider({ orgUuid: sim.orgUuid, apiBaseUrl: sim.baseUrl, explicitBaseUrl: sim.baseUrl, aws: fixedAws(), egress, backoffBaseMs: 1, backoffMaxMs: 1 });

describe("egress policy and the delegated token exchange", () => {
  it("deny-all and a policy without the host refuse the exchange; nothing reaches the simulator", async () => {
    for (const egress of [DENY_ALL, egressPolicy({ hosts: ["api.datadoghq.com"] })]) {
      const sent = sim.stats.requests;
      const p = provider(egress);
      try {
        const err = await p.start().then(() => undefined, (e: unknown) => e as Error);
        expect(err).toBeDefined();
        const denied = err instanceof EgressDeniedError ? err : (err as Error & { cause?: unknown }).cause;
        expect(String((denied as Error)?.message ?? err!.message)).toMatch(/delegated auth token exchange: egress to http:\/\/127\.0\.0\.1:\d+ is not allowed by the egress policy/);
      } finally {
        p.close();
      }
      expect(sim.stats.requests).toBe(sent);
      expect(dt.accepted + dt.refused).toBe(0);
    }
  });

  it("a policy that allows the host lets the exchange through", async () => {
    const p = provider(egressPolicy({ hosts: ["127.0.0.1"] }));
    try {
      await p.start();
      expect(dt.accepted).toBe(1);
    } finally {
      p.close();
    }
  });
});
