/**
 * The hosted runtime's cold start, reload and sessions against the hosted test platform (test/hosted/platform):
 * a real HTTPS token endpoint that verifies DPoP proofs, the client assertion and the id_att SigV4 signature,
 * and real gRPC ConnectorConfigService / BatonSessionService over TLS, each call checked for its proof.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/config/errors.ts";
import { defineConfig, field } from "../../../src/config/index.ts";
import { Code, ConnectorError } from "../../../src/connector/errors.ts";
import type { ConnectorRpc } from "../../../src/connector/rpc.ts";
import type { SessionBackend } from "../../../src/connector/session.ts";
import { defineHostedConnector, type HostedBuildEnv } from "../../../src/hosted/definition.ts";
import { HostedReloadError, startHostedRuntime, type HostedRuntime } from "../../../src/hosted/runtime.ts";
import { createLogger } from "../../../src/log/index.ts";
import { makeClientSecret } from "../../platform/platform.ts";
import { startHostedPlatform, type HostedPlatform } from "../platform/index.ts";
import type { TestPki } from "../../platform/pki.ts";

const config = defineConfig({
  apiKey: field.string({ description: "API key", secret: true, required: true }),
  site: field.enum({ description: "site", values: ["US1", "EU1"], default: "US1" }),
});
type Cfg = { apiKey: string; site: string };

function testConnector() {
  const builds: { config: Cfg; env: HostedBuildEnv }[] = [];
  const closes: string[] = [];
  const def = defineHostedConnector({
    name: "hosted-test",
    version: "0.0.1",
    config,
    async build(cfg, env) {
      builds.push({ config: cfg as Cfg, env });
      return { rpc: {} as ConnectorRpc, close: async () => void closes.push(cfg.site) };
    },
  });
  return { def, builds, closes };
}

const lines: string[] = [];
const logger = createLogger({ level: "debug", destination: { write: (l: string) => lines.push(l) } });
const SYNC_ID = "2c5Kq0wVvS3pX9yZ1aB4cD6eF8g";
const good = { "api-key": "k-0123456789abcdef", site: "EU1", provisioning: true };

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (err: unknown) => err as Error,
  );
}

let platform: HostedPlatform;
let pki: TestPki;
beforeAll(async () => {
  platform = await startHostedPlatform({ config: { config: good, version: "cv-1" } });
  pki = platform.pki;
});
afterAll(async () => {
  await platform?.close();
});

describe("hosted runtime against the test platform", () => {
  let runtime: HostedRuntime;
  let connector: ReturnType<typeof testConnector>;

  it("cold-starts: nonce challenge answered, id_att and assertion verified, config decrypted, validated and built once", async () => {
    connector = testConnector();
    runtime = await startHostedRuntime(connector.def, platform.env, { logger });
    expect(connector.builds).toHaveLength(1);
    expect(connector.builds[0]!.config).toEqual({ apiKey: "k-0123456789abcdef", site: "EU1" });
    expect(connector.builds[0]!.env.provisioning).toBe(true);
    expect(connector.builds[0]!.env.egress.mode).toBe("allow-all");

    const tokens = platform.tokenRequests;
    expect(tokens.map((t) => [t.status, t.error])).toEqual([
      [400, "use_dpop_nonce"],
      [200, undefined],
    ]);
    expect(tokens[1]!.proofNonce).toBeDefined();
    expect(tokens[1]!.idAttSignedHeaders).toEqual(["content-length", "content-type", "host", "x-amz-date", "x-amz-security-token"]);
    expect(tokens[1]!.assertionClaims?.aud).toBe("127.0.0.1");
    expect(Object.keys(tokens[1]!.assertionClaims ?? {})).toEqual(["iss", "sub", "aud", "exp", "nbf", "iat", "id_att"]);
    expect(platform.lastConfigRequest?.requestedVersion).toBe("");
    expect(platform.grpcCalls.every((c) => c.outcome === "ok")).toBe(true);

    const acquired = await runtime.acquire(undefined);
    expect(acquired.generation.version).toBe("cv-1");
    acquired.release();
    const t = runtime.coldStart;
    for (const k of ["tokenMs", "configFetchMs", "decryptMs", "buildMs", "totalMs"] as const) expect(t[k]).toBeGreaterThan(0);
    expect(lines.join("")).not.toContain("k-0123456789abcdef");
  });

  it("sets and gets session values through the platform's session service, with the local cache in front", async () => {
    const sessions: SessionBackend = connector.builds[0]!.env.sessions;
    const before = platform.counters.sessionCalls;
    await sessions.set(SYNC_ID, "role-index", new TextEncoder().encode('{"admin":"r1"}'));
    expect(new TextDecoder().decode(await sessions.get(SYNC_ID, "role-index"))).toBe('{"admin":"r1"}');
    expect(platform.counters.sessionCalls - before).toBe(1); // the get came from the cache
    await sessions.delete(SYNC_ID, "role-index");
    expect(await sessions.get(SYNC_ID, "role-index")).toBeUndefined(); // asked the platform: gone there too
    expect(platform.counters.sessionCalls - before).toBe(3);
    await sessions.set(SYNC_ID, "a", new Uint8Array([1]));
    await sessions.clear(SYNC_ID);
    expect(await sessions.get(SYNC_ID, "a")).toBeUndefined();
    const bad = await rejection(sessions.get("not-a-ksuid", "a"));
    expect(bad).toBeInstanceOf(ConnectorError);
    expect(bad.message).toMatch(/sync id "not-a-ksuid" is not 27 letters and digits/);
    expect(platform.grpcCalls.filter((c) => c.method.includes("BatonSessionService")).every((c) => c.outcome === "ok")).toBe(true);
    expect(platform.counters.tokenRequests).toBe(2); // one token (after its nonce challenge) for every call so far
  });

  it("reloads once for a new config version, not again for the same one, and labels by the served version", async () => {
    platform.setConfig({ ...good, site: "US1", provisioning: false }, "cv-2", { allowedHosts: ["api.example.com"], mode: "enforce" });
    await new Promise((r) => setTimeout(r, 1100)); // the 1 s floor since the last build
    const fetches = platform.counters.configFetches;
    const a = await runtime.acquire("cv-2");
    expect(a.generation.version).toBe("cv-2");
    expect(a.generation.provisioning).toBe(false);
    expect(a.generation.egress.allows(new URL("https://api.example.com/x"))).toBe(true);
    expect(a.generation.egress.allows(new URL("https://other.example.com/x"))).toBe(false);
    a.release();
    for (let i = 0; i < 3; i++) (await runtime.acquire("cv-2")).release();
    expect(platform.counters.configFetches - fetches).toBe(1);
    expect(platform.lastConfigRequest?.requestedVersion).toBe("cv-2");
    expect(connector.builds).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 20));
    expect(connector.closes).toEqual(["EU1"]); // the old generation, once drained
  });

  it("a failing reload keeps the old generation and answers UNAVAILABLE; the next call retries", async () => {
    platform.setConfig(good, "cv-3");
    await new Promise((r) => setTimeout(r, 1100));
    platform.fail.config.unavailable = 1;
    const err = await rejection(runtime.acquire("cv-3"));
    expect(err).toBeInstanceOf(HostedReloadError);
    expect((err as HostedReloadError).code).toBe(Code.UNAVAILABLE);
    expect(err.message).toMatch(/^lambda-run: failed to reload connector config: /);
    const still = await runtime.acquire(undefined);
    expect(still.generation.version).toBe("cv-2");
    still.release();
    const next = await runtime.acquire("cv-3");
    expect(next.generation.version).toBe("cv-3");
    next.release();
  });

  it("a config that fails validation on reload names the field and keeps serving", async () => {
    platform.setConfig({ site: "EU1" }, "cv-4");
    await new Promise((r) => setTimeout(r, 1100));
    const err = await rejection(runtime.acquire("cv-4"));
    expect(err.message).toMatch(/failed to validate config: "api-key" is required/);
    expect(runtime.reloads).toBe(2);
    await runtime.close();
  });
});

describe("hosted cold-start failures", () => {
  const start = (env: Record<string, string | undefined>) => startHostedRuntime(testConnector().def, env as NodeJS.ProcessEnv, { logger });

  it("an undecryptable config is a clear cold-start error", async () => {
    const p = await startHostedPlatform({ pki, config: { config: good, version: "v1" } });
    try {
      p.fail.config.undecryptable = 1;
      expect((await rejection(start(p.env))).message).toMatch(/cannot decrypt the connector config: age: /);
    } finally {
      await p.close();
    }
  });

  it("a config missing a required field names it", async () => {
    const p = await startHostedPlatform({ pki, config: { config: { site: "US1" }, version: "v1" } });
    try {
      expect((await rejection(start(p.env))).message).toMatch(/failed to validate config: "api-key" is required/);
    } finally {
      await p.close();
    }
  });

  it("a client secret the platform does not know is refused with the fix; a nonce challenge without a nonce is named", async () => {
    const p = await startHostedPlatform({ pki, config: { config: good, version: "v1" } });
    try {
      const err = await rejection(start({ ...p.env, BATON_LAMBDA_CLIENT_SECRET: makeClientSecret().secret }));
      expect(err).toBeInstanceOf(ConnectorError);
      expect((err as ConnectorError).code).toBe(Code.UNAUTHENTICATED);
      expect(err.message).toMatch(/the platform refused the client credentials/);
      expect(err.message).toMatch(/check BATON_LAMBDA_CLIENT_ID and BATON_LAMBDA_CLIENT_SECRET/);
      p.fail.token.challengesWithoutNonceHeader = 1;
      expect((await rejection(start(p.env))).message).toMatch(/asked for a DPoP nonce \(use_dpop_nonce\) but sent no DPoP-Nonce header/);
    } finally {
      await p.close();
    }
  });

  it("settings problems and a missing AWS region fail before any request", async () => {
    const p = await startHostedPlatform({ pki, config: { config: good, version: "v1" } });
    try {
      const missing = await rejection(start({ ...p.env, BATON_LAMBDA_CLIENT_ID: undefined }));
      expect(missing).toBeInstanceOf(ConfigError);
      expect(missing.message).toMatch(/BATON_LAMBDA_CLIENT_ID: is required/);
      const region = await rejection(start({ ...p.env, AWS_REGION: undefined }));
      expect(region.message).toMatch(/AWS_REGION: is not set/);
      expect(p.counters.tokenRequests).toBe(0);
    } finally {
      await p.close();
    }
  });

  it("a token that lives under 20 s is fetched again for every call (oauth2's 10 s early expiry, twice)", async () => {
    const p = await startHostedPlatform({ pki, tokenExpiresInSeconds: 15, config: { config: good, version: "v1" } });
    const c = testConnector();
    try {
      const rt = await startHostedRuntime(c.def, p.env, { logger });
      const before = p.counters.tokenRequests;
      await c.builds[0]!.env.sessions.set(SYNC_ID, "k", new Uint8Array([1]));
      await c.builds[0]!.env.sessions.set(SYNC_ID, "k", new Uint8Array([2]));
      expect(p.counters.tokenRequests - before).toBe(2); // the nonce is kept: no new challenge
      expect(p.tokenRequests.slice(before).every((t) => t.status === 200)).toBe(true);
      await rt.close();
    } finally {
      await p.close();
    }
  });

  it("debug mode from the config lapses to info at its expiry, without a reload, for the connector's own child loggers too", async () => {
    const expires = new Date(Date.now() + 1500).toISOString();
    const p = await startHostedPlatform({ pki, config: { config: { ...good, "log-level": "debug", "log-level-debug-expires-at": expires }, version: "v1" } });
    const c = testConnector();
    try {
      const rt = await startHostedRuntime(c.def, p.env, { logger });
      const connectorChild = c.builds[0]!.env.logger.child({ component: "client" });
      let lease = await rt.acquire("v1");
      expect(lease.generation.logger.level).toBe("debug");
      expect(connectorChild.isLevelEnabled("debug")).toBe(true);
      lease.release();
      await new Promise((r) => setTimeout(r, 1600));
      lease = await rt.acquire("v1");
      expect(lease.generation.logger.level).toBe("info");
      expect(connectorChild.isLevelEnabled("debug")).toBe(false);
      lease.release();
      expect(p.counters.configFetches).toBe(1);
      await rt.close();
    } finally {
      await p.close();
    }
  });

  it("a served policy that is malformed denies all egress", async () => {
    const p = await startHostedPlatform({ pki, config: { config: good, version: "v1", policy: { allowedHosts: ["api.example.com"], mode: "enforce", envelopeVersion: 2 } } });
    const c = testConnector();
    try {
      const rt = await startHostedRuntime(c.def, p.env, { logger });
      expect(c.builds[0]!.env.egress.mode).toBe("deny-all");
      await rt.close();
    } finally {
      await p.close();
    }
  });
});
