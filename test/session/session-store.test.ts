/**
 * ctx.session: Baton's key and value limits with errors that say what is wrong, the bounded memory backend,
 * the per-call store a call without a sync gets, the c1z backend on a real SQLite store, and the wiring
 * through createConnectorService (a syncer sees values by sync id; a call that names no sync keeps nothing).
 */
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import {
  Code,
  ConnectorError,
  createConnectorService,
  memorySessionBackend,
  MAX_SESSION_KEY_CHARS,
  MAX_SESSION_VALUE_BYTES,
  resourceType,
  sessionStoreFor,
  storeSessionBackend,
  SyncStore,
  userResource,
  withSessionBackend,
  type Connector,
  type SessionBackend,
} from "../../src/index.ts";
import { ResourceType_Trait, ResourceSchema } from "../../src/messages.ts";
import { rejection } from "../helpers/rejection.ts";
import { silentLogger } from "../helpers/logger.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

describe("ctx.session limits (Baton's: keys of 1–512 characters, values up to 4,132,864 bytes)", () => {
  const session = sessionStoreFor(memorySessionBackend(), "sync-1");

  it("refuses an empty key and a key over 512 characters, naming the limit", async () => {
    const empty = await rejection(session.set("", bytes("x")), ConnectorError);
    expect(empty.code).toBe(Code.INVALID_ARGUMENT);
    expect(empty.message).toMatch(/key is empty; keys are 1–512 characters/);
    const long = await rejection(session.get("k".repeat(MAX_SESSION_KEY_CHARS + 1)), ConnectorError);
    expect(long.code).toBe(Code.INVALID_ARGUMENT);
    expect(long.message).toMatch(/is 513 characters; keys are 1–512 characters/);
    // Characters, not UTF-16 units: 512 emoji are a valid key.
    await session.set("😀".repeat(MAX_SESSION_KEY_CHARS), bytes("ok"));
    expect(text(await session.get("😀".repeat(MAX_SESSION_KEY_CHARS)))).toBe("ok");
  });

  it("keeps a value of exactly the limit and refuses one byte more, saying how to fix it", async () => {
    await session.set("max", new Uint8Array(MAX_SESSION_VALUE_BYTES));
    expect((await session.get("max"))?.byteLength).toBe(MAX_SESSION_VALUE_BYTES);
    const err = await rejection(session.set("big", new Uint8Array(MAX_SESSION_VALUE_BYTES + 1)), ConnectorError);
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    expect(err.message).toContain(`"big" is ${MAX_SESSION_VALUE_BYTES + 1} bytes; the limit is ${MAX_SESSION_VALUE_BYTES}`);
    expect(await session.get("big")).toBeUndefined();
  });

  it("JSON values round-trip; a value that is not JSON or fails the parser reads as absent", async () => {
    await session.setJson("names", [["p1", "read"]]);
    expect(await session.getJson("names", (raw) => raw as string[][])).toEqual([["p1", "read"]]);
    await session.set("garbage", bytes("{not json"));
    expect(await session.getJson("garbage", (raw) => raw)).toBeUndefined();
    const strict = (raw: unknown) => {
      if (!Array.isArray(raw)) throw new Error("not a list");
      return raw;
    };
    await session.setJson("shape", { old: "format" });
    expect(await session.getJson("shape", strict)).toBeUndefined();
    await expect(session.setJson("nothing", undefined)).rejects.toThrow(/has no JSON form/);
  });
});

