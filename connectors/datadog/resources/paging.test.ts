import { describe, expect, it } from "vitest";
import { findAnnotation } from "../../../src/connector/annotations.ts";
import { EnqueuePageTokensSchema } from "../../../src/gen/c1/connector/v2/annotation_type_scoped_grants_pb.js";
import { numberedPage } from "./paging.ts";

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
});
