import { describe, expect, it } from "vitest";
import { raceAbort } from "../../src/http/abort.ts";

describe("raceAbort (the one abort race)", () => {
  it("rejects with the signal's reason when the signal fires first, and at once when it already fired", async () => {
    const never = new Promise<number>(() => {});
    const c = new AbortController();
    const raced = raceAbort(never, c.signal);
    c.abort(new Error("stop"));
    await expect(raced).rejects.toThrow("stop");
    await expect(raceAbort(never, c.signal)).rejects.toThrow("stop");
  });

  it("settles with the promise and leaves no listener behind on a long-lived signal", async () => {
    const c = new AbortController();
    let listeners = 0;
    const add = c.signal.addEventListener.bind(c.signal);
    const remove = c.signal.removeEventListener.bind(c.signal);
    c.signal.addEventListener = ((...a: Parameters<typeof add>) => (listeners++, add(...a))) as typeof add;
    c.signal.removeEventListener = ((...a: Parameters<typeof remove>) => (listeners--, remove(...a))) as typeof remove;
    for (let i = 0; i < 100; i++) expect(await raceAbort(Promise.resolve(i), c.signal)).toBe(i);
    await expect(raceAbort(Promise.reject(new Error("boom")), c.signal)).rejects.toThrow("boom");
    await new Promise((r) => setImmediate(r));
    expect(listeners).toBe(0);
  });
});