describe("memorySessionBackend", () => {
  it("keeps values per sync; delete and clear remove them; reads are copies", async () => {
    const backend = memorySessionBackend();
    await backend.set("a", "k", bytes("one"));
    await backend.set("b", "k", bytes("two"));
    expect(text(await backend.get("a", "k"))).toBe("one");
    expect(text(await backend.get("b", "k"))).toBe("two");
    const read = (await backend.get("a", "k"))!;
    read[0] = 0;
    expect(text(await backend.get("a", "k"))).toBe("one");
    await backend.delete("a", "k");
    expect(await backend.get("a", "k")).toBeUndefined();
    await backend.set("b", "k2", bytes("three"));
    await backend.clear("b");
    expect(await backend.get("b", "k")).toBeUndefined();
    expect(await backend.get("b", "k2")).toBeUndefined();
  });

  it("is bounded: the oldest values go first, and one value over the bound is refused", async () => {
    const backend = memorySessionBackend({ maxBytes: 1000 });
    for (let i = 0; i < 10; i++) await backend.set("s", `k${i}`, new Uint8Array(150));
    // 10 × (150 bytes + key) does not fit in 1000: the first ones were dropped, the last ones kept.
    expect(await backend.get("s", "k0")).toBeUndefined();
    expect(await backend.get("s", "k9")).toBeDefined();
    const err = await rejection(backend.set("s", "huge", new Uint8Array(2000)), ConnectorError);
    expect(err.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(err.message).toContain("holds at most 1000 bytes");
    expect(() => memorySessionBackend({ maxBytes: 0 })).toThrow(RangeError);
  });
});

describe("sessionStoreFor without a sync or a backend", () => {
  it("works for the call and keeps nothing after it", async () => {
    const backend = memorySessionBackend();
    for (const store of [sessionStoreFor(undefined, "sync-1"), sessionStoreFor(backend, undefined)]) {
      await store.set("k", bytes("v"));
      expect(text(await store.get("k"))).toBe("v");
    }
    expect(await sessionStoreFor(undefined, "sync-1").get("k")).toBeUndefined();
    expect(await sessionStoreFor(backend, undefined).get("k")).toBeUndefined();
  });
});

describe("storeSessionBackend (v1_connector_sessions of a real SQLite store)", () => {
  it("writes rows a reader of the store sees, by sync id", async () => {
    const store = await SyncStore.createScratch();
    try {
      const backend = storeSessionBackend(store);
      await backend.set("sync-a", "roles", bytes("cached"));
      expect(text(store.getSessionValue("sync-a", "roles"))).toBe("cached");
      expect(store.getSessionValue("sync-b", "roles")).toBeUndefined();
      await backend.set("sync-a", "roles", bytes("replaced"));
      expect(text(await backend.get("sync-a", "roles"))).toBe("replaced");
      await backend.clear("sync-a");
      expect(store.getSessionValue("sync-a", "roles")).toBeUndefined();
    } finally {
      store.close();
    }
  });
});

/** A connector whose user listing counts in ctx.session how often each sync listed. */
function countingConnector(): Connector {
  const type = resourceType({ id: "user", displayName: "User", traits: [ResourceType_Trait.USER] });
  return {
    info: { displayName: "counting" },
    async validate() {},
    syncers: [
      {
        resourceType: type,
        async list(ctx) {
          const seen = Number(text(await ctx.session.get("pages")) ?? "0") + 1;
          await ctx.session.set("pages", bytes(String(seen)));
          return { items: [userResource({ type: "user", id: `u${seen}`, displayName: `seen ${seen}`, user: {} })] };
        },
      },
    ],
  };
}

describe("createConnectorService passes ctx.session into every call", () => {
  const listed = async (rpc: ReturnType<typeof createConnectorService>, activeSyncId?: string) =>
    (await rpc.listResources({ resourceTypeId: "user", activeSyncId })).list[0]!.id!.resource;

  it("with a backend: values by sync id; a call naming no sync keeps nothing", async () => {
    const rpc = createConnectorService(countingConnector(), { logger: silentLogger(), provisioning: false, sessions: memorySessionBackend() });
    expect(await listed(rpc, "s1")).toBe("u1");
    expect(await listed(rpc, "s1")).toBe("u2");
    expect(await listed(rpc, "s2")).toBe("u1");
    expect(await listed(rpc)).toBe("u1");
    expect(await listed(rpc)).toBe("u1");
  });

  it("without one: per call only; withSessionBackend gives every call of an rpc one (as the engine and serve do)", async () => {
    const bare = createConnectorService(countingConnector(), { logger: silentLogger(), provisioning: false });
    expect(await listed(bare, "s1")).toBe("u1");
    expect(await listed(bare, "s1")).toBe("u1");
    const backend: SessionBackend = memorySessionBackend();
    const wrapped = withSessionBackend(bare, backend);
    expect(await listed(wrapped, "s1")).toBe("u1");
    expect(await listed(wrapped, "s1")).toBe("u2");
    expect(text(await backend.get("s1", "pages"))).toBe("2");
  });

  it("a type without entitlements or grants answers empty pages", async () => {
    const rpc = createConnectorService(countingConnector(), { logger: silentLogger(), provisioning: false });
    const resource = create(ResourceSchema, { id: { resourceType: "user", resource: "u1" } });
    const ents = await rpc.listEntitlements({ resource });
    const grants = await rpc.listGrants({ resource });
    expect([ents.list, ents.nextPageToken, grants.list, grants.nextPageToken]).toEqual([[], "", [], ""]);
  });
});
