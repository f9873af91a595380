/**
 * The key the platform signs invocation JWTs with (HOSTED-LAMBDA.md §4.7), and a second, unrelated key for
 * negative tests. The function trusts the signer through BATON_LAMBDA_AUTH_JWT_SIGNER (the public JWK) or
 * BATON_LAMBDA_AUTH_JWT_JWKS_URL (the platform's JWKS), with the expected issuer, subject and audience.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { calculateJwkThumbprint, SignJWT, type JWK } from "jose";

export interface InvocationClaims {
  iss: string;
  sub: string;
  aud: string | string[];
}

export interface MintOverrides {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  /** Seconds since the epoch; null leaves exp out (the function must refuse it). Default now + 300. */
  exp?: number | null;
  nbf?: number;
  iat?: number;
  /** "other": a key the function does not trust. */
  key?: "signer" | "other";
  /** kid header; null leaves it out. Default the signer's kid. */
  kid?: string | null;
  /** Extra claims. */
  claims?: Record<string, unknown>;
}

interface SigningKey {
  privateKey: KeyObject;
  publicJwk: JWK;
}

async function makeKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const jwk = publicKey.export({ format: "jwk" }) as JWK;
  const kid = await calculateJwkThumbprint(jwk);
  return { privateKey, publicJwk: { ...jwk, kid, alg: "EdDSA", use: "sig" } };
}

export interface InvocationSigner {
  expected: InvocationClaims & { aud: string };
  publicJwk: JWK;
  mint(overrides?: MintOverrides): Promise<string>;
}

export async function createInvocationSigner(expected: InvocationClaims & { aud: string }): Promise<InvocationSigner> {
  const signer = await makeKey();
  const other = await makeKey();
  return {
    expected,
    publicJwk: signer.publicJwk,
    async mint(o: MintOverrides = {}) {
      const key = o.key === "other" ? other : signer;
      const now = Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = {
        ...o.claims,
        iss: o.iss ?? expected.iss,
        sub: o.sub ?? expected.sub,
        aud: o.aud ?? expected.aud,
        iat: o.iat ?? now,
      };
      if (o.exp !== null) payload.exp = o.exp ?? now + 300;
      if (o.nbf !== undefined) payload.nbf = o.nbf;
      const header: { alg: string; kid?: string } = { alg: "EdDSA" };
      const kid = o.kid === undefined ? key.publicJwk.kid : o.kid;
      if (kid !== null && kid !== undefined) header.kid = kid;
      return new SignJWT(payload).setProtectedHeader(header).sign(key.privateKey);
    },
  };
}
