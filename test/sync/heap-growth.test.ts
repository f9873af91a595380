/** The heap growth a sync sets (src/sync/heap-growth.ts): default, override, refusal of bad values. */
import { describe, expect, it } from "vitest";
import { unknownBatonVariables } from "../../src/config/env-check.ts";
import { applyHeapGrowth, DEFAULT_HEAP_GROWING_PERCENT, heapGrowingPercent, HEAP_GROWING_ENV } from "../../src/sync/heap-growth.ts";

describe("heap growth of a sync", () => {
  it("defaults to 20 %, takes a whole number from the environment, and 0 for V8's own growth", () => {
    expect(DEFAULT_HEAP_GROWING_PERCENT).toBe(20);
    expect(heapGrowingPercent({})).toBe(20);
    expect(heapGrowingPercent({ [HEAP_GROWING_ENV]: " " })).toBe(20);
    expect(heapGrowingPercent({ [HEAP_GROWING_ENV]: "35" })).toBe(35);
    expect(heapGrowingPercent({ [HEAP_GROWING_ENV]: "0" })).toBe(0);
  });

  it("refuses what is not a whole number from 0 to 400, naming the variable and the range", () => {
    for (const bad of ["-5", "1.5", "twenty", "401", "1e2"]) {
      expect(() => heapGrowingPercent({ [HEAP_GROWING_ENV]: bad })).toThrow(
        new RegExp(`^${HEAP_GROWING_ENV}=.* is not a whole number from 0 to 400`),
      );
    }
  });

  it("applies the percent in force and refuses a bad value before setting anything", () => {
    expect(applyHeapGrowth({ [HEAP_GROWING_ENV]: "25" })).toBe(25);
    expect(applyHeapGrowth({ [HEAP_GROWING_ENV]: "25" })).toBe(25);
    expect(() => applyHeapGrowth({ [HEAP_GROWING_ENV]: "lots" })).toThrow(HEAP_GROWING_ENV);
    expect(applyHeapGrowth({})).toBe(DEFAULT_HEAP_GROWING_PERCENT);
  });

  it("is a variable the SDK reads: the CLI does not warn that it is not a setting", () => {
    expect(unknownBatonVariables({ [HEAP_GROWING_ENV]: "20" }, {})).toEqual([]);
  });
});
