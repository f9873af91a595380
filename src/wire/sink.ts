/**
 * A growable byte buffer with the few protobuf primitives our hand-written encoders need. The encoders built on it (struct.ts, store/row-encoding.ts) emit the bytes protobuf-es's toBinary
 * would, and their tests compare the two byte for byte.
 *
 * A Buffer, not a plain Uint8Array: `write` puts a string's UTF-8 straight at an offset, where TextEncoder's
 * encodeInto needs a subarray view per string (eight or so per grant: ~70 MB of garbage in a bench sync).
 * Zero-filled, so bytes past what was written are never old memory.
 */
export class Sink {
  buf: Buffer;
  pos = 0;

  constructor(initialBytes = 16 * 1024) {
    this.buf = Buffer.alloc(initialBytes);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const grown = Buffer.alloc(size);
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  varint(v: number): void {
    this.ensure(5);
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }

  /** A double as protobuf's fixed64 (little-endian IEEE 754), as DataView's setFloat64 writes it. */
  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** Starts a length-delimited field: its tag and one byte reserved for the length. */
  open(tag: number): number {
    this.ensure(6);
    if (tag < 0x80) this.buf[this.pos++] = tag;
    else this.varint(tag);
    return this.pos++;
  }

  /** Reserves one byte for the length of a field whose tag is already written; close() fills it in. */
  reserve(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Ends the field opened at `at`: a length of 128 or more needs more bytes, so the content moves right. */
  close(at: number): void {
    const len = this.pos - at - 1;
    if (len < 0x80) {
      this.buf[at] = len;
      return;
    }
    const size = varintSize(len);
    this.ensure(size - 1);
    this.buf.copyWithin(at + size, at + 1, this.pos);
    this.pos += size - 1;
    let v = len;
    let i = at;
    while (v > 0x7f) {
      this.buf[i++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[i] = v;
  }

  /** A string field, left out when empty (implicit presence). */
  string(tag: number, s: string): void {
    if (s !== "") this.stringAlways(tag, s);
  }

  /** A string field written even when empty: a map key, or a oneof member. */
  stringAlways(tag: number, s: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair: 4 bytes for 2 units); a lone surrogate is
    // written as U+FFFD, as toBinary's TextEncoder does.
    const len = s.length;
    this.ensure(6 + 5 + 3 * len);
    const at = this.open(tag);
    // Short ASCII strings (ids, names, keys) byte by byte: a call into Buffer#write costs more than the copy.
    if (len <= 64) {
      const buf = this.buf;
      let pos = this.pos;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[pos++] = c;
      }
      if (i === len) {
        this.pos = pos;
        this.close(at);
        return;
      }
    }
    this.pos += this.buf.write(s, this.pos, "utf8");
    this.close(at);
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.byteLength);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.byteLength;
  }

  /** A length-delimited field holding bytes encoded elsewhere. */
  embedded(tag: number, bytes: Uint8Array): void {
    this.varint(tag);
    this.varint(bytes.byteLength);
    this.raw(bytes);
  }

  /**
   * What was written, as one right-sized plain Uint8Array (as toBinary gives; a Buffer's slice would be a view of
   * the sink's buffer, which may be twice the bytes), cut at `ends` into one view per message.
   */
  views(ends: readonly number[]): Uint8Array[] {
    const all = new Uint8Array(this.pos);
    all.set(this.buf.subarray(0, this.pos));
    const out: Uint8Array[] = new Array(ends.length);
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      out[i] = all.subarray(start, ends[i]);
      start = ends[i];
    }
    return out;
  }

  /** What was written, as one right-sized plain Uint8Array. */
  bytes(): Uint8Array {
    const all = new Uint8Array(this.pos);
    all.set(this.buf.subarray(0, this.pos));
    return all;
  }
}

export function varintSize(v: number): number {
  let n = 1;
  while (v > 0x7f) {
    v >>>= 7;
    n++;
  }
  return n;
}

/** The tag of a length-delimited field. */
export const LEN = (field: number) => (field << 3) | 2;
/** The tag of a varint field. */
export const VARINT = (field: number) => field << 3;
