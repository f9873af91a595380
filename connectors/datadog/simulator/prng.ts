/**
 * Seeded pseudo-random numbers and id shapes. The simulator's org must be identical for the same seed on every
 * machine and Node version, so nothing here may touch Math.random or the clock.
 */

// Ids are written into a scratch buffer and decoded once: a flat string costs about a seventh of the memory of
// one built by concatenating slices, which matters for an org of 100,000 users.
const SCRATCH = Buffer.alloc(256);
const HEX = Buffer.from("0123456789abcdef", "latin1");
const ALNUM = Buffer.from("abcdefghijklmnopqrstuvwxyz0123456789", "latin1");

/** sfc32 seeded through splitmix32: fast, 32-bit only, good enough statistical quality for fixtures. */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** RFC 4122 version-4-shaped UUID (lowercase), drawn from the stream. */
  uuid(): string {
    let p = 0;
    for (let word = 0; word < 4; word++) {
      let x = this.u32();
      for (let k = 0; k < 8; k++) {
        if (p === 8 || p === 13 || p === 18 || p === 23) SCRATCH[p++] = 0x2d;
        SCRATCH[p++] = HEX[x >>> 28];
        x = (x << 4) >>> 0;
      }
    }
    SCRATCH[14] = 0x34; // version 4
    SCRATCH[19] = HEX[8 | (SCRATCH[19] & 0x3)]; // variant 10xx
    return SCRATCH.toString("latin1", 0, 36);
  }

  /** Lowercase hex string of the given length. */
  hex(length: number): string {
    if (length > SCRATCH.length) throw new RangeError(`hex length must be at most ${SCRATCH.length}`);
    for (let p = 0; p < length; ) {
      let x = this.u32();
      for (let k = 0; k < 8 && p < length; k++) {
        SCRATCH[p++] = HEX[x >>> 28];
        x = (x << 4) >>> 0;
      }
    }
    return SCRATCH.toString("latin1", 0, length);
  }

  /** Lowercase alphanumeric string of the given length. */
  alnum(length: number): string {
    if (length > SCRATCH.length) throw new RangeError(`alnum length must be at most ${SCRATCH.length}`);
    for (let p = 0; p < length; p++) SCRATCH[p] = ALNUM[this.int(ALNUM.length)];
    return SCRATCH.toString("latin1", 0, length);
  }

  /** Short public id in Datadog's `abc-def-ghi` style (used for on-call schedules). */
  publicId(): string {
    for (let p = 0; p < 11; p++) SCRATCH[p] = p === 3 || p === 7 ? 0x2d : ALNUM[this.int(ALNUM.length)];
    return SCRATCH.toString("latin1", 0, 11);
  }
}

/** A flat copy of a string built by concatenation (which V8 keeps as a tree of pieces). */
export function flat(text: string): string {
  return Buffer.from(text, "utf8").toString("utf8");
}

/** A stable 32-bit hash of a string, to derive independent sub-streams from one seed. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** An independent stream for one part of the org, so adding users does not reshuffle teams, and so on. */
export function stream(seed: number, part: string): Prng {
  return new Prng((seed ^ hash32(part)) >>> 0);
}
