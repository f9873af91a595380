/**
 * SHA-256 / HMAC-SHA-256 for @smithy/signature-v4, backed by node:crypto: one piece for every SigV4 signer here (the
 * hosted runtime's `id_att`, the Datadog connector's delegated-auth proof).
 *
 * The signer takes a hash constructor (its `sha256` option) rather than bundling one; the AWS SDK normally passes
 * @smithy/hash-node, which is not a direct dependency of this project, so we supply the same thing over node:crypto.
 * This is only the hash primitive: the SigV4 algorithm itself (canonical request, scope, key derivation) is the
 * library's.
 */
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";

type SourceData = string | ArrayBuffer | ArrayBufferView;

function toBuffer(data: SourceData): Buffer {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** Matches the Checksum shape @smithy/signature-v4 expects: `new (secret?) => { update, digest, reset }`. */
export class NodeSha256 {
  readonly #secret: Buffer | undefined;
  #hash: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.#secret = secret === undefined ? undefined : toBuffer(secret);
    this.#hash = this.#fresh();
  }

  update(chunk: SourceData): void {
    this.#hash.update(toBuffer(chunk));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }

  reset(): void {
    this.#hash = this.#fresh();
  }

  #fresh(): Hash | Hmac {
    return this.#secret === undefined ? createHash("sha256") : createHmac("sha256", this.#secret);
  }
}
