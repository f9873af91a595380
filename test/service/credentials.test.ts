/**
 * Service-mode credentials: client id and client secret parsing (a distinct, clear error for every way a
 * secret can be malformed, none of which shows the secret), the platform address, the client assertion JWT,
 * and the token exchange against the test platform's real TLS token endpoint (caching, single flight,
 * refresh, refusal, unreachable, untrusted certificate).
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeProtectedHeader, jwtVerify } from "jose";
import { Code, ConnectorError } from "../../src/connector/errors.ts";
import { ConfigError } from "../../src/config/errors.ts";
import { redactText } from "../../src/log/index.ts";
import {
  ClientCredentialsError,
  createClientAssertion,
  parseClientId,
  parseClientSecret,
  platformEndpoint,
  type CredentialsProblem,
} from "../../src/service/credentials.ts";
import { checkServiceCredentials } from "../../src/service/runner.ts";
import { createPlatformClient } from "../../src/service/platform-client.ts";
import { PlatformTokenSource } from "../../src/service/token.ts";
import { trustedCaCertificates } from "../../src/service/trust.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { makeClientSecret, makeTestPki, startTestPlatform, type TestPki, type TestPlatform } from "../platform/index.ts";

const b64url = (s: string) => Buffer.from(s).toString("base64url");
const secretWith = (jwk: unknown) => `secret-token:tenant:v1:${b64url(JSON.stringify(jwk))}`;
const ed25519Jwk = () => generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }) as Record<string, string>;

function expectProblem(secret: string, problem: CredentialsProblem, message: RegExp): void {
  let caught: unknown;
  try {
    parseClientSecret(secret);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ClientCredentialsError);
  expect(caught).toBeInstanceOf(ConfigError); // the CLI exits 2, as for any config error
  const err = caught as ClientCredentialsError;
  expect(err.problem).toBe(problem);
  expect(err.message).toMatch(message);
  expect(err.message).toContain("--client-secret / BATON_CLIENT_SECRET");
  // Nothing of the secret: not whole, not any ':'-part, not any value inside the key.
  expect(err.message).not.toContain(secret);
  const pieces = secret.split(":").filter((p) => p.length >= 6);
  let decoded: Record<string, unknown> = {};
  try {
    decoded = JSON.parse(Buffer.from(secret.split(":")[3] ?? "", "base64url").toString()) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  for (const k of ["d", "x"]) if (typeof decoded[k] === "string" && (decoded[k] as string).length >= 6) pieces.push(decoded[k] as string);
  for (const piece of pieces) expect(err.message).not.toContain(piece);
}

describe("client secret", () => {
  it("parses a valid secret, with or without the public part, and ignores surrounding whitespace", () => {
    const jwk = ed25519Jwk();
    const parsed = parseClientSecret(`${secretWith(jwk)}\n`);
    expect(parsed.publicKeyX).toBe(jwk.x);
    expect(parsed.privateKey.asymmetricKeyType).toBe("ed25519");
    const withoutX = parseClientSecret(secretWith({ kty: "OKP", crv: "Ed25519", d: jwk.d }));
    expect(withoutX.publicKeyX).toBe(jwk.x);
  });

  it("names each way a secret can be malformed without echoing any of it", () => {
    const jwk = ed25519Jwk();
    const other = ed25519Jwk();
    const good = secretWith(jwk);
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
    expectProblem("just-one-long-part-of-secret", "secret-parts", /has 1 part separated by ':' but must have 4/);
    expectProblem("aaaaaaaa:bbbbbbbb:v1", "secret-parts", /has 3 parts .* must have 4/);
    expectProblem(`${good}:extra-part-here`, "secret-parts", /has 5 parts/);
    expectProblem(good.replace(":v1:", ":v2:"), "secret-version", /version .* is not v1/);
    expectProblem("secret-token:tenant:v1:not*base64url!value", "secret-base64url", /not base64url/);
    expectProblem(`secret-token:tenant:v1:${b64url("hello, this is not json")}`, "secret-json", /does not decode to JSON/);
    expectProblem(secretWith([1, 2, 3]), "secret-not-jwk", /not a JSON Web Key/);
    expectProblem(secretWith({ d: jwk.d, x: jwk.x }), "secret-not-jwk", /not a JSON Web Key/);
    expectProblem(secretWith(ec), "secret-key-type", /not an Ed25519 key \(it must have kty OKP and crv Ed25519\)/);
    expectProblem(secretWith({ ...jwk, crv: "X25519" }), "secret-key-type", /not an Ed25519 key/);
    expectProblem(secretWith({ kty: "OKP", crv: "Ed25519", x: jwk.x }), "secret-missing-d", /no private part \(d\).*public key/);
    expectProblem(secretWith({ ...jwk, d: randomBytes(16).toString("base64url") }), "secret-bad-key", /not a valid Ed25519 private key/);
    expectProblem(secretWith({ ...jwk, d: "%%%%not-base64%%%%" }), "secret-bad-key", /not a valid Ed25519 private key/);
    expectProblem(secretWith({ ...jwk, x: other.x }), "secret-key-mismatch", /public part \(x\) that does not belong to its private part/);
  });

  it("registers the secret so that logs cannot show it", () => {
    const secret = secretWith(ed25519Jwk());
    parseClientSecret(secret);
    expect(redactText(`oops ${secret}`)).toBe("oops [REDACTED]");
  });
});

describe("client id and platform address", () => {
  it("parses <name>@<host>/<suffix> and rejects other shapes clearly, without echoing the value", () => {
    expect(parseClientId("my-connector@acme.conductor.one/pcc")).toMatchObject({
      name: "my-connector",
      tokenHost: "acme.conductor.one",
      suffix: "pcc",
    });
    for (const [bad, why] of [
      ["no-at-sign.example.com/pcc", /no '@'/],
      ["name@host-without-slash", /no '\/'/],
      ["@acme.conductor.one/pcc", /empty name/],
      ["name@/pcc", /empty host/],
      ["name@acme.conductor.one/", /empty part after/],
      ["name@acme.conductor.one:99999/pcc", /port from 1 to 65535/],
    ] as const) {
      let caught: unknown;
      try {
        parseClientId(bad);
      } catch (err) {
        caught = err;
      }
      expect(caught, bad).toBeInstanceOf(ClientCredentialsError);
      expect((caught as Error).message).toMatch(why);
      expect((caught as Error).message).toContain("--client-id / BATON_CLIENT_ID");
      expect((caught as Error).message).not.toContain(bad);
    }
  });

  it("uses the client id's host on port 443 unless BATON_C1_API_HOST overrides it", () => {
    const id = parseClientId("c@acme.conductor.one/pcc");
    expect(platformEndpoint(id, undefined)).toEqual({
      host: "acme.conductor.one",
      port: 443,
      authority: "acme.conductor.one:443",
      audience: "acme.conductor.one",
      tokenUrl: "https://acme.conductor.one/auth/v1/token",
    });
    expect(platformEndpoint(parseClientId("c@acme.conductor.one:8443/pcc"), undefined)).toMatchObject({
      authority: "acme.conductor.one:8443",
      audience: "acme.conductor.one",
      tokenUrl: "https://acme.conductor.one:8443/auth/v1/token",
    });
    expect(platformEndpoint(id, "127.0.0.1:9443")).toMatchObject({
      host: "127.0.0.1",
      port: 9443,
      audience: "127.0.0.1",
      tokenUrl: "https://127.0.0.1:9443/auth/v1/token",
    });
    expect(platformEndpoint(id, "proxy.internal")).toMatchObject({ authority: "proxy.internal:443" });
    expect(platformEndpoint(id, "[::1]:9443")).toMatchObject({ host: "::1", authority: "[::1]:9443", tokenUrl: "https://[::1]:9443/auth/v1/token" });
    expect(() => platformEndpoint(id, "https://acme.conductor.one")).toThrow(/BATON_C1_API_HOST: the host must be host or host:port/);
  });

  it("checkServiceCredentials validates everything without contacting anything", () => {
    const { secret } = makeClientSecret();
    expect(checkServiceCredentials("c@acme.conductor.one/pcc", secret, "").authority).toBe("acme.conductor.one:443");
    expect(() => checkServiceCredentials("c@acme.conductor.one/pcc", "a:b:c:d")).toThrow(ClientCredentialsError);
    expect(() => checkServiceCredentials("nonsense", secret)).toThrow(/client id has no '@'/);
  });
});

describe("client assertion", () => {
  it("is an EdDSA JWT with a random 16-byte nonce, iss = sub = client id, aud = [host], valid 2 minutes either side of now", async () => {
    const { secret, publicKey } = makeClientSecret();
    const id = parseClientId("svc@acme.conductor.one:8443/pcc");
    const now = Date.now();
    const a = await createClientAssertion(id, parseClientSecret(secret), "acme.conductor.one", now);
    const b = await createClientAssertion(id, parseClientSecret(secret), "acme.conductor.one", now);
    const { payload, protectedHeader } = await jwtVerify(a, publicKey, {
      algorithms: ["EdDSA"],
      issuer: id.value,
      subject: id.value,
      audience: "acme.conductor.one",
    });
    expect(protectedHeader.alg).toBe("EdDSA");
    expect(Buffer.from(String(protectedHeader.nonce), "base64url")).toHaveLength(16);
    expect(decodeProtectedHeader(b).nonce).not.toBe(protectedHeader.nonce);
    expect(payload.aud).toEqual(["acme.conductor.one"]);
    const iat = Math.floor(now / 1000);
    expect(payload).toMatchObject({ iat, nbf: iat - 120, exp: iat + 120 });
    // Signed by this key only: another key's public half does not verify it.
    await expect(jwtVerify(a, makeClientSecret().publicKey)).rejects.toThrow(/signature/);
  });
});

describe("token exchange against the test platform", () => {
  const tempDir = tempDirs("all");
  let dir: string;
  let pki: TestPki;
  let platform: TestPlatform;

  beforeAll(async () => {
    dir = tempDir("token-test-");
    pki = makeTestPki(dir);
    platform = await startTestPlatform({ pki, tokenExpiresInSeconds: 600 });
  });
  afterAll(async () => {
    await platform.close();
  });

  const tokenSource = (p: TestPlatform, extra: { now?: () => number; ca?: string[]; secret?: string } = {}) => {
    const clientId = parseClientId(p.clientId);
    return new PlatformTokenSource({
      clientId,
      secret: parseClientSecret(extra.secret ?? p.clientSecret),
      endpoint: platformEndpoint(clientId, undefined),
      ca: extra.ca ?? trustedCaCertificates(p.caPem),
      now: extra.now,
    });
  };

  it("exchanges once for many concurrent callers, caches until shortly before expiry, then exchanges again", async () => {
    let clock = Date.now();
    const tokens = tokenSource(platform, { now: () => clock });
    const before = platform.tokenRequests.length;
    try {
      const many = await Promise.all(Array.from({ length: 8 }, () => tokens.token()));
      expect(new Set(many.map((t) => t.accessToken)).size).toBe(1);
      expect(platform.tokenRequests.length - before).toBe(1);
      const first = platform.tokenRequests.at(-1)!;
      expect(first).toMatchObject({ ok: true, httpVersion: "1.1" });
      expect(first.claims).toMatchObject({ iss: platform.clientId, sub: platform.clientId, aud: ["127.0.0.1"] });
      expect(many[0].tokenType).toBe("bearer");
      expect(redactText(many[0].accessToken)).toBe("[REDACTED]");

      clock += 539_000; // 600 s lifetime, refreshed a minute early
      expect((await tokens.token()).accessToken).toBe(many[0].accessToken);
      expect(platform.tokenRequests.length - before).toBe(1);
      clock += 2_000;
      const renewed = await tokens.token();
      expect(renewed.accessToken).not.toBe(many[0].accessToken);
      expect(platform.tokenRequests.length - before).toBe(2);

      tokens.invalidate();
      await tokens.token();
      expect(platform.tokenRequests.length - before).toBe(3);
      expect([...platform.tlsVersions].every((v) => v === "TLSv1.2" || v === "TLSv1.3")).toBe(true);
    } finally {
      await tokens.close();
    }
  });

  it("reports a refusal clearly (UNAUTHENTICATED, the endpoint's reason, no secret) and does not cache it", async () => {
    const tokens = tokenSource(platform);
    platform.fail.tokenRefusals = 1;
    try {
      const err = await tokens.token().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectorError);
      expect((err as ConnectorError).code).toBe(Code.UNAUTHENTICATED);
      expect((err as Error).message).toMatch(/^the platform refused the client credentials: invalid_client: client credential revoked \(HTTP 401/);
      expect((err as Error).message).not.toContain(platform.clientSecret.split(":")[3]);
      expect((await tokens.token()).accessToken).toBeTruthy();
    } finally {
      await tokens.close();
    }
  });

  it("is refused when signed with a key the platform does not know", async () => {
    const tokens = tokenSource(platform, { secret: makeClientSecret().secret });
    try {
      const err = (await tokens.token().catch((e: unknown) => e)) as ConnectorError;
      expect(err.code).toBe(Code.UNAUTHENTICATED);
      expect(err.message).toMatch(/refused the client credentials: invalid_client: signature verification failed/);
    } finally {
      await tokens.close();
    }
  });

  it("does not trust the platform's certificate without its CA, and says the endpoint is unreachable when it is down", async () => {
    const untrusting = tokenSource(platform, { ca: trustedCaCertificates() });
    try {
      const err = (await untrusting.token().catch((e: unknown) => e)) as ConnectorError;
      expect(err.code).toBe(Code.UNAVAILABLE);
      expect(err.message).toMatch(/cannot reach the platform's token endpoint https:\/\/127\.0\.0\.1:\d+\/auth\/v1\/token: .*(certificate|issuer)/i);
    } finally {
      await untrusting.close();
    }
    const other = await startTestPlatform({ pki });
    const tokens = tokenSource(other);
    await other.close();
    try {
      const err = (await tokens.token().catch((e: unknown) => e)) as ConnectorError;
      expect(err.code).toBe(Code.UNAVAILABLE);
      expect(err.message).toMatch(/cannot reach the platform's token endpoint/);
    } finally {
      await tokens.close();
    }
  });

  it("calls BatonService with the token, renews a token the platform rejects, and trusts only the configured CAs", async () => {
    const tokens = tokenSource(platform);
    const clientId = parseClientId(platform.clientId);
    const endpoint = platformEndpoint(clientId, undefined);
    const client = createPlatformClient({ endpoint, tokens, ca: trustedCaCertificates(platform.caPem) });
    const untrusting = createPlatformClient({ endpoint, tokens, ca: trustedCaCertificates() });
    try {
      await client.hello({ hostId: "h1" });
      expect(platform.hellos.at(-1)?.hostId).toBe("h1");
      const exchanges = tokens.exchanges;

      platform.revokeTokens();
      const refused = (await client.hello({ hostId: "h2" }).catch((e: unknown) => e)) as ConnectorError;
      expect(refused.code).toBe(Code.UNAUTHENTICATED);
      await client.hello({ hostId: "h3" }); // the rejected token was dropped: a new one was exchanged
      expect(tokens.exchanges).toBe(exchanges + 1);
      expect(platform.hellos.map((h) => h.hostId)).toContain("h3");

      const hellos = platform.hellos.length;
      const err = (await untrusting.hello({ hostId: "h4" }).catch((e: unknown) => e)) as ConnectorError;
      expect(err.code).toBe(Code.UNAVAILABLE);
      expect(platform.hellos).toHaveLength(hellos);
    } finally {
      client.close();
      untrusting.close();
      await tokens.close();
    }
  });
});
