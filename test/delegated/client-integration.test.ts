/**
 * The delegated provider plugged into the real Datadog API client (src/http retries, 401 handling, logging),
 * reading users and roles from the simulator while tokens keep expiring; the result must equal a static-key read.
 */
import { afterEach, describe, expect, it } from "vitest";
import { DelegatedTokenProvider } from "../../connectors/datadog/auth/delegated-provider.ts";
import { StaticKeyProvider, type CredentialProvider } from "../../connectors/datadog/client/credentials.ts";
import { DatadogClient } from "../../connectors/datadog/client/datadog-client.ts";
import { startSimulator, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { installDelegatedTokenRoute } from "../../connectors/datadog/simulator/delegated-token.ts";
import { captureLog } from "./helpers.ts";
import { expectNoSecrets, fixedAws, TEST_AWS } from "./sim-helpers.ts";

const COUNTS = { users: 150, roles: 8, teams: 2, schedules: 1, apiKeys: 2, appKeys: 2, serviceAccounts: 3 };

let sim: Simulator | undefined;
const clients: DatadogClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await sim?.close();
  sim = undefined;
});

async function readAll(client: DatadogClient) {
  const users: unknown[] = [];
  for (let page: number | undefined = 0; page !== undefined; ) {
    const res = await client.listUsersPage(page);
    users.push(...res.items);
    page = res.nextPage;
  }
  const roles: { id: string }[] = [];
  for (let page: number | undefined = 0; page !== undefined; ) {
    const res = await client.listRolesPage(page);
    roles.push(...res.items);
    page = res.nextPage;
  }
  // Role members concurrently: several requests at once meet the same expired token.
  const members = await Promise.all(
    roles.map(async (role) => {
      const ids: string[] = [];
      for (let page: number | undefined = 0; page !== undefined; ) {
        const res = await client.listRoleUsersPage(role.id, page);
        ids.push(...res.items.map((u) => u.id));
        page = res.nextPage;
      }
      return [role.id, ids.sort()] as const;
    }),
  );
  return { users, roles, members: Object.fromEntries(members) };
}

function client(s: Simulator, credentials: CredentialProvider, logger?: ReturnType<typeof captureLog>["logger"]) {
  const c = new DatadogClient({ baseUrl: s.baseUrl, credentials, pageSize: 10, ...(logger ? { logger } : {}) });
  clients.push(c);
  return c;
}

describe("DatadogClient with delegated auth", () => {
  it("reads the same users and roles as with static keys while the token expires several times", async () => {
    sim = await startSimulator({ seed: 51, counts: COUNTS, latencyMs: 2 });
    const dt = installDelegatedTokenRoute(sim, {
      awsAccessKeyId: TEST_AWS.accessKeyId,
      awsSecretAccessKey: TEST_AWS.secretAccessKey,
      tokenTtlSeconds: 2,
      responseDelayMs: 50,
    });
    const log = captureLog();
    const provider = new DelegatedTokenProvider({
      orgUuid: sim.orgUuid,
      apiBaseUrl: sim.baseUrl,
      explicitBaseUrl: sim.baseUrl,
      aws: fixedAws(),
      logger: log.logger,
    });
    const reference = await readAll(client(sim, new StaticKeyProvider(sim.apiKey, sim.appKey)));
    expect(reference.users).toHaveLength(COUNTS.users);

    const delegated = client(sim, provider, log.logger);
    let passes = 0;
    while (provider.stats().generation < 3 && passes < 300) {
      expect(await readAll(delegated)).toEqual(reference);
      passes += 1;
    }
    const stats = provider.stats();
    expect(stats.generation).toBeGreaterThanOrEqual(3);
    expect(stats.maxConcurrentExchanges).toBe(1);
    expect(dt.maxInFlight).toBe(1);
    expect(stats.exchanges).toBe(dt.accepted);
    expect(stats.usingFallback).toBe(false);
    expect(delegated.metrics.failures).toBe(0);
    expectNoSecrets(log.text(), [...dt.issuedTokens, ...dt.receivedProofs, TEST_AWS.secretAccessKey, TEST_AWS.sessionToken]);
    provider.close();
  });
});
