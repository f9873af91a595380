import { createHash, generateKeyPairSync } from "node:crypto";
import { decodeJwt, decodeProtectedHeader, jwtVerify, importJWK } from "jose";
import { fromBinary } from "@bufbuild/protobuf";
import { AnySchema, anyUnpack } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { Sigv4SignedRequestSTSGetCallerIdentitySchema } from "../../../src/gen/c1/connectorapi/baton/v1/config_pb.js";
import { createDpopProof, generateDpopKey } from "../../../src/hosted/dpop.ts";
import { idAttestor } from "../../../src/hosted/id-attestation.ts";
import { hostedClientAssertion } from "../../../src/hosted/platform-auth.ts";
import { readHostedSettings } from "../../../src/hosted/settings.ts";

const awsEnv = { AWS_REGION: "eu-west-1", AWS_ACCESS_KEY_ID: "AKIATESTKEY", AWS_SECRET_ACCESS_KEY: "test-secret-access-key-value" };

function secretWith(kid?: string): string {
  const jwk = generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }) as Record<string, string>;
  const body = Buffer.from(JSON.stringify({ kty: "OKP", crv: "Ed25519", d: jwk.d, x: jwk.x, ...(kid ? { kid } : {}) })).toString("base64url");
  return `secret-token:t:v1:${body}`;
}

function settings(kid?: string) {
  return readHostedSettings({
    BATON_LAMBDA_CLIENT_ID: "fn@tenant.example.com:8443/c-1",
    BATON_LAMBDA_CLIENT_SECRET: secretWith(kid),
    BATON_LAMBDA_AUTH_JWT_JWKS_URL: "https://tenant.example.com/jwks",
    BATON_LAMBDA_AUTH_JWT_EXPECTED_ISSUER: "i",
    BATON_LAMBDA_AUTH_JWT_EXPECTED_SUBJECT: "s",
    BATON_LAMBDA_AUTH_JWT_EXPECTED_AUDIENCE: "a",
  });
}

describe("DPoP proofs and the client assertion", () => {
  it("a proof carries the public DPoP JWK, a fresh jti, the validity window, htm/htu, and ath for a token", async () => {
    const key = generateDpopKey();
    const now = 1_800_000_000_000;
    const proof = await createDpopProof(key, { htm: "POST", htu: "https://h:8443/svc/M", accessToken: "tok-1" }, now);
    const header = decodeProtectedHeader(proof);
    expect(header).toEqual({ alg: "EdDSA", typ: "dpop+jwt", jwk: { use: "sig", kty: "OKP", kid: "key", crv: "Ed25519", alg: "EdDSA", x: key.publicJwk.x } });
    const claims = decodeJwt(proof);
    expect(claims).toMatchObject({ htm: "POST", htu: "https://h:8443/svc/M", iat: 1_800_000_000, nbf: 1_800_000_000 - 30, exp: 1_800_000_000 + 300 });
    expect(claims.ath).toBe(createHash("sha256").update("tok-1").digest("base64url"));
    expect(claims.nonce).toBeUndefined();
    const again = decodeJwt(await createDpopProof(key, { htm: "POST", htu: "u", nonce: "n-1" }, now));
    expect(again.jti).not.toBe(claims.jti);
    expect(again.nonce).toBe("n-1");
    await jwtVerify(proof, await importJWK(key.publicJwk, "EdDSA"), { currentDate: new Date(now) });
  });

  it("the assertion: alg only (kid when the secret's JWK has one), iss = sub = client id, aud = token host without port as one string", async () => {
    const s = settings();
    const now = Date.now();
    const assertion = await hostedClientAssertion(s, idAttestor(awsEnv), now);
    expect(decodeProtectedHeader(assertion)).toEqual({ alg: "EdDSA" });
    const claims = decodeJwt(assertion);
    const t = Math.floor(now / 1000);
    expect(Object.keys(claims)).toEqual(["iss", "sub", "aud", "exp", "nbf", "iat", "id_att"]);
    expect(claims).toMatchObject({ iss: s.clientId.value, sub: s.clientId.value, aud: "tenant.example.com", exp: t + 120, nbf: t - 60, iat: t });
    expect(typeof claims.id_att).toBe("string");
    expect(claims.id_att).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeProtectedHeader(await hostedClientAssertion(settings("k-7"), idAttestor(awsEnv), now))).toEqual({ alg: "EdDSA", kid: "k-7" });
  });

  it("id_att is the signed STS request in an Any: canonical header names, no Host or Content-Length, the 43-byte body", async () => {
    const value = await idAttestor({ ...awsEnv, AWS_SESSION_TOKEN: "session-token-value" }).attest(new Date("2030-05-06T07:08:09Z"));
    const any = fromBinary(AnySchema, Buffer.from(value, "base64url"));
    expect(any.typeUrl).toBe("type.googleapis.com/c1.connectorapi.baton.v1.Sigv4SignedRequestSTSGetCallerIdentity");
    const req = anyUnpack(any, Sigv4SignedRequestSTSGetCallerIdentitySchema)!;
    expect(req.method).toBe("POST");
    expect(req.endpoint).toBe("https://sts.eu-west-1.amazonaws.com");
    expect(Buffer.from(req.body).toString()).toBe("Action=GetCallerIdentity&Version=2011-06-15");
    const headers = Object.fromEntries(req.headers.map((h) => [h.key, h.value]));
    expect(Object.keys(headers).sort()).toEqual(["Authorization", "Content-Type", "X-Amz-Date", "X-Amz-Security-Token"]);
    expect(headers["X-Amz-Date"]).toEqual(["20300506T070809Z"]);
    expect(headers.Authorization![0]).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIATESTKEY\/20300506\/eu-west-1\/sts\/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
    expect(() => idAttestor({})).toThrow(/AWS_REGION: is not set/);
  });
});
