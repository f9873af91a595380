/**
 * The hosted test platform's own checks: what it refuses must be refused for the right reason, or the runtime's
 * tests against it prove nothing. A reference client (reference-client.ts) speaks the contract; each test bends
 * one thing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalJWKSet, importJWK, jwtVerify, type JWK } from "jose";
import { Agent, request } from "undici";
import { ConnectorError } from "../../../src/connector/errors.ts";
import { ConnectorConfigService } from "../../../src/gen/c1/connectorapi/baton/v1/config_pb.js";
import { BatonSessionService } from "../../../src/gen/c1/connectorapi/baton/v1/session_pb.js";
import { EgressMode } from "../../../src/gen/c1/connectorapi/baton/v1/servedpolicy_pb.js";
import { tempDirs } from "../../helpers/temp-dir.ts";
import { makeTestPki, type TestPki } from "../../platform/pki.ts";
import { ageDecryptWithEd25519 as decryptAgeWithEd25519 } from "../../../src/hosted/age.ts";
import { startHostedPlatform, type HostedPlatform } from "./platform.ts";
import {
  callMetadata,
  clientAssertion,
  dpopProof,
  fetchToken,
  makeIdAtt,
  newDpopKey,
  platformClient,
  tokenRequest,
  type DpopKey,
} from "./reference-client.ts";

const tempDir = tempDirs("all");
let pkiDir: string;
let pki: TestPki;
let platform: HostedPlatform;

beforeAll(async () => {
  pkiDir = tempDir("hosted-platform-test-");
  pki = makeTestPki(pkiDir);
  platform = await startHostedPlatform({ pki, config: { config: { "api-key": "k1", site: "datadoghq.com" }, version: "cv-1" } });
});
afterAll(async () => {
  await platform?.close();
});

const tokenUrl = () => `https://${platform.tokenHost}/auth/v1/token`;

async function grpcError(p: Promise<unknown>): Promise<ConnectorError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ConnectorError) return err;
    throw err;
  }
  throw new Error("the call succeeded");
}

describe("token endpoint", () => {
  it("challenges for a nonce first, then issues a DPoP-bound token", async () => {
    const key = newDpopKey();
    const first = await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl() }), await clientAssertion(platform));
    expect(first.status).toBe(400);
    expect(first.body.error).toBe("use_dpop_nonce");
    expect(first.nonce).toBe(platform.tokenRequests.at(-1) && first.nonce);
    expect(first.nonce).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    const second = await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl(), nonce: first.nonce! }), await clientAssertion(platform));
    expect(second.status).toBe(200);
    expect(second.body.token_type).toBe("DPoP");
    expect(platform.tokenRequests.at(-1)!.idAttSignedHeaders).toEqual(["content-length", "content-type", "host", "x-amz-date", "x-amz-security-token"]);
    expect(["1.1", "2.0"]).toContain(platform.tokenRequests.at(-1)!.httpVersion); // undici 8 negotiates h2
  });

  it("refuses a proof for another URL (htu), a replayed jti, a wrong typ and a stale iat", async () => {
    const key = newDpopKey();
    const nonce = (await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl() }), await clientAssertion(platform))).nonce!;
    const wrongHtu = await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: `https://${platform.tokenHost}/auth/v1/other`, nonce }), await clientAssertion(platform));
    expect(wrongHtu.status).toBe(400);
    expect(wrongHtu.body).toMatchObject({ error: "invalid_dpop_proof" });
    expect(String(wrongHtu.body.error_description)).toContain("htu");

    const proof = await dpopProof(key, { htm: "POST", htu: tokenUrl(), nonce });
    expect((await tokenRequest(platform, proof, await clientAssertion(platform))).status).toBe(200);
    const replay = await tokenRequest(platform, proof, await clientAssertion(platform));
    expect(replay.status).toBe(400);
    expect(String(replay.body.error_description)).toContain("replay");

    const typ = await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl(), nonce }, "JWT"), await clientAssertion(platform));
    expect(String(typ.body.error_description)).toContain("typ");
    const stale = await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl(), nonce, iat: Math.floor(Date.now() / 1000) - 600 }), await clientAssertion(platform));
    expect(stale.status).toBe(400);
  });

  it("refuses an id_att whose SigV4 signature does not verify, and one with other signed headers", async () => {
    const key = newDpopKey();
    const nonce = (await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl() }), await clientAssertion(platform))).nonce!;
    const badSig = await makeIdAtt(platform.aws, (h) => {
      h.authorization = h.authorization.replace(/Signature=([0-9a-f])/, (_m, c: string) => `Signature=${c === "0" ? "1" : "0"}`);
    });
    const refused = await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl(), nonce }), await clientAssertion(platform, { idAtt: badSig }));
    expect(refused.status).toBe(401);
    expect(String(refused.body.error_description)).toContain("signature does not verify");

    const otherSecret = await makeIdAtt({ ...platform.aws, secretAccessKey: "not-the-secret" });
    const refused2 = await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl(), nonce }), await clientAssertion(platform, { idAtt: otherSecret }));
    expect(String(refused2.body.error_description)).toContain("signature does not verify");

    const noToken = await makeIdAtt(platform.aws, (h) => delete h["x-amz-security-token"]);
    const refused3 = await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl(), nonce }), await clientAssertion(platform, { idAtt: noToken }));
    expect(String(refused3.body.error_description)).toContain("X-Amz-Security-Token");
  });

  it("refuses an assertion with the audience as a list or with the port", async () => {
    const key = newDpopKey();
    const nonce = (await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl() }), await clientAssertion(platform))).nonce!;
    const list = await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl(), nonce }), await clientAssertion(platform, { aud: ["127.0.0.1"] }));
    expect(list.status).toBe(401);
    expect(String(list.body.error_description)).toContain("single string");
    const withPort = await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl(), nonce }), await clientAssertion(platform, { aud: platform.tokenHost }));
    expect(withPort.status).toBe(401);
  });

  it("rotates the nonce on demand: a proof with the old one is challenged again with a new one", async () => {
    const key = newDpopKey();
    const nonce = (await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl() }), await clientAssertion(platform))).nonce!;
    platform.fail.token.nonceRotations = 1;
    const rotated = await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl(), nonce }), await clientAssertion(platform));
    expect(rotated.body.error).toBe("use_dpop_nonce");
    expect(rotated.nonce).not.toBe(nonce);
    const stale = await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl(), nonce }), await clientAssertion(platform));
    expect(stale.nonce).toBe(rotated.nonce);
    expect((await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl(), nonce: rotated.nonce! }), await clientAssertion(platform))).status).toBe(200);
  });

  it("injects failures: HTTP 500, a challenge without DPoP-Nonce", async () => {
    const key = newDpopKey();
    platform.fail.token.serverErrors = 1;
    expect((await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl() }), await clientAssertion(platform))).status).toBe(500);
    platform.fail.token.challengesWithoutNonceHeader = 1;
    const challenge = await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu: tokenUrl() }), await clientAssertion(platform));
    expect(challenge.body.error).toBe("use_dpop_nonce");
    expect(challenge.nonce).toBeNull();
  });
});

describe("ConnectorConfigService", () => {
  let key: DpopKey;
  let token: string;
  beforeAll(async () => {
    key = newDpopKey();
    token = await fetchToken(platform, key);
  });

  it("serves the config age-encrypted to the caller's DPoP key, with versions and the policy envelope", async () => {
    const client = platformClient(platform, ConnectorConfigService);
    try {
      const md = () => callMetadata(platform, key, token, ConnectorConfigService, "GetConnectorConfig");
      const first = await client.getConnectorConfig({ requestedVersion: "" }, { metadata: await md() });
      expect(first.configVersion).toBe("cv-1");
      expect(first.servedPolicyEnvelope).toBeUndefined();
      expect(JSON.parse(decryptAgeWithEd25519(first.config, key.seed).toString("utf8"))).toEqual({ "api-key": "k1", site: "datadoghq.com" });
      expect(() => decryptAgeWithEd25519(first.config, newDpopKey().seed)).toThrow(/different key/);

      platform.setConfig({ "api-key": "k2" }, "cv-2", { allowedHosts: ["api.datadoghq.com"] });
      const latest = await client.getConnectorConfig({ requestedVersion: "" }, { metadata: await md() });
      expect(latest.configVersion).toBe("cv-2");
      expect(latest.servedPolicyEnvelope).toMatchObject({ envelopeVersion: 1, configVersion: "cv-2", egress: { schemaVersion: 1, allowedHosts: ["api.datadoghq.com"], mode: EgressMode.ENFORCE } });
      const older = await client.getConnectorConfig({ requestedVersion: "cv-1" }, { metadata: await md() });
      expect(older.configVersion).toBe("cv-1");
      const unknown = await client.getConnectorConfig({ requestedVersion: "cv-9" }, { metadata: await md() });
      expect(unknown.configVersion).toBe("cv-2");
      platform.pinConfigVersion("cv-1");
      expect((await client.getConnectorConfig({ requestedVersion: "cv-2" }, { metadata: await md() })).configVersion).toBe("cv-1");
      platform.pinConfigVersion(undefined);
      expect(platform.lastConfigRequest).toMatchObject({ requestedVersion: "cv-2", servedVersion: "cv-1" });
      expect(platform.grpcCalls.at(-1)).toMatchObject({ method: "c1.connectorapi.baton.v1.ConnectorConfigService/GetConnectorConfig", outcome: "ok", userAgent: expect.stringContaining("grpc-node-js") });
      expect(platform.counters.configFetches).toBe(5);
    } finally {
      client.close();
    }
  });

  it("refuses calls without a valid DPoP-bound token or with a proof for another method, key or jti", async () => {
    const client = platformClient(platform, ConnectorConfigService);
    try {
      const call = (md: import("@grpc/grpc-js").Metadata) => client.getConnectorConfig({}, { metadata: md });
      const wrongHtu = await grpcError(call(await callMetadata(platform, key, token, ConnectorConfigService, "GetConnectorOauthToken")));
      expect(wrongHtu.code).toBe(16);
      expect(wrongHtu.message).toContain("htu");
      const otherKey = await grpcError(call(await callMetadata(platform, newDpopKey(), token, ConnectorConfigService, "GetConnectorConfig")));
      expect(otherKey.message).toContain("bound");
      const bearer = await grpcError(call(await callMetadata(platform, key, token, ConnectorConfigService, "GetConnectorConfig", { scheme: "Bearer" })));
      expect(bearer.message).toContain("scheme");
      const unknownToken = await grpcError(call(await callMetadata(platform, key, "nope", ConnectorConfigService, "GetConnectorConfig")));
      expect(unknownToken.message).toContain("unknown access token");
      const md = await callMetadata(platform, key, token, ConnectorConfigService, "GetConnectorConfig", { jti: "replayed-jti-123" });
      await call(md);
      const replayed = await grpcError(call(await callMetadata(platform, key, token, ConnectorConfigService, "GetConnectorConfig", { jti: "replayed-jti-123" })));
      expect(replayed.message).toContain("replay");
      platform.fail.config.unavailable = 1;
      expect((await grpcError(call(await callMetadata(platform, key, token, ConnectorConfigService, "GetConnectorConfig")))).code).toBe(14);
      platform.fail.config.undecryptable = 1;
      const garbled = await call(await callMetadata(platform, key, token, ConnectorConfigService, "GetConnectorConfig"));
      expect(() => decryptAgeWithEd25519(garbled.config, key.seed)).toThrow(/age/);
      const fine = await call(await callMetadata(platform, key, token, ConnectorConfigService, "GetConnectorConfig"));
      expect(decryptAgeWithEd25519(fine.config, key.seed).length).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });
});

describe("one host for both (singleHost)", () => {
  it("serves the token endpoint and gRPC on one port, and the env names neither host override", async () => {
    const single = await startHostedPlatform({ pki, singleHost: true, config: { config: { a: 1 }, version: "v1" } });
    try {
      expect(single.configurationHost).toBe(single.tokenHost);
      expect(single.env.BATON_LAMBDA_TOKEN_HOST).toBeUndefined();
      expect(single.env.BATON_LAMBDA_CONFIGURATION_HOST).toBeUndefined();
      expect(single.env.BATON_LAMBDA_CLIENT_ID).toContain(`@${single.tokenHost}/`);
      const key = newDpopKey();
      const token = await fetchToken(single, key);
      const client = platformClient(single, ConnectorConfigService);
      try {
        const answer = await client.getConnectorConfig({}, { metadata: await callMetadata(single, key, token, ConnectorConfigService, "GetConnectorConfig") });
        expect(JSON.parse(decryptAgeWithEd25519(answer.config, key.seed).toString("utf8"))).toEqual({ a: 1 });
        // An error (a trailers-only answer) crosses the relay with its code and message.
        const refused = await grpcError(client.getConnectorConfig({}, { metadata: await callMetadata(single, key, "bad", ConnectorConfigService, "GetConnectorConfig") }));
        expect([refused.code, refused.message]).toEqual([16, "unknown access token"]);
      } finally {
        client.close();
      }
    } finally {
      await single.close();
    }
  });
});

describe("options", () => {
  it("short-lived tokens expire, a versionless server stamps no config_version, policy variants, JWKS mode", async () => {
    const other = await startHostedPlatform({ pki, tokenExpiresInSeconds: 1, stampConfigVersion: false, invocationAuth: "jwks", config: { config: { b: 2 }, version: "r1", policy: { allowedHosts: ["x.example"], mode: "report", omitEgress: false, envelopeVersion: 2, configVersion: "other" } } });
    try {
      expect(other.env.BATON_LAMBDA_AUTH_JWT_JWKS_URL).toBe(other.invocation.jwksUrl);
      expect(other.env.BATON_LAMBDA_AUTH_JWT_SIGNER).toBeUndefined();
      const key = newDpopKey();
      const token = await fetchToken(other, key);
      const client = platformClient(other, ConnectorConfigService);
      try {
        const answer = await client.getConnectorConfig({}, { metadata: await callMetadata(other, key, token, ConnectorConfigService, "GetConnectorConfig") });
        expect(answer.configVersion).toBeUndefined();
        expect(answer.lastUpdated).toBeDefined();
        expect(answer.servedPolicyEnvelope).toMatchObject({ envelopeVersion: 2, configVersion: "other", egress: { mode: EgressMode.REPORT, allowedHosts: ["x.example"] } });
        other.setConfig({ b: 3 }, "r2", { allowedHosts: [], omitEgress: true });
        const noEgress = await client.getConnectorConfig({}, { metadata: await callMetadata(other, key, token, ConnectorConfigService, "GetConnectorConfig") });
        expect(noEgress.servedPolicyEnvelope?.egress).toBeUndefined();
        await new Promise((r) => setTimeout(r, 1100));
        const expired = await grpcError(client.getConnectorConfig({}, { metadata: await callMetadata(other, key, token, ConnectorConfigService, "GetConnectorConfig") }));
        expect(expired.message).toBe("the access token has expired");
      } finally {
        client.close();
      }
    } finally {
      await other.close();
    }
  });
});

describe("BatonSessionService", () => {
  it("stores per sync id and validates sync ids, keys and counts", async () => {
    const key = newDpopKey();
    const token = await fetchToken(platform, key);
    const client = platformClient(platform, BatonSessionService);
    const md = (m: string) => callMetadata(platform, key, token, BatonSessionService, m);
    const syncId = "2AbCdEfGhIjKlMnOpQrStUvWxYz".slice(0, 27);
    try {
      expect(syncId).toHaveLength(27);
      await client.set({ syncId, key: "a", value: Buffer.from("1") }, { metadata: await md("Set") });
      await client.setMany({ syncId, values: { b: Buffer.from("2"), c: Buffer.from("3") } }, { metadata: await md("SetMany") });
      expect(Buffer.from((await client.get({ syncId, key: "a" }, { metadata: await md("Get") })).value).toString()).toBe("1");
      expect((await client.get({ syncId: "1".repeat(27), key: "a" }, { metadata: await md("Get") })).found).toBe(false);
      const many = await client.getMany({ syncId, keys: ["a", "c", "zz"] }, { metadata: await md("GetMany") });
      expect(many.items.map((i) => i.key)).toEqual(["a", "c"]);

      const badSync = await grpcError(client.get({ syncId: "short", key: "a" }, { metadata: await md("Get") }));
      expect(badSync.code).toBe(3);
      expect(badSync.message).toContain("sync_id");
      const longKey = await grpcError(client.set({ syncId, key: "k".repeat(513), value: new Uint8Array() }, { metadata: await md("Set") }));
      expect(longKey.message).toContain("1–512");
      const tooMany = await grpcError(client.getMany({ syncId, keys: Array.from({ length: 101 }, (_, i) => `k${i}`) }, { metadata: await md("GetMany") }));
      expect(tooMany.message).toContain("1–100");
      const dupes = await grpcError(client.getMany({ syncId, keys: ["a", "a"] }, { metadata: await md("GetMany") }));
      expect(dupes.message).toContain("unique");

      platform.sessions.pageSize = 2;
      const page1 = await client.getAll({ syncId }, { metadata: await md("GetAll") });
      const page2 = await client.getAll({ syncId, pageToken: page1.pageToken }, { metadata: await md("GetAll") });
      expect([...page1.items, ...page2.items].map((i) => i.key)).toEqual(["a", "b", "c"]);
      expect(page2.pageToken).toBe("");
      await client.clear({ syncId }, { metadata: await md("Clear") });
      expect((await client.get({ syncId, key: "b" }, { metadata: await md("Get") })).found).toBe(false);
      expect(platform.counters.sessionCalls).toBeGreaterThanOrEqual(12);
    } finally {
      platform.sessions.pageSize = 100;
      client.close();
    }
  });
});

describe("invocation signer", () => {
  it("mints JWTs the env's signer JWK verifies, and bent ones it does not", async () => {
    const signer = await importJWK(JSON.parse(platform.env.BATON_LAMBDA_AUTH_JWT_SIGNER), "EdDSA");
    const expected = {
      issuer: platform.env.BATON_LAMBDA_AUTH_JWT_EXPECTED_ISSUER,
      subject: platform.env.BATON_LAMBDA_AUTH_JWT_EXPECTED_SUBJECT,
      audience: platform.env.BATON_LAMBDA_AUTH_JWT_EXPECTED_AUDIENCE,
    };
    await expect(jwtVerify(await platform.mintInvocationJwt(), signer, expected)).resolves.toBeTruthy();
    await expect(jwtVerify(await platform.mintInvocationJwt({ aud: "other" }), signer, expected)).rejects.toThrow(/aud/);
    await expect(jwtVerify(await platform.mintInvocationJwt({ exp: Math.floor(Date.now() / 1000) - 10 }), signer, expected)).rejects.toThrow(/exp/);
    await expect(jwtVerify(await platform.mintInvocationJwt({ key: "other" }), signer, expected)).rejects.toThrow(/signature/);
    const { payload } = await jwtVerify(await platform.mintInvocationJwt({ exp: null }), signer, { ...expected });
    expect(payload.exp).toBeUndefined();
    const agent = new Agent({ connect: { ca: pki.caPem } });
    try {
      const res = await request(platform.invocation.jwksUrl, { dispatcher: agent });
      const jwks = (await res.body.json()) as { keys: JWK[] };
      expect(platform.counters.jwksFetches).toBe(1);
      await expect(jwtVerify(await platform.mintInvocationJwt(), createLocalJWKSet(jwks), expected)).resolves.toBeTruthy();
    } finally {
      await agent.close();
    }
  });
});
