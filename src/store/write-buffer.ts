// Objects a sync writes in group commits. Each page is encoded the moment it arrives and only its rows (ids and
// protobuf bytes, one buffer per page) wait for the commit: message graphs held until a commit outlive several
// young-generation collections, are promoted to the old generation as garbage, and make V8 grow the heap.
import type { Entitlement } from "../gen/c1/connector/v2/entitlement_pb.js";
import type { Grant } from "../gen/c1/connector/v2/grant_pb.js";
import type { Resource } from "../gen/c1/connector/v2/resource_pb.js";
import { entitlementRows, grantRows, resourceRows, type EntitlementRowValues, type GrantRowValues, type ResourceRowValues } from "./codec.ts";
import type { StoreConnection } from "./connection.ts";
import type { ObjectWriter } from "./object-writes.ts";

export class WriteBuffer {
  readonly #conn: StoreConnection;
  readonly #writer: ObjectWriter;
  #resources: ResourceRowValues[] = [];
  #entitlements: EntitlementRowValues[] = [];
  #grants: GrantRowValues[] = [];
  #bytes = 0;

  constructor(conn: StoreConnection, writer: ObjectWriter) {
    this.#conn = conn;
    this.#writer = writer;
  }

  /** Rows waiting for the next flush. */
  get rows(): number {
    return this.#resources.length + this.#entitlements.length + this.#grants.length;
  }

  /** Encoded bytes waiting for the next flush. */
  get bytes(): number {
    return this.#bytes;
  }

  addResources(resources: readonly Resource[]): void {
    if (resources.length > 0) this.#add(this.#resources, resourceRows(resources));
  }

  addEntitlements(entitlements: readonly Entitlement[]): void {
    if (entitlements.length > 0) this.#add(this.#entitlements, entitlementRows(entitlements));
  }

  /** As SyncStore.putGrants: a GrantExpandable annotation goes into the `expansion` column. */
  addGrants(grants: readonly Grant[]): void {
    if (grants.length > 0) this.#add(this.#grants, grantRows(grants));
  }

  /** Writes every waiting row of run `syncId` in one transaction (joining the caller's when there is one). */
  flush(syncId: string): void {
    if (this.rows === 0) return;
    const resources = this.#resources;
    const entitlements = this.#entitlements;
    const grants = this.#grants;
    this.#conn.transaction(() => {
      this.#writer.writeResourceRows(syncId, resources);
      this.#writer.writeEntitlementRows(syncId, entitlements);
      this.#writer.writeGrantRows(syncId, grants);
    });
    // Only once written: a failed commit keeps the rows for the next flush (or the error).
    this.#resources = [];
    this.#entitlements = [];
    this.#grants = [];
    this.#bytes = 0;
  }

  #add<T extends { data: Uint8Array; expansion?: Uint8Array | null }>(into: T[], rows: T[]): void {
    for (const row of rows) {
      into.push(row);
      this.#bytes += row.data.byteLength + (row.expansion?.byteLength ?? 0);
    }
  }
}
