// Writes of a sync's objects: one transaction per call (joining the caller's when there is one), an upsert on
// (external_id, sync_id), rows encoded by codec.ts. Assets and connector session values too.
import type { Entitlement } from "../gen/c1/connector/v2/entitlement_pb.js";
import type { Grant } from "../gen/c1/connector/v2/grant_pb.js";
import type { Resource, ResourceType } from "../gen/c1/connector/v2/resource_pb.js";
import {
  entitlementRows,
  grantRows,
  resourceRows,
  resourceTypeRow,
  type EntitlementRowValues,
  type GrantRowValues,
  type ResourceRowValues,
} from "./codec.ts";
import type { StoreConnection } from "./connection.ts";
import { formatSqlTime } from "./time.ts";

const UPSERT_RESOURCE_TYPE = `insert into v1_resource_types (external_id, data, sync_id, discovered_at) values (?, ?, ?, ?)
  on conflict (external_id, sync_id) do update set data = excluded.data, discovered_at = excluded.discovered_at`;

const UPSERT_RESOURCE = `insert into v1_resources (resource_type_id, external_id, parent_resource_type_id, parent_resource_id, data, sync_id, discovered_at)
  values (?, ?, ?, ?, ?, ?, ?)
  on conflict (external_id, sync_id) do update set resource_type_id = excluded.resource_type_id,
    parent_resource_type_id = excluded.parent_resource_type_id, parent_resource_id = excluded.parent_resource_id,
    data = excluded.data, discovered_at = excluded.discovered_at`;

const UPSERT_ENTITLEMENT = `insert into v1_entitlements (resource_type_id, resource_id, external_id, data, sync_id, discovered_at) values (?, ?, ?, ?, ?, ?)
  on conflict (external_id, sync_id) do update set resource_type_id = excluded.resource_type_id,
    resource_id = excluded.resource_id, data = excluded.data, discovered_at = excluded.discovered_at`;

const UPSERT_GRANT = `insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id,
    external_id, expansion, needs_expansion, data, sync_id, discovered_at)
  values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  on conflict (external_id, sync_id) do update set resource_type_id = excluded.resource_type_id,
    resource_id = excluded.resource_id, entitlement_id = excluded.entitlement_id,
    principal_resource_type_id = excluded.principal_resource_type_id, principal_resource_id = excluded.principal_resource_id,
    expansion = excluded.expansion, needs_expansion = excluded.needs_expansion, data = excluded.data,
    discovered_at = excluded.discovered_at`;

export class ObjectWriter {
  readonly #conn: StoreConnection;
  #resourceWrites = 0;

  constructor(conn: StoreConnection) {
    this.#conn = conn;
  }

  putResourceTypes(syncId: string, resourceTypes: readonly ResourceType[]): void {
    if (resourceTypes.length === 0) return;
    const rows = resourceTypes.map(resourceTypeRow);
    const now = formatSqlTime();
    const insert = this.#conn.statement(UPSERT_RESOURCE_TYPE);
    this.#conn.transaction(() => {
      for (const r of rows) insert.run(r.externalId, r.data, syncId, now);
    });
  }

  putResources(syncId: string, resources: readonly Resource[]): void {
    if (resources.length > 0) this.writeResourceRows(syncId, resourceRows(resources));
  }

  putEntitlements(syncId: string, entitlements: readonly Entitlement[]): void {
    if (entitlements.length > 0) this.writeEntitlementRows(syncId, entitlementRows(entitlements));
  }

  /** Stores grants; a GrantExpandable annotation is moved into `expansion` (needs_expansion when it names any). */
  putGrants(syncId: string, grants: readonly Grant[]): void {
    if (grants.length > 0) this.writeGrantRows(syncId, grantRows(grants));
  }

  /** Calls that wrote resource rows (or tried to) on this connection: a reader can tell nothing new came. */
  get resourceWrites(): number {
    return this.#resourceWrites;
  }

  /** Rows already encoded (codec.ts), e.g. by a WriteBuffer. */
  writeResourceRows(syncId: string, rows: readonly ResourceRowValues[]): void {
    if (rows.length === 0) return;
    this.#resourceWrites++;
    const now = formatSqlTime();
    const insert = this.#conn.statement(UPSERT_RESOURCE);
    this.#conn.transaction(() => {
      for (const r of rows) insert.run(r.resourceTypeId, r.externalId, r.parentResourceTypeId, r.parentResourceId, r.data, syncId, now);
    });
  }

  writeEntitlementRows(syncId: string, rows: readonly EntitlementRowValues[]): void {
    if (rows.length === 0) return;
    const now = formatSqlTime();
    const insert = this.#conn.statement(UPSERT_ENTITLEMENT);
    this.#conn.transaction(() => {
      for (const r of rows) insert.run(r.resourceTypeId, r.resourceId, r.externalId, r.data, syncId, now);
    });
  }

  writeGrantRows(syncId: string, rows: readonly GrantRowValues[]): void {
    if (rows.length === 0) return;
    const now = formatSqlTime();
    const insert = this.#conn.statement(UPSERT_GRANT);
    this.#conn.transaction(() => {
      for (const r of rows) {
        insert.run(
          r.resourceTypeId,
          r.resourceId,
          r.entitlementId,
          r.principalResourceTypeId,
          r.principalResourceId,
          r.externalId,
          r.expansion,
          r.needsExpansion,
          r.data,
          syncId,
          now,
        );
      }
    });
  }

  /** Marks grants as expanded (needs_expansion = 0); their `expansion` stays for the record. */
  setGrantExpansionDone(syncId: string, grantIds: readonly string[]): void {
    if (grantIds.length === 0) return;
    const update = this.#conn.statement("update v1_grants set needs_expansion = 0 where external_id = ? and sync_id = ?");
    this.#conn.transaction(() => {
      for (const id of grantIds) update.run(id, syncId);
    });
  }

  putAsset(syncId: string, externalId: string, contentType: string, data: Uint8Array): void {
    this.#conn
      .statement(
        `insert into v1_assets (external_id, content_type, data, sync_id, discovered_at) values (?, ?, ?, ?, ?)
         on conflict (external_id, sync_id) do update set content_type = excluded.content_type, data = excluded.data,
           discovered_at = excluded.discovered_at`,
      )
      .run(externalId, contentType, data, syncId, formatSqlTime());
  }

  putSessionValue(syncId: string, key: string, value: Uint8Array): void {
    this.#conn
      .statement(
        `insert into v1_connector_sessions (sync_id, key, value) values (?, ?, ?)
         on conflict (sync_id, key) do update set value = excluded.value`,
      )
      .run(syncId, key, value);
  }

  deleteSessionValue(syncId: string, key: string): void {
    this.#conn.statement("delete from v1_connector_sessions where sync_id = ? and key = ?").run(syncId, key);
  }
}
