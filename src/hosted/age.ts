/**
 * age v1 (age-encryption.org/v1) with one `ssh-ed25519` recipient, the format the platform encrypts a hosted
 * connector's config in (HOSTED-LAMBDA.md §3.2): binary, no armor. Decryption is what the runtime needs;
 * encryption exists for test platforms and tools that must produce what the platform produces.
 *
 * Written on node:crypto alone (X25519, HKDF-SHA256, HMAC-SHA256, ChaCha20-Poly1305): the npm age
 * implementation has no ssh-ed25519 recipient type, and no native addon is allowed in the Lambda package.
 * Every failure is an AgeError whose message names what is wrong with the file, never key or plaintext bytes.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from "node:crypto";

export class AgeError extends Error {
  constructor(message: string) {
    super(`age: ${message}`);
    this.name = "AgeError";
  }
}

const INTRO = "age-encryption.org/v1\n";
const LABEL = Buffer.from("age-encryption.org/v1/ssh-ed25519");
const CHUNK = 64 * 1024;
const TAG = 16;
/** A config is a few KiB; 16 MiB bounds what a hostile or broken server can make us decrypt and hold. */
export const DEFAULT_MAX_AGE_BYTES = 16 * 1024 * 1024;
/** Header bounds: lines and stanzas a real header never comes near. */
const MAX_HEADER_BYTES = 64 * 1024;
const MAX_STANZAS = 32;

const X25519_PKCS8 = Buffer.from("302e020100300506032b656e04220420", "hex");
const X25519_SPKI = Buffer.from("302a300506032b656e032100", "hex");
const ED25519_PKCS8 = Buffer.from("302e020100300506032b657004220420", "hex");

function x25519(scalar: Uint8Array, point: Uint8Array): Buffer {
  const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8, scalar]), format: "der", type: "pkcs8" });
  const publicKey = createPublicKey({ key: Buffer.concat([X25519_SPKI, point]), format: "der", type: "spki" });
  let out: Buffer;
  try {
    out = diffieHellman({ privateKey, publicKey });
  } catch {
    throw new AgeError("the recipient stanza's share is a low-order point");
  }
  // A low-order point gives all zeros (node may or may not refuse it itself); age rejects that.
  if (out.every((b) => b === 0)) throw new AgeError("the recipient stanza's share is a low-order point");
  return out;
}

function x25519Public(scalar: Uint8Array): Buffer {
  const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8, scalar]), format: "der", type: "pkcs8" });
  const der = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  return der.subarray(der.length - 32);
}

function hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array | string): Buffer {
  return Buffer.from(hkdfSync("sha256", ikm, salt, info, 32));
}

/** SSH wire form of an Ed25519 public key: string "ssh-ed25519", string key. */
function sshWireKey(ed25519Public: Uint8Array): Buffer {
  const name = Buffer.from("ssh-ed25519");
  const len = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  return Buffer.concat([len(name.length), name, len(ed25519Public.length), ed25519Public]);
}

function sshTag(wireKey: Buffer): string {
  return b64(createHash("sha256").update(wireKey).digest().subarray(0, 4));
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64").replace(/=+$/, "");
}

/** Strict unpadded standard base64, as age requires (a canonical encoding only). */
function unb64(text: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/]*$/.test(text) || text.length % 4 === 1) throw new AgeError(`${what} is not unpadded base64`);
  const bytes = Buffer.from(text, "base64");
  if (b64(bytes) !== text) throw new AgeError(`${what} is not canonical base64`);
  return bytes;
}

const P = 2n ** 255n - 19n;

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

/** Montgomery u of an Ed25519 public key: u = (1 + y) / (1 − y) mod p (RFC 7748 §4.1 birational map). */
export function ed25519PublicToX25519(ed25519Public: Uint8Array): Buffer {
  if (ed25519Public.length !== 32) throw new AgeError("an Ed25519 public key is 32 bytes");
  const le = Buffer.from(ed25519Public);
  le[31]! &= 0x7f;
  const y = BigInt("0x" + Buffer.from(le).reverse().toString("hex"));
  if (y >= P || y === 1n) throw new AgeError("not a usable Ed25519 public key");
  const u = (((1n + y) % P) * modPow((1n - y + P) % P, P - 2n)) % P;
  return Buffer.from(u.toString(16).padStart(64, "0"), "hex").reverse();
}

function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Buffer {
  const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

function open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Buffer | undefined {
  if (sealed.length < TAG) return undefined;
  const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG });
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  try {
    return Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG)), d.final()]);
  } catch {
    return undefined;
  }
}

