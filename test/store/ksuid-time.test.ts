import { describe, expect, it } from "vitest";
import { decodeKsuid, encodeKsuid, isKsuid, KSUID_LENGTH, newKsuid } from "../../src/store/ksuid.ts";
import { formatSqlTime, parseSqlTime } from "../../src/store/time.ts";

describe("KSUID", () => {
  it("encodes the reference example of the KSUID spec", () => {
    // segmentio/ksuid README: 0ujtsYcgvSTl8PAuAdqWYSMnLOv = timestamp 107608047, payload B5A1CD34B5F99D1154FB6853345C9735
    const raw = Buffer.from("0669F7EFB5A1CD34B5F99D1154FB6853345C9735", "hex");
    expect(encodeKsuid(raw)).toBe("0ujtsYcgvSTl8PAuAdqWYSMnLOv");
    const decoded = decodeKsuid("0ujtsYcgvSTl8PAuAdqWYSMnLOv");
    expect(decoded.time.toISOString()).toBe(new Date((107608047 + 1_400_000_000) * 1000).toISOString());
    expect(Buffer.from(decoded.payload).toString("hex").toUpperCase()).toBe("B5A1CD34B5F99D1154FB6853345C9735");
  });

  it("makes 27 base62 characters carrying the creation second, unique and time-sortable", () => {
    const at = new Date("2025-06-01T12:00:00.900Z");
    const id = newKsuid(at);
    expect(id).toHaveLength(KSUID_LENGTH);
    expect(id).toMatch(/^[0-9A-Za-z]{27}$/);
    expect(decodeKsuid(id).time.toISOString()).toBe("2025-06-01T12:00:00.000Z");
    expect(newKsuid(at)).not.toBe(id);
    const later = newKsuid(new Date("2025-06-01T12:00:01Z"));
    expect([later, id].sort()).toEqual([id, later]);
  });

  it("pads small values and rejects what is not a KSUID", () => {
    expect(encodeKsuid(new Uint8Array(20))).toBe("0".repeat(27));
    expect(encodeKsuid(new Uint8Array(20).fill(255))).toBe("aWgEPTl1tmebfsQzFP4bxwgy80V");
    expect(isKsuid("aWgEPTl1tmebfsQzFP4bxwgy80V")).toBe(true);
    expect(isKsuid("aWgEPTl1tmebfsQzFP4bxwgy80W")).toBe(false); // > 2^160 - 1
    expect(isKsuid("short")).toBe(false);
    expect(isKsuid("0ujtsYcgvSTl8PAuAdqWYSMnLO-")).toBe(false);
    expect(() => decodeKsuid("nope")).toThrow(/not a KSUID/);
    expect(() => newKsuid(new Date("2010-01-01T00:00:00Z"))).toThrow(/out of KSUID range/);
  });
});

describe("c1z time text", () => {
  it("formats UTC with nine fraction digits", () => {
    expect(formatSqlTime(new Date("2024-01-02T03:04:05.006Z"))).toBe("2024-01-02 03:04:05.006000000");
    expect(formatSqlTime(new Date("2024-12-31T23:59:59.999Z"))).toBe("2024-12-31 23:59:59.999000000");
  });

  it("orders as text the way the times order", () => {
    const a = formatSqlTime(new Date("2024-01-02T03:04:05.006Z"));
    const b = formatSqlTime(new Date("2024-01-02T03:04:05.060Z"));
    const c = formatSqlTime(new Date("2024-01-10T00:00:00Z"));
    expect([c, b, a].sort()).toEqual([a, b, c]);
  });

  it("parses its own text and Go's trimmed or zoned forms", () => {
    const d = new Date("2024-01-02T03:04:05.006Z");
    expect(parseSqlTime(formatSqlTime(d)).toISOString()).toBe(d.toISOString());
    expect(parseSqlTime("2024-01-02 03:04:05.1").toISOString()).toBe("2024-01-02T03:04:05.100Z");
    expect(parseSqlTime("2024-01-02 03:04:05").toISOString()).toBe("2024-01-02T03:04:05.000Z");
    expect(parseSqlTime("2024-01-02 05:04:05.123456789+02:00").toISOString()).toBe("2024-01-02T03:04:05.123Z");
    expect(() => parseSqlTime("yesterday")).toThrow(/not a c1z time/);
  });
});
