/**
 * The platform's check of a DPoP proof (RFC 9449 §4.3) as the hosted runtime sends them (HOSTED-LAMBDA.md §2.1):
 * typ dpop+jwt, EdDSA, a public Ed25519 `jwk` header and no `kid`, htm/htu exact, iat near now, a jti seen once,
 * the nonce when the platform asked for one, `ath` = SHA-256 of the access token when one is presented.
 */
import { createHash } from "node:crypto";
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, jwtVerify, type JWK } from "jose";

export interface VerifiedProof {
  /** RFC 7638 thumbprint of the proof's key (what an access token is bound to). */
  jkt: string;
  /** The proof's public JWK as sent. */
  jwk: JWK;
  claims: Record<string, unknown>;
}

export interface ProofExpectations {
  htm: string;
  htu: string;
  /** The access token the proof must carry `ath` for (gRPC calls); absent for the token request. */
  accessToken?: string;
  /** The nonce the proof must carry; absent = any or none. */
  nonce?: string;
  /** Allowed distance of iat from now (default 60 s). */
  maxSkewSeconds?: number;
}

/** jti values seen within their window; a second proof with the same jti is a replay. */
export class JtiReplayCache {
  readonly #seen = new Map<string, number>();
  readonly #windowMs: number;
  constructor(windowMs = 10 * 60_000) {
    this.#windowMs = windowMs;
  }
  /** Records jti; false when it was seen before. */
  record(jti: string, now = Date.now()): boolean {
    for (const [k, at] of this.#seen) if (now - at > this.#windowMs) this.#seen.delete(k);
    if (this.#seen.has(jti)) return false;
    this.#seen.set(jti, now);
    return true;
  }
  get size(): number {
    return this.#seen.size;
  }
}

export class ProofError extends Error {
  /** True when the only thing wrong is the nonce (answer `use_dpop_nonce`). */
  readonly nonceProblem: boolean;
  constructor(message: string, nonceProblem = false) {
    super(message);
    this.nonceProblem = nonceProblem;
  }
}

export const accessTokenHash = (token: string) => createHash("sha256").update(token).digest("base64url");

export async function verifyDpopProof(proof: string, expect: ProofExpectations, replay: JtiReplayCache): Promise<VerifiedProof> {
  if (!proof) throw new ProofError("missing DPoP proof");
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw new ProofError("the DPoP proof is not a compact JWS");
  }
  if (header.typ !== "dpop+jwt") throw new ProofError(`DPoP proof typ must be dpop+jwt, got ${JSON.stringify(header.typ)}`);
  if (header.alg !== "EdDSA") throw new ProofError(`DPoP proof alg must be EdDSA, got ${JSON.stringify(header.alg)}`);
  if (header.kid !== undefined) throw new ProofError("DPoP proof must not carry a kid header (the key is in jwk)");
  const jwk = header.jwk as JWK | undefined;
  if (!jwk || jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string") {
    throw new ProofError("DPoP proof jwk header must be a public Ed25519 key (kty OKP, crv Ed25519, x)");
  }
  if ("d" in jwk) throw new ProofError("DPoP proof jwk header carries a private key");
  let claims: Record<string, unknown>;
  try {
    ({ payload: claims } = await jwtVerify(proof, EmbeddedJWK, { typ: "dpop+jwt", algorithms: ["EdDSA"], clockTolerance: 60 }));
  } catch (err) {
    throw new ProofError(`DPoP proof signature/claims invalid: ${(err as Error).message}`);
  }
  if (claims.htm !== expect.htm) throw new ProofError(`DPoP proof htm must be ${expect.htm}, got ${JSON.stringify(claims.htm)}`);
  if (claims.htu !== expect.htu) throw new ProofError(`DPoP proof htu must be ${expect.htu}, got ${JSON.stringify(claims.htu)}`);
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.iat !== "number" || !Number.isInteger(claims.iat)) throw new ProofError("DPoP proof iat must be an integer");
  if (Math.abs(now - claims.iat) > (expect.maxSkewSeconds ?? 60)) throw new ProofError("DPoP proof iat is too far from now");
  if (typeof claims.jti !== "string" || claims.jti.length < 8) throw new ProofError("DPoP proof jti missing or too short");
  if (expect.accessToken !== undefined) {
    if (claims.ath !== accessTokenHash(expect.accessToken)) throw new ProofError("DPoP proof ath does not match the access token");
  } else if (claims.ath !== undefined) {
    throw new ProofError("DPoP proof of a token request must not carry ath");
  }
  if (expect.nonce !== undefined && claims.nonce !== expect.nonce) {
    throw new ProofError(claims.nonce === undefined ? "DPoP proof carries no nonce" : "DPoP proof nonce is not the current one", true);
  }
  // Replay is checked last so that a proof refused for its nonce does not burn its jti (the client retries with a new one anyway).
  if (!replay.record(claims.jti)) throw new ProofError(`DPoP proof jti ${claims.jti} was already used (replay)`);
  return { jkt: await calculateJwkThumbprint(jwk), jwk, claims };
}