function chunkNonce(counter: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(counter, 5, 6); // 11-byte big-endian counter; 6 bytes hold every chunk a bounded file has
  n[11] = last ? 1 : 0;
  return n;
}

/** The 32-byte seed of an Ed25519 private key (a KeyObject or the raw seed). */
function seedOf(key: KeyObject | Uint8Array): Buffer {
  if (key instanceof Uint8Array) {
    if (key.length !== 32) throw new AgeError("an Ed25519 seed is 32 bytes");
    return Buffer.from(key);
  }
  if (key.asymmetricKeyType !== "ed25519" || key.type !== "private") throw new AgeError("the identity must be an Ed25519 private key");
  const d = (key.export({ format: "jwk" }) as { d?: string }).d;
  if (!d) throw new AgeError("the identity must be an Ed25519 private key");
  return Buffer.from(d, "base64url");
}

function ed25519PublicOfSeed(seed: Uint8Array): Buffer {
  const priv = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8, seed]), format: "der", type: "pkcs8" });
  return Buffer.from((createPublicKey(priv).export({ format: "jwk" }) as { x: string }).x, "base64url");
}

/** Encrypts `plaintext` to one ssh-ed25519 recipient (the 32-byte Ed25519 public key). */
export function ageEncryptToEd25519(plaintext: Uint8Array, ed25519Public: Uint8Array): Buffer {
  const recipient = ed25519PublicToX25519(ed25519Public);
  const wire = sshWireKey(ed25519Public);
  const fileKey = randomBytes(16);
  const ephemeral = generateKeyPairSync("x25519");
  const eScalar = Buffer.from((ephemeral.privateKey.export({ format: "jwk" }) as { d: string }).d, "base64url");
  const share = Buffer.from((ephemeral.publicKey.export({ format: "jwk" }) as { x: string }).x, "base64url");
  const tweak = hkdf(Buffer.alloc(0), wire, LABEL);
  const shared = x25519(tweak, x25519(eScalar, recipient));
  const wrapKey = hkdf(shared, Buffer.concat([share, recipient]), LABEL);
  const body = seal(wrapKey, Buffer.alloc(12), fileKey);
  const headerNoMac = `${INTRO}-> ssh-ed25519 ${sshTag(wire)} ${b64(share)}\n${b64(body)}\n---`;
  const mac = createHmac("sha256", hkdf(fileKey, Buffer.alloc(0), "header")).update(headerNoMac).digest();
  const nonce = randomBytes(16);
  const streamKey = hkdf(fileKey, nonce, "payload");
  const parts: Buffer[] = [Buffer.from(`${headerNoMac} ${b64(mac)}\n`), nonce];
  const chunks = Math.max(1, Math.ceil(plaintext.length / CHUNK));
  for (let i = 0; i < chunks; i++) {
    parts.push(seal(streamKey, chunkNonce(i, i === chunks - 1), plaintext.subarray(i * CHUNK, (i + 1) * CHUNK)));
  }
  return Buffer.concat(parts);
}

interface Stanza {
  args: string[];
  body: Buffer;
}

/** Splits the header into its stanzas, the bytes the MAC covers and the MAC, and where the payload starts. */
function parseHeader(file: Buffer): { stanzas: Stanza[]; macInput: Buffer; mac: Buffer; payloadStart: number } {
  if (!file.subarray(0, INTRO.length).equals(Buffer.from(INTRO))) {
    throw new AgeError("not an age v1 file (it does not start with age-encryption.org/v1)");
  }
  let pos = INTRO.length;
  const readLine = (): string => {
    const end = file.indexOf(0x0a, pos);
    if (end < 0 || end > MAX_HEADER_BYTES) throw new AgeError("the header is cut off or too long");
    const line = file.subarray(pos, end).toString("latin1");
    pos = end + 1;
    return line;
  };
  const stanzas: Stanza[] = [];
  for (;;) {
    const lineStart = pos;
    const line = readLine();
    if (line.startsWith("--- ")) {
      const mac = unb64(line.slice(4), "the header MAC");
      if (mac.length !== 32) throw new AgeError("the header MAC is not 32 bytes");
      return { stanzas, macInput: file.subarray(0, lineStart + 3), mac, payloadStart: pos };
    }
    if (!line.startsWith("-> ")) throw new AgeError("the header has a line that is neither a stanza nor the MAC");
    if (stanzas.length >= MAX_STANZAS) throw new AgeError(`the header has more than ${MAX_STANZAS} recipient stanzas`);
    const args = line.slice(3).split(" ");
    if (args.some((a) => a === "" || !/^[\x21-\x7e]+$/.test(a))) throw new AgeError("a stanza has an empty or non-printable argument");
    const bodyParts: Buffer[] = [];
    for (;;) {
      const bodyLine = readLine();
      if (bodyLine.length > 64) throw new AgeError("a stanza body line is longer than 64 columns");
      bodyParts.push(unb64(bodyLine, "a stanza body"));
      if (bodyLine.length < 64) break;
    }
    stanzas.push({ args, body: Buffer.concat(bodyParts) });
  }
}

