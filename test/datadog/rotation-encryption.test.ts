/**
 * Key rotation end to end with encryption: the new application key comes back as a compact JWE for the
 * requester's public key (EC P-256, and Ed25519 which the SDK encrypts to its X25519 twin); the test decrypts
 * it with the private key and the simulator accepts the decrypted key. The plaintext is in no log line.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { compactDecrypt, exportJWK, generateKeyPair } from "jose";
import { resourceId } from "../../src/connector/builders.ts";
import { ed25519PublicToX25519 } from "../../src/connector/encryption.ts";
import type { SimUser } from "../../connectors/datadog/simulator/index.ts";
import { jwkEncryptionConfig, startHarness, type Harness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ provisioning: true, syncSchedules: false });
});
afterAll(() => h.close());

/** The X25519 private key of an Ed25519 key pair: scalar = clamp(sha512(seed)[0..32]). */
function x25519FromEd25519(privateKey: KeyObject): KeyObject {
  const seed = Buffer.from(privateKey.export({ format: "jwk" }).d!, "base64url");
  const scalar = Buffer.from(createHash("sha512").update(seed).digest().subarray(0, 32));
  scalar[0] &= 248;
  scalar[31] &= 127;
  scalar[31] |= 64;
  const pkcs8Prefix = Buffer.from("302e020100300506032b656e04220420", "hex");
  return createPrivateKey({ key: Buffer.concat([pkcs8Prefix, scalar]), format: "der", type: "pkcs8" });
}

async function status(appKey: string): Promise<number> {
  const res = await fetch(`${h.sim.baseUrl}/api/v2/users?page[size]=1`, { headers: { "DD-API-KEY": h.sim.apiKey, "DD-APPLICATION-KEY": appKey } });
  await res.arrayBuffer();
  return res.status;
}

function serviceAccount(n: number): SimUser {
  return h.sim.org.users.values().filter((u) => u.serviceAccount)[n];
}

/** Rotates a fresh unrestricted key of a service account; returns the JWE and the key it replaced. */
async function rotate(publicJwk: object, owner: SimUser) {
  const old = h.sim.createApplicationKey({ ownerId: owner.id, name: "ci deploys", scopes: null });
  expect(await status(old.key)).toBe(200);
  const res = await h.rpc.rotateCredential({ resourceId: resourceId("application-key", old.id), encryptionConfigs: [jwkEncryptionConfig(publicJwk)] });
  expect(res.encryptedData).toHaveLength(1);
  const data = res.encryptedData[0];
  expect(data.provider).toBe("baton/jwk/v1");
  expect(data.name).toBe("application_key");
  return { old, jwe: new TextDecoder().decode(data.encryptedBytes) };
}

async function checkNewKey(plaintext: string, old: { key: string }, jwe: string) {
  expect(plaintext).toMatch(/^[0-9a-f]{40}$/);
  expect(plaintext).not.toBe(old.key);
  expect(jwe.split(".")).toHaveLength(5);
  expect(jwe).not.toContain(plaintext);
  expect(await status(plaintext)).toBe(200);
  // The old key stopped working only after the new one existed.
  expect(await status(old.key)).toBe(403);
  expect(h.logs.text()).toContain("rotated Datadog application key");
  expect(h.logs.text()).not.toContain(plaintext);
  expect(h.logs.text()).not.toContain(old.key);
}

describe("rotation with encryption", () => {
  it("EC P-256: the decrypted key is accepted by the simulator", async () => {
    const pair = await generateKeyPair("ECDH-ES+A256KW", { crv: "P-256", extractable: true });
    const { old, jwe } = await rotate(await exportJWK(pair.publicKey), serviceAccount(0));
    const { plaintext, protectedHeader } = await compactDecrypt(jwe, pair.privateKey);
    expect(protectedHeader).toMatchObject({ alg: "ECDH-ES+A256KW", enc: "A256GCM" });
    await checkNewKey(new TextDecoder().decode(plaintext), old, jwe);
  });

  it("Ed25519: encrypted to the X25519 twin; the Ed25519 key holder decrypts it", async () => {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const publicJwk = publicKey.export({ format: "jwk" });
    expect(publicJwk).toMatchObject({ kty: "OKP", crv: "Ed25519" });
    const x25519 = x25519FromEd25519(privateKey);
    // The converted private key matches the public key the SDK derived from the Ed25519 one.
    expect(createPublicKey(x25519).export({ format: "jwk" }).x).toBe(
      Buffer.from(ed25519PublicToX25519(Buffer.from(publicJwk.x!, "base64url"))).toString("base64url"),
    );
    const { old, jwe } = await rotate(publicJwk, serviceAccount(1));
    const { plaintext } = await compactDecrypt(jwe, x25519);
    await checkNewKey(new TextDecoder().decode(plaintext), old, jwe);
  });

  it("without an encryption config no key is created at all", async () => {
    const owner = serviceAccount(2);
    const old = h.sim.createApplicationKey({ ownerId: owner.id, scopes: null });
    const before = h.sim.org.appKeysOwnedBy(owner.id).length;
    await expect(h.rpc.rotateCredential({ resourceId: resourceId("application-key", old.id), encryptionConfigs: [] })).rejects.toMatchObject({
      message: expect.stringContaining("encryption_configs is required"),
    });
    expect(h.sim.org.appKeysOwnedBy(owner.id).length).toBe(before);
    expect(await status(old.key)).toBe(200);
  });
});
