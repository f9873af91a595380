/**
 * age v1 with one `ssh-ed25519` recipient stanza, binary (no armor), as the platform encrypts a connector's
 * config to the function's DPoP public key (HOSTED-LAMBDA.md §3.2). node:crypto only: X25519, HKDF-SHA256,
 * HMAC-SHA256 and ChaCha20-Poly1305; the Edwards→Montgomery map (the one piece node:crypto lacks) is BigInt
 * arithmetic. Written from the age specification independently of the runtime's decryption, so that the two
 * check each other. `decryptAge` exists for the platform's own round-trip tests.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";

const LABEL = "age-encryption.org/v1/ssh-ed25519";
const CHUNK = 64 * 1024;
const P = (1n << 255n) - 19n;

const PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_X25519 = Buffer.from("302a300506032b656e032100", "hex");

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64").replace(/=+$/, "");
function unb64(text: string): Buffer {
  if (!/^[A-Za-z0-9+/]*$/.test(text) || text.length % 4 === 1) throw new Error(`age: invalid unpadded base64 ${JSON.stringify(text.slice(0, 20))}`);
  const bytes = Buffer.from(text, "base64");
  if (b64(bytes) !== text) throw new Error("age: non-canonical base64");
  return bytes;
}

/** X25519(scalar, u) through node:crypto (the scalar is clamped by X25519 itself). */
function x25519(scalar: Uint8Array, u: Uint8Array): Buffer {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, scalar]), format: "der", type: "pkcs8" });
  const publicKey = createPublicKey({ key: Buffer.concat([SPKI_X25519, u]), format: "der", type: "spki" });
  return diffieHellman({ privateKey, publicKey });
}

/** X25519(scalar, 9): the public key of a scalar. */
function x25519Base(scalar: Uint8Array): Buffer {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, scalar]), format: "der", type: "pkcs8" });
  return (createPublicKey(privateKey).export({ format: "der", type: "spki" }) as Buffer).subarray(SPKI_X25519.length);
}

function modPow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = base % P;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

/** Montgomery u of an Ed25519 public key: u = (1 + y) / (1 − y) mod 2^255 − 19. */
export function ed25519PublicToX25519(edPublic: Uint8Array): Buffer {
  if (edPublic.length !== 32) throw new Error("age: an Ed25519 public key has 32 bytes");
  const le = Buffer.from(edPublic);
  le[31] &= 0x7f; // the top bit is the sign of x, not part of y
  const y = BigInt(`0x${Buffer.from(le).reverse().toString("hex")}`);
  const u = (((1n + y) % P) * modPow((1n - y + P) % P, P - 2n)) % P;
  return Buffer.from(u.toString(16).padStart(64, "0"), "hex").reverse();
}

function sshWireKey(edPublic: Uint8Array): Buffer {
  const name = Buffer.from("ssh-ed25519");
  const len = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  return Buffer.concat([len(name.length), name, len(32), edPublic]);
}

const hkdf = (ikm: Uint8Array, salt: Uint8Array, info: string) => Buffer.from(hkdfSync("sha256", ikm, salt, info, 32));

