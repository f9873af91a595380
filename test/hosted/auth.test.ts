/**
 * Invocation-JWT verifier set-up: the signer JWK and the JWKS URL (a real loopback server that counts fetches),
 * kid selection, what a key set may contain, and the start-up errors that name the setting to fix.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as jose from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectorError } from "../../src/connector/errors.ts";
import { createInvocationVerifier, InvocationAuthConfigError, MAX_JWKS_BYTES } from "../../src/hosted/auth.ts";
import { AUDIENCE, invocationSigner, ISSUER, SUBJECT } from "./invocation-support.ts";

let server: Server;
let base: string;
let body = "";
let status = 200;
let fetches = 0;

beforeAll(async () => {
  server = createServer((_req, res) => {
    fetches++;
    res.statusCode = status;
    res.setHeader("content-type", "application/json");
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const settings = (over: Record<string, string | undefined>) => ({ issuer: ISSUER, subject: SUBJECT, audience: AUDIENCE, ...over });
const headers = (token: string) => new Map([["authorization", [`Bearer ${token}`]]]);
const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as Error);

describe("JWKS URL", () => {
  it("is fetched once at cold start; tokens are checked by kid against it", async () => {
    const a = await invocationSigner();
    const b = await invocationSigner();
    body = JSON.stringify({ keys: [{ ...a.publicJwk, kid: "a" }, { ...b.publicJwk, kid: "b" }] });
    status = 200;
    const before = fetches;
    const verifier = await createInvocationVerifier(settings({ jwksUrl: `${base}/jwks.json` }));
    expect(fetches).toBe(before + 1);
    expect((await verifier.verify(headers(await a.mint({ kid: "a" })))).sub).toBe(SUBJECT);
    expect((await verifier.verify(headers(await b.mint({ kid: "b" })))).sub).toBe(SUBJECT);
    // b's token under a's kid: only the key with that kid is tried
    const wrongKid = await failure(verifier.verify(headers(await b.mint({ kid: "a" }))));
    expect(wrongKid).toBeInstanceOf(ConnectorError);
    expect((wrongKid as ConnectorError).code).toBe(Code.UNAUTHENTICATED);
    expect(wrongKid!.message).toMatch(/^invalid token: /);
    expect(fetches).toBe(before + 1);
  });

  it("a JWKS that cannot be fetched, is too large or is not a key set is a start-up error naming the URL", async () => {
    status = 500;
    body = "{}";
    const down = await failure(createInvocationVerifier(settings({ jwksUrl: `${base}/jwks.json?token=secret` })));
    expect(down).toBeInstanceOf(InvocationAuthConfigError);
    expect(down!.message).toMatch(new RegExp(`^lambda-run: cannot fetch the invocation JWKS from ${base}/jwks.json: `));
    expect(down!.message).not.toContain("secret");
    status = 200;
    body = JSON.stringify({ keys: [{ kty: "OKP", crv: "Ed25519", x: "A".repeat(MAX_JWKS_BYTES) }] });
    expect((await failure(createInvocationVerifier(settings({ jwksUrl: `${base}/big` }))))!.message).toMatch(/larger than|bytes; at most/);
    body = JSON.stringify({ nope: true });
    expect(await failure(createInvocationVerifier(settings({ jwksUrl: `${base}/x` })))).toBeInstanceOf(InvocationAuthConfigError);
  });

  it("private members make a key unusable (only public keys verify)", async () => {
    const { privateKey } = await jose.generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const privateJwk = { ...(await jose.exportJWK(privateKey)), kid: "p", alg: "EdDSA" };
    status = 200;
    body = JSON.stringify({ keys: [privateJwk] });
    const verifier = await createInvocationVerifier(settings({ jwksUrl: `${base}/private` }));
    const token = await new jose.SignJWT({ iss: ISSUER, sub: SUBJECT, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 60 })
      .setProtectedHeader({ alg: "EdDSA", kid: "p" })
      .sign(privateKey);
    expect((await failure(verifier.verify(headers(token))))!.message).toMatch(/^invalid token: /);
  });
});

describe("signer JWK and settings", () => {
  it("exactly one of signer and JWKS URL, with the SDK's message", async () => {
    const err = await failure(createInvocationVerifier(settings({})));
    expect(err!.message).toBe("lambda-run: must specify exactly one of BATON_LAMBDA_AUTH_JWT_SIGNER (a public JWK) or BATON_LAMBDA_AUTH_JWT_JWKS_URL");
    const signer = await invocationSigner();
    expect(await failure(createInvocationVerifier(settings({ signerJwk: JSON.stringify(signer.publicJwk), jwksUrl: `${base}/x` })))).toBeInstanceOf(InvocationAuthConfigError);
  });

  it("a signer that is not JSON, not a JWK, or a private key is refused at start-up", async () => {
    expect((await failure(createInvocationVerifier(settings({ signerJwk: "{nope" }))))!.message).toMatch(/BATON_LAMBDA_AUTH_JWT_SIGNER is not JSON/);
    expect((await failure(createInvocationVerifier(settings({ signerJwk: "[1]" }))))!.message).toMatch(/must be a JWK object/);
    const { privateKey } = await jose.generateKeyPair("ES256", { extractable: true });
    const priv = await failure(createInvocationVerifier(settings({ signerJwk: JSON.stringify(await jose.exportJWK(privateKey)) })));
    expect(priv!.message).toMatch(/private key material/);
    expect(priv!.message).not.toMatch(/"d"/);
    expect((await failure(createInvocationVerifier(settings({ signerJwk: JSON.stringify({ kty: "EC", crv: "P-256", x: "AA", y: "AA" }) }))))!.message).toMatch(/not a usable public key/);
  });

  it("an RS256 signer works; HS256 (not in the allow-list) does not", async () => {
    const { publicKey, privateKey } = await jose.generateKeyPair("RS256");
    const verifier = await createInvocationVerifier(settings({ signerJwk: JSON.stringify(await jose.exportJWK(publicKey)) }));
    const claims = { iss: ISSUER, sub: SUBJECT, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 60 };
    const token = await new jose.SignJWT(claims).setProtectedHeader({ alg: "RS256" }).sign(privateKey);
    expect((await verifier.verify(headers(token))).iss).toBe(ISSUER);
    const hs = await new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(new Uint8Array(32));
    expect((await failure(verifier.verify(headers(hs))))!.message).toMatch(/^invalid token: /);
  });
});
