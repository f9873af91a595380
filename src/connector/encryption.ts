/**
 * Encrypts plaintext secrets for the requester (provider `baton/jwk/v1`): the EncryptionConfig carries a public
 * JWK; the result is a JWE in compact serialization. Supported keys: EC P-256/P-384/P-521 and X25519
 * (ECDH-ES+A256KW), Ed25519 (converted to its X25519 twin, so the holder of the Ed25519 private key can decrypt),
 * RSA ≥ 2048 bits (RSA-OAEP-256). Content encryption is A256GCM. The plaintext is never kept: callers pass it
 * in and get only ciphertext back.
 */
import { create } from "@bufbuild/protobuf";
import type { JWK } from "jose";
import {
  EncryptedDataSchema,
  type EncryptedData,
  type EncryptionConfig,
  type PlaintextData,
} from "../gen/c1/connector/v2/resource_pb.js";
import { Code, ConnectorError } from "./errors.ts";

export const JWK_PROVIDER = "baton/jwk/v1";

const P = 2n ** 255n - 19n;

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = ((base % mod) + mod) % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return result;
}

function bytesToBigLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

function bigToBytesLE(n: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let v = n;
  for (let i = 0; i < length; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Ed25519 public key (Edwards y) → X25519 public key (Montgomery u = (1+y)/(1−y) mod p). */
export function ed25519PublicToX25519(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== 32) throw new Error("Ed25519 public key must be 32 bytes");
  const yBytes = Uint8Array.from(publicKey);
  yBytes[31] &= 0x7f;
  const y = bytesToBigLE(yBytes);
  const u = ((1n + y) * modPow((1n - y + P) % P, P - 2n, P)) % P;
  return bigToBytesLE(u, 32);
}

function invalid(message: string): ConnectorError {
  return new ConnectorError(Code.INVALID_ARGUMENT, message);
}

function parseJwk(bytes: Uint8Array): JWK {
  let jwk: unknown;
  try {
    jwk = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw invalid("encryption config: jwk_public_key_config.pub_key is not a JSON Web Key");
  }
  if (typeof jwk !== "object" || jwk === null || typeof (jwk as JWK).kty !== "string") {
    throw invalid("encryption config: jwk_public_key_config.pub_key has no kty");
  }
  if ("d" in (jwk as object)) throw invalid("encryption config: a private key was sent where a public key belongs");
  return jwk as JWK;
}

/** The key and algorithm we encrypt to for a recipient JWK; Ed25519 becomes its X25519 twin. */
function recipientKey(jwk: JWK): { jwk: JWK; alg: string } {
  if (jwk.kty === "EC" && (jwk.crv === "P-256" || jwk.crv === "P-384" || jwk.crv === "P-521")) {
    return { jwk, alg: "ECDH-ES+A256KW" };
  }
  if (jwk.kty === "OKP" && jwk.crv === "X25519") return { jwk, alg: "ECDH-ES+A256KW" };
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519" && typeof jwk.x === "string") {
    const x = Buffer.from(ed25519PublicToX25519(Buffer.from(jwk.x, "base64url"))).toString("base64url");
    return { jwk: { kty: "OKP", crv: "X25519", x }, alg: "ECDH-ES+A256KW" };
  }
  if (jwk.kty === "RSA") return { jwk, alg: "RSA-OAEP-256" };
  throw invalid(
    `encryption config: unsupported key type kty=${jwk.kty} crv=${jwk.crv ?? "-"} ` +
      "(supported: EC P-256/P-384/P-521, OKP X25519/Ed25519, RSA)",
  );
}

export async function encryptPlaintext(config: EncryptionConfig, plaintext: PlaintextData): Promise<EncryptedData> {
  if (config.provider !== JWK_PROVIDER && config.provider !== "") {
    throw invalid(`encryption config: unsupported provider "${config.provider}" (supported: ${JWK_PROVIDER})`);
  }
  if (config.config.case !== "jwkPublicKeyConfig") {
    throw invalid("encryption config: jwk_public_key_config is required for baton/jwk/v1");
  }
  const recipientJwk = parseJwk(config.config.value.pubKey);
  const { jwk, alg } = recipientKey(recipientJwk);
  // jose loads with the first secret to encrypt (rotation, credential issuance), not with every sync.
  const { CompactEncrypt, calculateJwkThumbprint, importJWK } = await import("jose");
  const key = await importJWK(jwk, alg);
  const keyId = config.keyId || (await calculateJwkThumbprint(recipientJwk));
  const jwe = await new CompactEncrypt(plaintext.bytes)
    .setProtectedHeader({ alg, enc: "A256GCM", kid: keyId })
    .encrypt(key);
  return create(EncryptedDataSchema, {
    provider: JWK_PROVIDER,
    keyIds: [keyId],
    name: plaintext.name,
    description: plaintext.description,
    schema: plaintext.schema,
    encryptedBytes: new TextEncoder().encode(jwe),
  });
}

/** Encrypts every plaintext for every recipient, then wipes the plaintext buffers. */
export async function encryptAll(
  configs: readonly EncryptionConfig[],
  plaintexts: PlaintextData[],
): Promise<EncryptedData[]> {
  try {
    if (plaintexts.length > 0 && configs.length === 0) {
      throw invalid("the request has no encryption config: refusing to return a secret unencrypted");
    }
    const out: EncryptedData[] = [];
    for (const config of configs) {
      for (const p of plaintexts) out.push(await encryptPlaintext(config, p));
    }
    return out;
  } finally {
    for (const p of plaintexts) p.bytes.fill(0);
  }
}
