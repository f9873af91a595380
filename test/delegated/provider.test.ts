import { afterEach, describe, expect, it, vi } from "vitest";
import { AwsCredentialSource } from "../../connectors/datadog/auth/aws-credentials.ts";
import { DelegatedTokenProvider } from "../../connectors/datadog/auth/delegated-provider.ts";
import { StaticKeyProvider } from "../../connectors/datadog/client/credentials.ts";
import { startSimulator, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { installDelegatedTokenRoute, type DelegatedTokenStats } from "../../connectors/datadog/simulator/delegated-token.ts";
import { Code, ConnectorError } from "../../src/connector/errors.ts";
import { captureLog, type CapturedLog } from "./helpers.ts";
import { apiGet, expectNoSecrets, fixedAws, readUsersAndRoles, TEST_AWS, type ReadCounters } from "./sim-helpers.ts";

const SMALL_ORG = { users: 90, roles: 6, teams: 2, schedules: 1, apiKeys: 2, appKeys: 2, serviceAccounts: 2 };

let sim: Simulator | undefined;
let providers: DelegatedTokenProvider[] = [];

afterEach(async () => {
  for (const p of providers) p.close();
  providers = [];
  await sim?.close();
  sim = undefined;
});

function provider(s: Simulator, log: CapturedLog, extra: Partial<ConstructorParameters<typeof DelegatedTokenProvider>[0]> = {}) {
  const p = new DelegatedTokenProvider({
    orgUuid: s.orgUuid,
    apiBaseUrl: s.baseUrl,
    explicitBaseUrl: s.baseUrl,
    aws: fixedAws(),
    logger: log.logger,
    ...extra,
  });
  providers.push(p);
  return p;
}

function secretsOf(dt: DelegatedTokenStats, s: Simulator): string[] {
  return [...dt.issuedTokens, ...dt.receivedProofs, TEST_AWS.secretAccessKey, TEST_AWS.sessionToken, s.apiKey, s.appKey];
}

describe("DelegatedTokenProvider against the simulator", () => {
  it("reads users and roles with delegated auth only while the token expires several times; refreshes are single-flight", async () => {
    sim = await startSimulator({ seed: 11, counts: SMALL_ORG, latencyMs: 2 });
    const dt = installDelegatedTokenRoute(sim, {
      awsAccessKeyId: TEST_AWS.accessKeyId,
      awsSecretAccessKey: TEST_AWS.secretAccessKey,
      tokenTtlSeconds: 2,
      // Long enough that concurrent exchanges, if the provider allowed them, would overlap at the server.
      responseDelayMs: 80,
    });
    const log = captureLog();
    const delegated = provider(sim, log);
    const reference = await readUsersAndRoles(new StaticKeyProvider(sim.apiKey, sim.appKey), sim.baseUrl);
    expect(reference.users).toHaveLength(SMALL_ORG.users);

    const counters: ReadCounters = { requests: 0, unauthorizedRetries: 0 };
    let passes = 0;
    // Keep reading until the token has been replaced several times (bounded so a bug cannot loop forever).
    while (delegated.stats().generation < 4 && passes < 400) {
      expect(await readUsersAndRoles(delegated, sim.baseUrl, counters)).toEqual(reference);
      passes += 1;
    }
    const stats = delegated.stats();
    expect(stats.generation).toBeGreaterThanOrEqual(4);
    expect(stats.usingFallback).toBe(false);
    expect(stats.failedExchanges).toBe(0);
    // Single flight: never two exchanges at once, seen from both sides.
    expect(stats.maxConcurrentExchanges).toBe(1);
    expect(dt.maxInFlight).toBe(1);
    expect(dt.accepted).toBe(stats.exchanges);
    expect(dt.refused).toBe(0);
    // Every token that was issued was installed (no exchange was wasted or discarded).
    expect(stats.generation).toBe(stats.exchanges);
    // Many requests per token: far fewer exchanges than requests.
    expect(stats.exchanges).toBeLessThan(counters.requests / 4);
    expect(sim.stats.byOperation["GET /api/v2/users"]).toBeGreaterThan(0);
    expectNoSecrets(log.text(), secretsOf(dt, sim));
    expect(log.lines().filter((l) => l.event === "delegated_auth_token").length).toBe(stats.exchanges);
  });

  it("shares one exchange among many concurrent callers, first token and after expiry", async () => {
    sim = await startSimulator({ seed: 2, counts: SMALL_ORG });
    const dt = installDelegatedTokenRoute(sim, {
      awsAccessKeyId: TEST_AWS.accessKeyId,
      awsSecretAccessKey: TEST_AWS.secretAccessKey,
      tokenTtlSeconds: 600,
      responseDelayMs: 150,
    });
    let offset = 0;
    const log = captureLog();
    const p = provider(sim, log, { now: () => Date.now() + offset });

    const first = await Promise.all(Array.from({ length: 25 }, () => p.headers()));
    expect(new Set(first.map((h) => h.Authorization)).size).toBe(1);
    expect(first[0]!.Authorization).toMatch(/^Bearer /);
    expect(p.stats().exchanges).toBe(1);

    offset = 601_000; // the provider's clock says the token has expired: everyone must wait for one new token
    const second = await Promise.all(Array.from({ length: 25 }, () => p.headers()));
    expect(new Set(second.map((h) => h.Authorization)).size).toBe(1);
    expect(second[0]!.Authorization).not.toBe(first[0]!.Authorization);
    expect(p.stats().exchanges).toBe(2);
    expect(dt.maxInFlight).toBe(1);
    expect(p.stats().maxConcurrentExchanges).toBe(1);
    expectNoSecrets(log.text(), secretsOf(dt, sim));
  });

  it("on a 401 refreshes once and retries; a 401 for an already-replaced token needs no exchange", async () => {
    sim = await startSimulator({ seed: 3, counts: SMALL_ORG });
    const dt = installDelegatedTokenRoute(sim, { awsAccessKeyId: TEST_AWS.accessKeyId, awsSecretAccessKey: TEST_AWS.secretAccessKey });
    const log = captureLog();
    const p = provider(sim, log);
    const before = await p.headers();
    sim.revokeBearerToken(before.Authorization!.slice("Bearer ".length));

    const counters: ReadCounters = { requests: 0, unauthorizedRetries: 0 };
    const body = await apiGet(p, sim.baseUrl, "/api/v2/users?page%5Bsize%5D=1", counters);
    expect(body.data).toHaveLength(1);
    expect(counters.unauthorizedRetries).toBe(1);
    expect(p.stats().exchanges).toBe(2);

    // A request that was sent with the old token comes back 401 after the refresh: just retry with the new one.
    expect(await p.onUnauthorized(before)).toBe(true);
    expect(p.stats().exchanges).toBe(2);
    expectNoSecrets(log.text(), secretsOf(dt, sim));
  });

  it("keeps the current token when a refresh fails, retries with backoff, and fails clearly once it expires", async () => {
    sim = await startSimulator({ seed: 4, counts: SMALL_ORG });
    const dt = installDelegatedTokenRoute(sim, {
      awsAccessKeyId: TEST_AWS.accessKeyId,
      awsSecretAccessKey: TEST_AWS.secretAccessKey,
      tokenTtlSeconds: 600,
    });
    let offset = 0;
    const log = captureLog();
    const p = provider(sim, log, { now: () => Date.now() + offset, random: () => 0, backoffBaseMs: 1_000 });
    const original = (await p.headers()).Authorization;

    sim.injectFaults([{ match: { pathPrefix: "/api/v2/delegated-token" }, kind: "status", status: 503 }]);
    offset = 500_000; // 100 s left of 600: inside the refresh-ahead window
    expect((await p.headers()).Authorization).toBe(original); // still served while the refresh runs
    await vi.waitFor(() => expect(p.stats().failedExchanges).toBe(1));
    // The old token still works at the API, and is still what we send.
    expect((await apiGet(p, sim.baseUrl, "/api/v2/users?page%5Bsize%5D=1")).data).toHaveLength(1);
    expect(p.stats().exchanges).toBe(2); // inside the backoff: no new attempt

    offset += 5_000; // past the first backoff (jittered 0.5–1 s)
    expect((await p.headers()).Authorization).toBe(original);
    await vi.waitFor(() => expect(p.stats().failedExchanges).toBe(2));
    expect(p.stats().exchanges).toBe(3);

    offset = 700_000; // expired: callers now wait for a new token, and this attempt fails too
    const err = await p.headers().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe(Code.UNAVAILABLE);
    expect((err as Error).message).toMatch(/Datadog refused the token exchange with HTTP 503: Service Unavailable/);

    sim.clearFaults();
    offset = 800_000;
    const recovered = (await p.headers()).Authorization;
    expect(recovered).not.toBe(original);
    expect(p.stats().failedExchanges).toBe(3);

    const warnings = log.lines().filter((l) => l.event === "delegated_auth_refresh_failed");
    expect(warnings.length).toBe(2);
    expect(String(warnings[0]!.reason)).toMatch(/HTTP 503/);
    expectNoSecrets(log.text(), secretsOf(dt, sim));
  });

  it("corrects token expiry for a local clock that is far off Datadog's (no exchange storm)", async () => {
    sim = await startSimulator({ seed: 12, counts: SMALL_ORG });
    installDelegatedTokenRoute(sim, { awsAccessKeyId: TEST_AWS.accessKeyId, awsSecretAccessKey: TEST_AWS.secretAccessKey, tokenTtlSeconds: 600 });
    const log = captureLog();
    // Our clock runs an hour ahead: by it, every 10-minute token "expired" 50 minutes ago.
    const p = provider(sim, log, { now: () => Date.now() + 3_600_000 });
    const tokens = new Set<string>();
    for (let i = 0; i < 5; i++) tokens.add((await p.headers()).Authorization!);
    expect(tokens.size).toBe(1);
    expect(p.stats().exchanges).toBe(1);
    const skew = log.lines().find((l) => l.event === "delegated_auth_clock_skew");
    expect(Number(skew?.skewMs)).toBeGreaterThan(3_590_000);
  });

  it("falls back to static keys when the first exchange is refused, and says so once", async () => {
    sim = await startSimulator({ seed: 5, counts: SMALL_ORG });
    const dt = installDelegatedTokenRoute(sim, { awsAccessKeyId: TEST_AWS.accessKeyId, awsSecretAccessKey: "a-different-secret" });
    const log = captureLog();
    const p = provider(sim, log, { fallback: new StaticKeyProvider(sim.apiKey, sim.appKey) });

    const all = await Promise.all(Array.from({ length: 10 }, () => p.headers()));
    for (const h of all) expect(Object.keys(h).sort()).toEqual(["DD-API-KEY", "DD-APPLICATION-KEY"]);
    const counters: ReadCounters = { requests: 0, unauthorizedRetries: 0 };
    const snapshot = await readUsersAndRoles(p, sim.baseUrl, counters);
    expect(snapshot.users).toHaveLength(SMALL_ORG.users);
    expect(p.usingFallback).toBe(true);
    expect(p.describe()).toMatch(/static API and application keys \(fallback: delegated auth .* could not get a token\)/);
    expect(p.secretHeaderNames).toEqual(expect.arrayContaining(["Authorization", "DD-API-KEY", "DD-APPLICATION-KEY"]));
    expect(p.stats().exchanges).toBe(1);
    expect(dt.refused).toBe(1);

    const fallbacks = log.lines().filter((l) => l.event === "delegated_auth_fallback");
    expect(fallbacks).toHaveLength(1);
    expect(fallbacks[0]!.level).toBe(40); // warn
    expect(String(fallbacks[0]!.msg)).toMatch(/falling back to the configured static API and application keys/);
    expect(String(fallbacks[0]!.reason)).toMatch(/HTTP 403: AWS rejected the proof: SignatureDoesNotMatch/);
    expectNoSecrets(log.text(), [...secretsOf(dt, sim), "a-different-secret"]);
  });

  it("falls back when Datadog does not answer the exchange in time", async () => {
    sim = await startSimulator({ seed: 6, counts: SMALL_ORG });
    installDelegatedTokenRoute(sim, { awsAccessKeyId: TEST_AWS.accessKeyId, awsSecretAccessKey: TEST_AWS.secretAccessKey });
    sim.injectFaults([{ match: { pathPrefix: "/api/v2/delegated-token" }, kind: "slow" }]); // headers, half a body, then nothing
    const log = captureLog();
    const p = provider(sim, log, { fallback: new StaticKeyProvider(sim.apiKey, sim.appKey), exchangeTimeoutMs: 300 });
    expect(Object.keys(await p.headers())).toContain("DD-API-KEY");
    const reason = String(log.lines().find((l) => l.event === "delegated_auth_fallback")?.reason);
    expect(reason).toMatch(/did not answer within/);
  });

  it("without static keys, a failed first exchange is a clear error (and nothing secret is in it)", async () => {
    sim = await startSimulator({ seed: 7, counts: SMALL_ORG });
    const dt = installDelegatedTokenRoute(sim, { awsAccessKeyId: TEST_AWS.accessKeyId, awsSecretAccessKey: "a-different-secret" });
    const log = captureLog();
    const p = provider(sim, log, { backoffBaseMs: 20 });
    const err = await p.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe(Code.PERMISSION_DENIED);
    const message = (err as Error).message;
    expect(message).toMatch(/could not get a Datadog access token and no static API\/application keys are configured/);
    expect(message).toMatch(/HTTP 403: AWS rejected the proof: SignatureDoesNotMatch/);
    expect(message).toMatch(/persona mapping/);
    await expect(p.headers()).rejects.toThrow(/no static API\/application keys/);
    expect(p.usingFallback).toBe(false);
    expectNoSecrets(`${log.text()}\n${message}\n${JSON.stringify(err)}\n${(err as Error).stack}`, secretsOf(dt, sim));
  });

  it("reports a missing persona mapping with Datadog's text", async () => {
    sim = await startSimulator({ seed: 8, counts: SMALL_ORG });
    installDelegatedTokenRoute(sim, {
      awsAccessKeyId: TEST_AWS.accessKeyId,
      awsSecretAccessKey: TEST_AWS.secretAccessKey,
      roleArn: "arn:aws:iam::123456789012:role/unmapped",
      roleArnToUserId: { "arn:aws:iam::123456789012:role/other": sim.org.users.values()[1]!.id },
    });
    const p = provider(sim, captureLog());
    await expect(p.start()).rejects.toThrow(/No persona mapping for AWS role arn:aws:iam::123456789012:role\/unmapped/);
  });

  it("acts as the Datadog user the role is mapped to", async () => {
    sim = await startSimulator({ seed: 9, counts: SMALL_ORG });
    const mapped = sim.org.users.values()[3]!;
    installDelegatedTokenRoute(sim, {
      awsAccessKeyId: TEST_AWS.accessKeyId,
      awsSecretAccessKey: TEST_AWS.secretAccessKey,
      roleArn: "arn:aws:iam::123456789012:role/baton",
      roleArnToUserId: { "arn:aws:iam::123456789012:role/baton": mapped.id },
    });
    // A probe route that answers with the caller the simulator authenticated.
    sim.addRoute("GET", "/test/whoami", (ctx) => ({ status: 200, body: { kind: ctx.principal?.kind, userId: ctx.principal?.userId } }));
    const p = provider(sim, captureLog());
    expect(await apiGet(p, sim.baseUrl, "/test/whoami")).toEqual({ kind: "bearer", userId: mapped.id });
    expect((await apiGet(p, sim.baseUrl, "/api/v2/users?page%5Bsize%5D=1")).data).toHaveLength(1);
  });

  it("refuses an oversized exchange answer (1 MiB cap)", async () => {
    sim = await startSimulator({ seed: 10, counts: SMALL_ORG });
    installDelegatedTokenRoute(sim, { awsAccessKeyId: TEST_AWS.accessKeyId, awsSecretAccessKey: TEST_AWS.secretAccessKey });
    sim.injectFaults([{ match: { pathPrefix: "/api/v2/delegated-token" }, kind: "oversized", bytes: 3 * 1024 * 1024 }]);
    const p = provider(sim, captureLog());
    await expect(p.start()).rejects.toThrow(/exceeded 1048576 bytes/);
  });

  it("refuses to send the proof anywhere but Datadog's API hosts or the explicit --base-url", () => {
    const org = "0b1c2d3e-4f50-4a61-8b72-9c8d7e6f5a4b";
    for (const apiBaseUrl of ["http://127.0.0.1:9", "https://api.datadoghq.com.attacker.example", "https://attacker.example"]) {
      let caught: unknown;
      try {
        new DelegatedTokenProvider({ orgUuid: org, apiBaseUrl, aws: fixedAws() });
      } catch (err) {
        caught = err;
      }
      expect(caught, apiBaseUrl).toBeInstanceOf(ConnectorError);
      expect((caught as ConnectorError).code).toBe(Code.INVALID_ARGUMENT);
      expect((caught as Error).message).toMatch(/refusing to send the AWS identity proof/);
    }
    expect(() => new DelegatedTokenProvider({ orgUuid: org, apiBaseUrl: "https://api.datadoghq.eu", aws: fixedAws() })).not.toThrow();
    expect(() => new DelegatedTokenProvider({ orgUuid: "not-a-uuid", apiBaseUrl: "https://api.datadoghq.eu" })).toThrow(
      /--delegated-auth-org-uuid must be/,
    );
  });
});

describe("DelegatedTokenProvider without AWS credentials", () => {
  it("reports the missing AWS identity as UNAUTHENTICATED with the chain's explanation", async () => {
    const log = captureLog();
    const p = new DelegatedTokenProvider({
      orgUuid: "0b1c2d3e-4f50-4a61-8b72-9c8d7e6f5a4b",
      apiBaseUrl: "https://api.datadoghq.com",
      aws: new AwsCredentialSource({ provider: async () => Promise.reject(new Error("Could not load credentials from any providers")) }),
      logger: log.logger,
    });
    providers.push(p);
    const err = await p.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe(Code.UNAUTHENTICATED);
    expect((err as Error).message).toMatch(/no static API\/application keys .*: no AWS credentials found .*Could not load credentials/);
    expect(p.stats().exchanges).toBe(1);
  });
});
