/**
 * formatCount groups digits as en-US does without Intl (src/cli/table.ts): Intl's number formatting maps ICU's
 * locale data into the process, at the end of a sync, where its RSS peaks (issue 14).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { formatCount } from "../../src/cli/table.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("formatCount", () => {
  it("groups thousands like toLocaleString('en-US') for integers of every length and sign", () => {
    const samples = [0, 7, 42, 999, 1000, 1001, 12_345, 100_000, 999_999, 1_000_000, 130_483, 1_234_567_890, Number.MAX_SAFE_INTEGER];
    for (let i = 0; i < 200; i++) samples.push(Math.floor(Math.random() * 10 ** (1 + (i % 15))));
    for (const n of [...samples, ...samples.filter((x) => x !== 0).map((x) => -x)]) {
      const expected = n.toLocaleString("en-US");
      expect(formatCount(n), String(n)).toBe(expected);
    }
    expect(formatCount(105_877)).toBe("105,877");
    expect(formatCount(-0)).toBe("0");
  });

  it("prints what is not a safe integer as String() does", () => {
    expect(formatCount(1.5)).toBe("1.5");
    expect(formatCount(Number.NaN)).toBe("NaN");
    expect(formatCount(Number.POSITIVE_INFINITY)).toBe("Infinity");
  });

  it("does not reach Intl", () => {
    const toLocale = vi.spyOn(Number.prototype, "toLocaleString").mockImplementation(() => {
      throw new Error("Intl used");
    });
    const numberFormat = vi.spyOn(Intl, "NumberFormat").mockImplementation(() => {
      throw new Error("Intl used");
    });
    expect(formatCount(2_000_000)).toBe("2,000,000");
    expect(toLocale).not.toHaveBeenCalled();
    expect(numberFormat).not.toHaveBeenCalled();
  });
});
