/** Reads every object of the newest finished sync in a c1z as sorted comparable lines (kind, id, data hex). */
import { toBinary } from "@bufbuild/protobuf";
import { ResourceSchema, ResourceTypeSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { EntitlementSchema } from "../../src/gen/c1/connector/v2/entitlement_pb.js";
import { GrantSchema } from "../../src/gen/c1/connector/v2/grant_pb.js";
import { SyncStore } from "../../src/store/store.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

export async function c1zRows(file: string): Promise<{ syncId: string; rows: string[] }> {
  const store = await SyncStore.openReadOnly(file);
  try {
    const run = store.latestFinishedSync();
    if (!run) throw new Error(`${file}: no finished sync`);
    const s = run.syncId;
    const rows: string[] = [];
    for (const rt of store.resourceTypes(s)) rows.push(`rt|${rt.id}|${hex(toBinary(ResourceTypeSchema, rt))}`);
    for (const { resource: r } of store.iterateResources(s)) {
      rows.push(`r|${r.id?.resourceType}:${r.id?.resource}|${hex(toBinary(ResourceSchema, r))}`);
    }
    for (const { entitlement: e } of store.iterateEntitlements(s)) rows.push(`e|${e.id}|${hex(toBinary(EntitlementSchema, e))}`);
    for (const { grant: g, expansion } of store.iterateGrants(s)) {
      rows.push(`g|${g.id}|${hex(toBinary(GrantSchema, g))}|${expansion ? expansion.entitlementIds.join(",") : ""}`);
    }
    return { syncId: s, rows: rows.sort() };
  } finally {
    store.close();
  }
}
