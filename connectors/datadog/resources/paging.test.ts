import { describe, expect, it } from "vitest";
import { findAnnotation } from "../../../src/index.ts";
import { EnqueuePageTokensSchema } from "../../../src/messages.ts";
import { MAX_ANNOUNCED_PAGES, numberedPage } from "./paging.ts";
import { nextPageNumber } from "../client/paging.ts";

/** A listing of `total` items, `size` per page, that may grow between calls. */
function listing(total: () => number, size: number) {
  const asked: number[] = [];
  const fetch = async (n: number) => {
    asked.push(n);
    const t = total();
    const items = Array.from({ length: Math.max(0, Math.min(size, t - n * size)) }, (_, i) => n * size + i);
    return { items, nextPage: (n + 1) * size < t ? n + 1 : undefined, total: t };
  };
  return { fetch, asked };
}

describe("numbered pages", () => {
  it("announces every other page on the first one; later pages do not chain", async () => {
    const l = listing(() => 25, 10);
    const first = await numberedPage("", "things", l.fetch);
    expect(first.nextPageToken).toBe("");
    expect(findAnnotation(first.annotations, EnqueuePageTokensSchema)?.pageTokens).toEqual(["1", "2+"]);
    expect((await numberedPage("1", "things", l.fetch)).nextPageToken).toBe("");
    const last = await numberedPage("2+", "things", l.fetch);
    expect(last.items).toEqual([20, 21, 22, 23, 24]);
    expect(last.nextPageToken).toBe("");
  });

  it("keeps chaining from the last announced page when the listing grew", async () => {
    let total = 25;
    const l = listing(() => total, 10);
    await numberedPage("", "things", l.fetch);
    total = 41;
    const last = await numberedPage("2+", "things", l.fetch);
    expect(last.nextPageToken).toBe("3+");
    const extra = await numberedPage("4+", "things", l.fetch);
    expect(extra.items).toEqual([40]);
    expect(extra.nextPageToken).toBe("");
  });

  it("a single page announces nothing; a foreign token is INVALID_ARGUMENT", async () => {
    const l = listing(() => 3, 10);
    const only = await numberedPage("", "things", l.fetch);
    expect(only.annotations).toBeUndefined();
    expect(only.nextPageToken).toBe("");
    await expect(numberedPage("x1", "things", l.fetch)).rejects.toThrow(/invalid page token for things/);
  });

  it("a total beyond the bound announces nothing: the listing is walked one page at a time", async () => {
    // 250 items but a total of 10^11: before the bound, this first page announced ~10^9 tokens (the heap ran out).
    const fetch = async (n: number) => {
      const items = Array.from({ length: Math.max(0, Math.min(100, 250 - n * 100)) }, (_, i) => n * 100 + i);
      return { items, nextPage: nextPageNumber(n, 100, items.length, 1e11), total: 1e11 };
    };
    const first = await numberedPage("", "users", fetch);
    expect(first.annotations).toBeUndefined();
    expect(first.nextPageToken).toBe("1+");
    expect((await numberedPage("1+", "users", fetch)).nextPageToken).toBe("2+");
    // The listing ends with 250 items while still claiming 10^11: a clear error, not a silent short listing.
    await expect(numberedPage("2+", "users", fetch)).rejects.toThrow(
      /^users: the API announced a total of 100000000000 items but the listing ended at page 2 \(50 items on it\): its total and its content disagree/,
    );
  });

  it("announces up to the bound, and a total just beyond it chains instead", async () => {
    const within = await numberedPage("", "things", async () => ({ items: [1], nextPage: 1, total: MAX_ANNOUNCED_PAGES + 1 }));
    expect(findAnnotation(within.annotations, EnqueuePageTokensSchema)?.pageTokens).toHaveLength(MAX_ANNOUNCED_PAGES);
    const beyond = await numberedPage("", "things", async () => ({ items: [1], nextPage: 1, total: MAX_ANNOUNCED_PAGES + 2 }));
    expect(beyond.annotations).toBeUndefined();
    expect(beyond.nextPageToken).toBe("1+");
  });

  it("an understated total does not end a listing whose pages are still full", () => {
    // total 1 but a full first page: before, paging stopped there and 150 of 250 items were silently lost.
    expect(nextPageNumber(0, 100, 100, 1)).toBe(1);
    expect(nextPageNumber(1, 100, 100, 1)).toBe(2);
    expect(nextPageNumber(2, 100, 50, 1)).toBeUndefined();
    // A full page that reaches the total exactly is still the last one (no extra, empty request).
    expect(nextPageNumber(1, 100, 100, 200)).toBeUndefined();
    expect(nextPageNumber(0, 100, 100, 250)).toBe(1);
  });

  it("counts pages by the entries an answer held, not by the usable items left after skipping", async () => {
    // 100 entries per page, 40 of them unusable: 250 items are 3 pages, not ceil(250 / 60) = 5.
    const first = await numberedPage("", "users", async () => ({ items: Array.from({ length: 60 }, (_, i) => i), received: 100, nextPage: 1, total: 250 }));
    expect(findAnnotation(first.annotations, EnqueuePageTokensSchema)?.pageTokens).toEqual(["1", "2+"]);
  });
});
