/** WriteBuffer: pages encoded on arrival, written in one group commit, kept when the commit fails. */
import { join } from "node:path";
import { create, equals } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GrantSchema } from "../../src/gen/c1/connector/v2/grant_pb.js";
import { ResourceSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { SyncStore } from "../../src/store/store.ts";
import { sampleObjects, tempDir, user } from "./fixtures.ts";

let dir = "";
let cleanup = () => {};
let store: SyncStore | undefined;
beforeEach(() => ({ dir, cleanup } = tempDir("c1z-buffer-")));
afterEach(() => {
  store?.close();
  cleanup();
});

async function openStore(): Promise<{ store: SyncStore; syncId: string }> {
  store = await SyncStore.openForSync(join(dir, "sync.c1z"));
  const syncId = store.startSync();
  store.putResourceTypes(syncId, sampleObjects().resourceTypes);
  return { store, syncId };
}

describe("WriteBuffer", () => {
  it("holds encoded rows until flush, then stores them as putResources/putEntitlements/putGrants would", async () => {
    const { store, syncId } = await openStore();
    const o = sampleObjects();
    const buffer = store.createWriteBuffer();
    buffer.addResources(o.resources);
    buffer.addEntitlements(o.entitlements);
    buffer.addGrants(o.grants);
    expect(buffer.rows).toBe(o.resources.length + o.entitlements.length + o.grants.length);
    expect(buffer.bytes).toBeGreaterThan(0);
    expect(store.counts(syncId).resources).toBe(0); // nothing written before the flush

    buffer.flush(syncId);
    expect(buffer.rows).toBe(0);
    expect(buffer.bytes).toBe(0);
    const counts = store.counts(syncId);
    expect([counts.resources, counts.entitlements, counts.grants]).toEqual([o.resources.length, o.entitlements.length, o.grants.length]);
    const stored = store.getResource(syncId, "user", "alice");
    expect(stored && equals(ResourceSchema, stored, o.users[0])).toBe(true);
    // The expandable grant's annotation went into the expansion column, as with putGrants.
    const expandable = store.getGrant(syncId, o.grants[3].id);
    expect(expandable?.needsExpansion).toBe(true);
    expect(expandable?.expansion?.entitlementIds).toEqual([o.entitlements[1].id]);
    expect(expandable?.grant.annotations).toEqual([]);
  });

  it("rejects a broken object when its page is added, not at a later flush", async () => {
    const { store, syncId } = await openStore();
    const buffer = store.createWriteBuffer();
    buffer.addResources([user("alice")]);
    expect(() => buffer.addGrants([create(GrantSchema, { id: "" })])).toThrow(/grant without id/);
    buffer.flush(syncId);
    expect(store.counts(syncId).resources).toBe(1);
    expect(store.counts(syncId).grants).toBe(0);
  });

  it("keeps its rows when the commit fails; inside a transaction that fails, nothing is half-written", async () => {
    const file = join(dir, "saved.c1z");
    const writer = await SyncStore.openForSync(file);
    const saved = writer.startSync();
    writer.endSync(saved, {});
    await writer.saveTo(file);
    const readOnly = await SyncStore.openReadOnly(file);
    try {
      const refused = readOnly.createWriteBuffer();
      refused.addResources([user("alice"), user("bob")]);
      expect(() => refused.flush(saved)).toThrow(/readonly|read-only/i);
      expect(refused.rows).toBe(2);
    } finally {
      readOnly.close();
    }

    const { store, syncId } = await openStore();
    const buffer = store.createWriteBuffer();
    buffer.addResources([user("carol")]);
    expect(() =>
      store.transaction(() => {
        buffer.flush(syncId);
        throw new Error("the checkpoint failed");
      }),
    ).toThrow(/checkpoint failed/);
    expect(store.getResource(syncId, "user", "carol")).toBeUndefined();
  });
});
