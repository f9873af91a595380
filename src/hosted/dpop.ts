/**
 * The per-process DPoP key and its proofs (RFC 9449, as HOSTED-LAMBDA.md §2.1 describes them): a fresh Ed25519
 * key at cold start, and one compact EdDSA JWS per token request and per gRPC call, each with a new jti. The
 * same key is the recipient the platform encrypts the config to (§3.2), so it never leaves the process.
 */
import { createHash, generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { SignJWT } from "jose";

/** The public DPoP JWK exactly as the proofs carry it. */
export interface DpopPublicJwk {
  use: "sig";
  kty: "OKP";
  kid: "key";
  crv: "Ed25519";
  alg: "EdDSA";
  x: string;
}

export interface DpopKey {
  readonly privateKey: KeyObject;
  readonly publicJwk: DpopPublicJwk;
  /** The raw 32-byte Ed25519 public key (what the platform encrypts to). */
  readonly publicRaw: Buffer;
}

/** Proofs are valid from 30 s before to 5 min after now, so modest clock skew on the platform passes. */
const NOT_BEFORE_SKEW_S = 30;
const VALIDITY_S = 300;

export function generateDpopKey(): DpopKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const x = (publicKey.export({ format: "jwk" }) as { x: string }).x;
  return {
    privateKey,
    publicJwk: { use: "sig", kty: "OKP", kid: "key", crv: "Ed25519", alg: "EdDSA", x },
    publicRaw: Buffer.from(x, "base64url"),
  };
}

export interface ProofClaims {
  htm: string;
  htu: string;
  nonce?: string;
  /** The access token a gRPC call presents; its hash becomes `ath`. */
  accessToken?: string;
}

export async function createDpopProof(key: DpopKey, claims: ProofClaims, nowMs: number = Date.now()): Promise<string> {
  const now = Math.floor(nowMs / 1000);
  const payload: Record<string, unknown> = { jti: randomUUID(), htm: claims.htm, htu: claims.htu };
  if (claims.nonce !== undefined) payload.nonce = claims.nonce;
  if (claims.accessToken !== undefined) payload.ath = createHash("sha256").update(claims.accessToken).digest("base64url");
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "EdDSA", typ: "dpop+jwt", jwk: { ...key.publicJwk } })
    .setIssuedAt(now)
    .setNotBefore(now - NOT_BEFORE_SKEW_S)
    .setExpirationTime(now + VALIDITY_S)
    .sign(key.privateKey);
}
