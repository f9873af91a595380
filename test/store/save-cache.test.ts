/** The page cache of a sync's working database (database-files.ts): 2 MB while it syncs, while it saves, and after a failed save. */
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { SyncStore } from "../../src/store/store.ts";
import { sampleObjects, tempDir } from "./fixtures.ts";

let dir = "";
let cleanup = () => {};
beforeEach(() => ({ dir, cleanup } = tempDir("c1z-save-cache-")));
afterEach(() => cleanup());

const cacheSize = (store: SyncStore): number => Number(store.database.prepare("pragma cache_size").get()?.cache_size);

it("a sync works with a 2 MB page cache, still has it after a failed save, and saves all it holds", async () => {
  const file = join(dir, "sync.c1z");
  const store = await SyncStore.openForSync(file);
  try {
    const syncId = store.startSync();
    const o = sampleObjects();
    store.putResourceTypes(syncId, o.resourceTypes);
    store.putResources(syncId, o.resources);
    store.endSync(syncId, {});
    expect(cacheSize(store)).toBe(-2000);

    await expect(store.saveTo(join(dir, "no-such-directory", "out.c1z"))).rejects.toThrow(/no-such-directory/);
    expect(store.isOpen).toBe(true);
    expect(cacheSize(store)).toBe(-2000);

    await store.saveTo(file);
    expect(store.isOpen).toBe(false);
  } finally {
    store.close();
  }
  const saved = await SyncStore.openReadOnly(file);
  try {
    expect(saved.counts(saved.latestFinishedSync()!.syncId).resources).toBe(sampleObjects().resources.length);
  } finally {
    saved.close();
  }
});