function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Buffer {
  const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

function open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Buffer {
  if (sealed.length < 16) throw new Error("age: sealed box shorter than its tag");
  const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
}

function chunkNonce(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(counter, 5, 6); // 11-byte big-endian counter; 48 bits are plenty here
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** Wraps the stanza body in 64-column lines, the last one always shorter than 64 (possibly empty). */
function wrapBody(text: string): string {
  const lines: string[] = [];
  for (let i = 0; i <= text.length; i += 64) lines.push(text.slice(i, i + 64));
  if (lines[lines.length - 1].length === 64) lines.push("");
  return lines.join("\n");
}

/** Encrypts `plaintext` to the holder of the Ed25519 key whose public half is `edPublic` (32 raw bytes). */
export function encryptAgeToEd25519(plaintext: Uint8Array, edPublic: Uint8Array): Buffer {
  const fileKey = randomBytes(16);
  const wire = sshWireKey(edPublic);
  const tag = createHash("sha256").update(wire).digest().subarray(0, 4);
  const recipient = ed25519PublicToX25519(edPublic);
  const ephemeral = randomBytes(32);
  const share = x25519Base(ephemeral);
  const shared = x25519(ephemeral, recipient);
  const tweak = hkdf(new Uint8Array(0), wire, LABEL);
  const tweaked = x25519(tweak, shared);
  const wrapKey = hkdf(tweaked, Buffer.concat([share, recipient]), LABEL);
  const body = seal(wrapKey, Buffer.alloc(12), fileKey);

  const headerNoMac = `age-encryption.org/v1\n-> ssh-ed25519 ${b64(tag)} ${b64(share)}\n${wrapBody(b64(body))}\n---`;
  const mac = createHmac("sha256", hkdf(fileKey, new Uint8Array(0), "header")).update(headerNoMac).digest();
  const header = Buffer.from(`${headerNoMac} ${b64(mac)}\n`);

  const nonce = randomBytes(16);
  const payloadKey = hkdf(fileKey, nonce, "payload");
  const chunks: Buffer[] = [header, nonce];
  const count = Math.max(1, Math.ceil(plaintext.length / CHUNK));
  for (let i = 0; i < count; i++) {
    chunks.push(seal(payloadKey, chunkNonce(i, i === count - 1), plaintext.subarray(i * CHUNK, (i + 1) * CHUNK)));
  }
  return Buffer.concat(chunks);
}

/** Decrypts what `encryptAgeToEd25519` makes, with the Ed25519 seed (the JWK's `d`, 32 bytes). */
export function decryptAgeWithEd25519(ciphertext: Uint8Array, edSeed: Uint8Array): Buffer {
  const data = Buffer.from(ciphertext);
  const macMarker = data.indexOf("\n--- ");
  const headerEnd = macMarker < 0 ? -1 : data.indexOf("\n", macMarker + 1);
  if (headerEnd < 0) throw new Error("age: no header end");
  const headerNoMac = data.subarray(0, macMarker + 4).toString("latin1");
  const mac = unb64(data.subarray(macMarker + 5, headerEnd).toString("latin1"));
  const lines = headerNoMac.split("\n");
  if (lines[0] !== "age-encryption.org/v1") throw new Error("age: not an age v1 file");
  const stanza = /^-> ssh-ed25519 (\S+) (\S+)$/.exec(lines[1] ?? "");
  if (!stanza || lines.length !== 4) throw new Error("age: expected exactly one ssh-ed25519 stanza with a one-line body");
  const share = unb64(stanza[2]);
  const body = unb64(lines[2]);
  if (share.length !== 32 || body.length !== 32) throw new Error("age: stanza share/body of the wrong size");

  const identity = createHash("sha512").update(edSeed).digest().subarray(0, 32);
  const recipient = x25519Base(identity);
  const wire = sshWireKey(ed25519PublicFromSeed(edSeed));
  const tag = createHash("sha256").update(wire).digest().subarray(0, 4);
  if (!unb64(stanza[1]).equals(tag)) throw new Error("age: the stanza is for another key");
  const shared = x25519(identity, share);
  const tweaked = x25519(hkdf(new Uint8Array(0), wire, LABEL), shared);
  const fileKey = open(hkdf(tweaked, Buffer.concat([share, recipient]), LABEL), Buffer.alloc(12), body);
  const expectedMac = createHmac("sha256", hkdf(fileKey, new Uint8Array(0), "header")).update(headerNoMac).digest();
  if (!timingSafeEqual(expectedMac, mac)) throw new Error("age: header MAC mismatch");

  const payload = data.subarray(headerEnd + 1);
  if (payload.length < 16 + 16) throw new Error("age: payload too short");
  const payloadKey = hkdf(fileKey, payload.subarray(0, 16), "payload");
  const sealed = payload.subarray(16);
  const out: Buffer[] = [];
  for (let i = 0, off = 0; off < sealed.length; i++, off += CHUNK + 16) {
    const last = off + CHUNK + 16 >= sealed.length;
    out.push(open(payloadKey, chunkNonce(i, last), sealed.subarray(off, off + CHUNK + 16)));
  }
  return Buffer.concat(out);
}

/** The 32-byte Ed25519 public key of a seed. */
export function ed25519PublicFromSeed(seed: Uint8Array): Buffer {
  const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: "der", type: "pkcs8" });
  return (createPublicKey(key).export({ format: "der", type: "spki" }) as Buffer).subarray(12);
}