function unwrapSshEd25519(stanza: Stanza, identity: { secret: Buffer; publicX: Buffer; wire: Buffer; tag: string }): Buffer | undefined {
  if (stanza.args[0] !== "ssh-ed25519") return undefined;
  if (stanza.args.length !== 3) throw new AgeError("an ssh-ed25519 stanza must have a tag and a share");
  if (stanza.args[1] !== identity.tag) return undefined; // meant for another key
  const share = unb64(stanza.args[2]!, "the ssh-ed25519 share");
  if (share.length !== 32) throw new AgeError("the ssh-ed25519 share is not 32 bytes");
  if (stanza.body.length !== 32) throw new AgeError("the ssh-ed25519 stanza body is not 32 bytes");
  const tweak = hkdf(Buffer.alloc(0), identity.wire, LABEL);
  const shared = x25519(tweak, x25519(identity.secret, share));
  const wrapKey = hkdf(shared, Buffer.concat([share, identity.publicX]), LABEL);
  const fileKey = open(wrapKey, Buffer.alloc(12), stanza.body);
  if (!fileKey) throw new AgeError("the ssh-ed25519 stanza does not open with this key (encrypted to another key with the same tag, or damaged)");
  return fileKey;
}

/**
 * Decrypts an age file encrypted to the ssh-ed25519 recipient of `identity` (the Ed25519 private key or its
 * 32-byte seed). `maxBytes` bounds the file accepted (default DEFAULT_MAX_AGE_BYTES).
 */
export function ageDecryptWithEd25519(ciphertext: Uint8Array, identity: KeyObject | Uint8Array, opts: { maxBytes?: number } = {}): Buffer {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_AGE_BYTES;
  if (ciphertext.length > maxBytes) throw new AgeError(`the file is ${ciphertext.length} bytes, more than the ${maxBytes} accepted`);
  const file = Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength);
  const { stanzas, macInput, mac, payloadStart } = parseHeader(file);
  const seed = seedOf(identity);
  const edPublic = ed25519PublicOfSeed(seed);
  const secret = createHash("sha512").update(seed).digest().subarray(0, 32);
  const wire = sshWireKey(edPublic);
  const id = { secret, publicX: x25519Public(secret), wire, tag: sshTag(wire) };
  let fileKey: Buffer | undefined;
  for (const stanza of stanzas) {
    fileKey = unwrapSshEd25519(stanza, id);
    if (fileKey) break;
  }
  seed.fill(0);
  if (!fileKey) throw new AgeError("no recipient stanza is for this key (the config was encrypted to a different key)");

  const expected = createHmac("sha256", hkdf(fileKey, Buffer.alloc(0), "header")).update(macInput).digest();
  if (!timingSafeEqual(expected, mac)) throw new AgeError("the header MAC does not match (the header was altered)");

  const nonce = file.subarray(payloadStart, payloadStart + 16);
  if (nonce.length !== 16) throw new AgeError("the payload nonce is cut off");
  const streamKey = hkdf(fileKey, nonce, "payload");
  const out: Buffer[] = [];
  let pos = payloadStart + 16;
  for (let counter = 0; ; counter++) {
    const remaining = file.length - pos;
    const last = remaining <= CHUNK + TAG;
    const sealed = file.subarray(pos, pos + Math.min(remaining, CHUNK + TAG));
    const plain = open(streamKey, chunkNonce(counter, last), sealed);
    if (!plain) throw new AgeError(`payload chunk ${counter} does not authenticate (the file is damaged or cut off)`);
    if (last && plain.length === 0 && counter > 0) throw new AgeError("the payload ends with an empty chunk after data");
    out.push(plain);
    pos += sealed.length;
    if (last) break;
  }
  return Buffer.concat(out);
}
