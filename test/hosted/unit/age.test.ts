import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AgeError, ageDecryptWithEd25519, ageEncryptToEd25519 } from "../../../src/hosted/age.ts";

// Produced by the reference implementation (filippo.io/age 1.1.1, `age -R key.pub`) for a throwaway test key
// whose Ed25519 seed is below: decrypting it checks our ssh-ed25519 unwrap, header MAC and STREAM against Go's.
const GO_SEED = Buffer.from("3e8dbb9a3d641c00fa31efba92e8b226352e79f16be25c65e419a15e2b4c6c0c", "hex");
const GO_FILE = Buffer.from(
  "YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IHNzaC1lZDI1NTE5IFovTVpGQSBCdjdqZkZWcEhtRkZKdE5IQzBIRTkvYU9mdUlrOFkzVzFKQXg5MFMzRXpvCk9xam5SeGN3emNqa1FNMmFSb0dWNG5ERGF0QnBHbUdDWUtMdzFhbk1LaWcKLS0tIGVXeXJINW8ySUo0R01VUTgyRWprMWcwSFdUYjJRanh4WDNwZm9KNnJUY1kKU1/42RdpJZIGX7aE2ebpJ7rD5GycVkeDNWs0eD/0KCnGRP8B8T2uZdmOgRrtZuI1QHXg9dJGQgQ1B7q8Vg4RfUoRYXu3Klo=",
  "base64",
);

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { privateKey, publicRaw: Buffer.from((publicKey.export({ format: "jwk" }) as { x: string }).x, "base64url") };
}

const reason = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AgeError);
    return (err as Error).message;
  }
  throw new Error("expected an AgeError");
};

describe("age ssh-ed25519", () => {
  it("decrypts a file written by the reference Go implementation", () => {
    expect(ageDecryptWithEd25519(GO_FILE, GO_SEED).toString()).toBe('{"api-key":"from-go-age","site":"US1"}\n');
  });

  it("round-trips empty, one-chunk, exactly-one-chunk and multi-chunk plaintexts", () => {
    const { privateKey, publicRaw } = keyPair();
    for (const size of [0, 1, 65536, 65537, 3 * 65536 + 5]) {
      const plain = Buffer.alloc(size, size % 251);
      expect(ageDecryptWithEd25519(ageEncryptToEd25519(plain, publicRaw), privateKey).equals(plain)).toBe(true);
    }
  });

  it("refuses a file for another key, naming that", () => {
    const other = keyPair();
    const { privateKey } = keyPair();
    expect(reason(() => ageDecryptWithEd25519(ageEncryptToEd25519(Buffer.from("x"), other.publicRaw), privateKey))).toMatch(
      /no recipient stanza is for this key/,
    );
  });

  it("refuses an altered header, an altered payload and a cut-off file", () => {
    const { privateKey, publicRaw } = keyPair();
    const file = ageEncryptToEd25519(Buffer.alloc(70_000, 1), publicRaw);
    const headerEnd = file.indexOf("\n---") + 1;
    const badMac = Buffer.from(file);
    badMac[headerEnd + 5] = badMac[headerEnd + 5] === 0x41 ? 0x42 : 0x41;
    expect(reason(() => ageDecryptWithEd25519(badMac, privateKey))).toMatch(/MAC|base64/);
    const badPayload = Buffer.from(file);
    badPayload[file.length - 20]! ^= 1;
    expect(reason(() => ageDecryptWithEd25519(badPayload, privateKey))).toMatch(/payload chunk 1 does not authenticate/);
    expect(reason(() => ageDecryptWithEd25519(file.subarray(0, 65_600), privateKey))).toMatch(/payload chunk 0 does not authenticate/);
    expect(reason(() => ageDecryptWithEd25519(Buffer.from("not age"), privateKey))).toMatch(/not an age v1 file/);
  });

  it("bounds what it accepts", () => {
    const { privateKey, publicRaw } = keyPair();
    const file = ageEncryptToEd25519(Buffer.alloc(10_000), publicRaw);
    expect(reason(() => ageDecryptWithEd25519(file, privateKey, { maxBytes: 1000 }))).toMatch(/more than the 1000 accepted/);
    const noNewline = Buffer.concat([Buffer.from("age-encryption.org/v1\n-> "), Buffer.alloc(70_000, 0x41)]);
    expect(reason(() => ageDecryptWithEd25519(noNewline, privateKey))).toMatch(/cut off or too long/);
  });
});
