/**
 * RowLane hands out per-resource work round-robin by resource type, including the extra pages a connector
 * announces (EnqueuePageTokens), and skips rows of skipped types without reading them again and again.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RowLane, type RowWork } from "../../src/sync/row-lane.ts";
import { SyncStore } from "../../src/store/store.ts";
import { tempDir, team, user } from "../store/fixtures.ts";

describe("RowLane", () => {
  let cleanup = () => {};
  afterEach(() => cleanup());

  async function storeWith(build: (s: SyncStore, syncId: string) => void) {
    const t = tempDir("row-lane-");
    const store = await SyncStore.openForSync(join(t.dir, "sync.c1z"));
    cleanup = () => {
      store.close();
      t.cleanup();
    };
    const syncId = store.startSync();
    build(store, syncId);
    return { store, syncId };
  }

  it("lets one row's announced pages take turns with the other types' rows", async () => {
    const { store, syncId } = await storeWith((s, id) => s.putResources(id, [user("big"), ...["t1", "t2", "t3", "t4"].map((t) => team(t))]));
    const lane = new RowLane("grants", store, syncId, { cursor: 0, inflight: [] }, () => false);
    const first = lane.next()!;
    expect(first.resource.id?.resource).toBe("big");
    lane.enqueue(first.rowId, ["p1", "p2", "p3"]);
    const order: string[] = [];
    for (let w: RowWork | undefined; (w = lane.next()); ) order.push(w.pageToken ? `big:${w.pageToken}` : w.resource.id!.resource);
    expect(order).toEqual(["t1", "big:p1", "t2", "big:p2", "t3", "big:p3", "t4"]);
  });

  it("finishes a row only when all of its pages are done, and reports the others for a checkpoint", async () => {
    const { store, syncId } = await storeWith((s, id) => s.putResources(id, [user("a"), user("b")]));
    const lane = new RowLane("grants", store, syncId, { cursor: 0, inflight: [] }, () => false);
    const a = lane.next()!;
    lane.enqueue(a.rowId, ["x"]);
    const extra = lane.next()!;
    expect(extra.pageToken).toBe("x");
    lane.pageDone(a.rowId, a.key);
    expect(lane.snapshot()).toEqual({ cursor: a.rowId - 1, inflight: [{ rowId: a.rowId, pageToken: "x" }] });
    lane.pageDone(extra.rowId, extra.key);
    expect(lane.snapshot().cursor).toBe(a.rowId);
  });

  it("does not hand out rows of skipped types, and moves its cursor past them", async () => {
    const { store, syncId } = await storeWith((s, id) => s.putResources(id, [...Array.from({ length: 50 }, (_, i) => user(`u${i}`)), team("t")]));
    const lane = new RowLane("grants", store, syncId, { cursor: 0, inflight: [] }, () => false, ["user"]);
    const work = lane.next()!;
    expect(work.resource.id?.resource).toBe("t");
    expect(lane.next()).toBeUndefined();
    lane.pageDone(work.rowId, work.key);
    expect(lane.snapshot().cursor).toBe(store.lastResourceRowId());
    // Rows stored later are still found.
    store.putResources(syncId, [team("later")]);
    expect(lane.next()?.resource.id?.resource).toBe("later");
  });

  it("asks the database for new rows only after resources were stored, and then finds them", async () => {
    const { store, syncId } = await storeWith((s, id) => s.putResources(id, [team("t1")]));
    const lane = new RowLane("grants", store, syncId, { cursor: 0, inflight: [] }, () => false);
    let queries = 0;
    const query = store.lastResourceRowId.bind(store);
    store.lastResourceRowId = () => (queries++, query());
    expect(lane.next()?.resource.id?.resource).toBe("t1");
    expect(queries).toBe(1);
    for (let i = 0; i < 100; i++) expect(lane.next()).toBeUndefined();
    expect(queries).toBe(1); // nothing stored since the look that saw every row
    store.putResources(syncId, [team("t2"), team("t3")]);
    expect(lane.next()?.resource.id?.resource).toBe("t2");
    expect(lane.next()?.resource.id?.resource).toBe("t3");
    expect(lane.next()).toBeUndefined();
    expect(queries).toBe(2);
    // A page refused before it is written stores nothing, and the lane finds nothing new.
    expect(() => store.putResources(syncId, [team("")])).toThrow();
    expect(lane.next()).toBeUndefined();
  });
});
