import { describe, expect, it } from "vitest";
import { RepeatedPageGuard } from "./page-guard.ts";

describe("RepeatedPageGuard", () => {
  it("names the earlier page whose ids a later page repeats, in order", () => {
    const guard = new RepeatedPageGuard();
    expect(guard.check("users", 0, ["a", "b"])).toBeUndefined();
    expect(guard.check("users", 1, ["c", "d"])).toBeUndefined();
    expect(guard.check("users", 2, ["a", "b"])).toBe(0);
    expect(guard.check("users", 3, ["d", "c"])).toBeUndefined(); // same ids, other order: a different page
  });

  it("keeps the ids apart: pages whose ids only join to the same text differ", () => {
    const guard = new RepeatedPageGuard();
    guard.check("users", 0, ["ab", "c"]);
    expect(guard.check("users", 1, ["a", "bc"])).toBeUndefined();
    expect(guard.check("users", 2, ["abc"])).toBeUndefined();
  });

  it("does not flag the same page asked again, empty pages, or another listing", () => {
    const guard = new RepeatedPageGuard();
    guard.check("users", 0, ["a"]);
    expect(guard.check("users", 0, ["a"])).toBeUndefined();
    expect(guard.check("users", 1, [])).toBeUndefined();
    expect(guard.check("teams", 1, ["a"])).toBeUndefined();
  });

  it("forgets a listing's pages when a new walk starts at page 0, and the least recently used listing first", () => {
    const guard = new RepeatedPageGuard(1);
    guard.check("users", 0, ["a"]);
    guard.check("users", 1, ["b"]);
    guard.check("users", 0, ["x"]);
    expect(guard.check("users", 1, ["a"])).toBeUndefined();
    guard.check("teams", 1, ["t"]); // evicts users
    expect(guard.check("users", 2, ["x"])).toBeUndefined();
  });
});
