// KSUID: 20 bytes = 4-byte big-endian seconds since 1400000000 (2014-05-13) + 16 random bytes, written as
// 27 base62 characters (0-9A-Za-z), left-padded with "0". Sync ids in a c1z are KSUIDs (PROTOCOL.md §2);
// their text sorts by creation second.
import { getRandomValues } from "node:crypto";

export const KSUID_EPOCH_SECONDS = 1_400_000_000;
export const KSUID_LENGTH = 27;
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const MAX_VALUE = (1n << 160n) - 1n;

export function newKsuid(now: Date = new Date()): string {
  const seconds = Math.floor(now.getTime() / 1000) - KSUID_EPOCH_SECONDS;
  if (!(seconds >= 0 && seconds <= 0xffff_ffff)) throw new RangeError(`newKsuid: time out of KSUID range: ${now.toISOString()}`);
  const bytes = new Uint8Array(20);
  new DataView(bytes.buffer).setUint32(0, seconds);
  getRandomValues(bytes.subarray(4));
  return encodeKsuid(bytes);
}

export function encodeKsuid(bytes: Uint8Array): string {
  if (bytes.length !== 20) throw new RangeError(`a KSUID has 20 bytes, got ${bytes.length}`);
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  let text = "";
  while (value > 0n) {
    text = ALPHABET[Number(value % 62n)] + text;
    value /= 62n;
  }
  return text.padStart(KSUID_LENGTH, "0");
}

export function decodeKsuid(text: string): { time: Date; payload: Uint8Array } {
  if (!isKsuid(text)) throw new RangeError(`not a KSUID (27 base62 characters): ${JSON.stringify(text)}`);
  let value = 0n;
  for (const ch of text) value = value * 62n + BigInt(ALPHABET.indexOf(ch));
  const bytes = new Uint8Array(20);
  for (let i = 19; i >= 0; i--) {
    bytes[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  const seconds = new DataView(bytes.buffer).getUint32(0);
  return { time: new Date((seconds + KSUID_EPOCH_SECONDS) * 1000), payload: bytes.slice(4) };
}

export function isKsuid(text: string): boolean {
  if (text.length !== KSUID_LENGTH || !/^[0-9A-Za-z]+$/.test(text)) return false;
  let value = 0n;
  for (const ch of text) value = value * 62n + BigInt(ALPHABET.indexOf(ch));
  return value <= MAX_VALUE;
}
