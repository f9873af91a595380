// Reads of stored objects: look-ups by id, row-ordered scans (resumable by row id), counts, assets and connector
// session values. Rows are decoded by codec.ts; the scans' SQL comes from sql.ts.
import type { SQLOutputValue } from "node:sqlite";
import type { Entitlement } from "../gen/c1/connector/v2/entitlement_pb.js";
import type { Resource, ResourceType } from "../gen/c1/connector/v2/resource_pb.js";
import { decodeEntitlement, decodeExpansion, decodeGrant, decodeResource, decodeResourceType, resourceExternalId } from "./codec.ts";
import type { StoreConnection } from "./connection.ts";
import type { EntitlementFilter, EntitlementRow, GrantFilter, GrantRow, PageOptions, ResourceFilter, ResourceRow, StoreCounts } from "./rows.ts";
import { bytes, Conditions, num, scanQuery, str } from "./sql.ts";

const GRANT_COLUMNS = "id, data, expansion, needs_expansion";

export class ObjectReader {
  readonly #conn: StoreConnection;

  constructor(conn: StoreConnection) {
    this.#conn = conn;
  }

  resourceTypes(syncId: string): ResourceType[] {
    return this.#conn
      .statement("select data from v1_resource_types where sync_id = ? order by id")
      .all(syncId)
      .map((r) => decodeResourceType(bytes(r.data)));
  }

  getResourceType(syncId: string, resourceTypeId: string): ResourceType | undefined {
    const row = this.#conn.statement("select data from v1_resource_types where external_id = ? and sync_id = ?").get(resourceTypeId, syncId);
    return row ? decodeResourceType(bytes(row.data)) : undefined;
  }

  *iterateResources(syncId: string, filter: ResourceFilter = {}): Generator<ResourceRow> {
    const where = new Conditions(syncId, filter.afterRowId);
    where.add("resource_type_id", filter.resourceTypeId);
    where.add("parent_resource_type_id", filter.parentResourceTypeId);
    where.add("parent_resource_id", filter.parentResourceId);
    where.notIn("resource_type_id", filter.excludeResourceTypeIds);
    for (const row of this.#scan("v1_resources", "id, data", where, filter.limit)) {
      yield { rowId: num(row.id), resource: decodeResource(bytes(row.data)) };
    }
  }

  /** The highest resource row id written so far (0 when none): rows appear in ascending id order. */
  lastResourceRowId(): number {
    return num(this.#conn.statement("select max(id) as m from v1_resources").get()?.m);
  }

  getResource(syncId: string, resourceTypeId: string, resourceId: string): Resource | undefined {
    const row = this.#conn
      .statement("select data from v1_resources where external_id = ? and sync_id = ?")
      .get(resourceExternalId(resourceTypeId, resourceId), syncId);
    return row ? decodeResource(bytes(row.data)) : undefined;
  }

  *iterateEntitlements(syncId: string, filter: EntitlementFilter = {}): Generator<EntitlementRow> {
    const where = new Conditions(syncId, filter.afterRowId);
    where.add("resource_type_id", filter.resourceTypeId);
    where.add("resource_id", filter.resourceId);
    for (const row of this.#scan("v1_entitlements", "id, data", where, filter.limit)) {
      yield { rowId: num(row.id), entitlement: decodeEntitlement(bytes(row.data)) };
    }
  }

  getEntitlement(syncId: string, entitlementId: string): Entitlement | undefined {
    const row = this.#conn.statement("select data from v1_entitlements where external_id = ? and sync_id = ?").get(entitlementId, syncId);
    return row ? decodeEntitlement(bytes(row.data)) : undefined;
  }

  *iterateGrants(syncId: string, filter: GrantFilter = {}): Generator<GrantRow> {
    const where = new Conditions(syncId, filter.afterRowId);
    where.add("entitlement_id", filter.entitlementId);
    where.add("principal_resource_type_id", filter.principalResourceTypeId);
    where.add("principal_resource_id", filter.principalResourceId);
    where.add("resource_type_id", filter.resourceTypeId);
    where.add("resource_id", filter.resourceId);
    for (const row of this.#scan("v1_grants", GRANT_COLUMNS, where, filter.limit)) yield toGrantRow(row);
  }

  getGrant(syncId: string, grantId: string): GrantRow | undefined {
    const row = this.#conn.statement(`select ${GRANT_COLUMNS} from v1_grants where external_id = ? and sync_id = ?`).get(grantId, syncId);
    return row ? toGrantRow(row) : undefined;
  }

  /** Grants whose expansion is still to do (needs_expansion = 1), in row order. */
  *grantsNeedingExpansion(syncId: string, page: PageOptions = {}): Generator<GrantRow> {
    const where = new Conditions(syncId, page.afterRowId);
    where.raw("needs_expansion = 1");
    for (const row of this.#scan("v1_grants", GRANT_COLUMNS, where, page.limit)) yield toGrantRow(row);
  }

  counts(syncId: string): StoreCounts {
    const byType = (table: string): Record<string, number> => {
      const out: Record<string, number> = {};
      const rows = this.#conn
        .statement(`select resource_type_id as t, count(*) as n from ${table} where sync_id = ? group by resource_type_id order by t`)
        .all(syncId);
      for (const r of rows) out[str(r.t)] = num(r.n);
      return out;
    };
    const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);
    const resourcesByType = byType("v1_resources");
    const entitlementsByType = byType("v1_entitlements");
    const grantsByType = byType("v1_grants");
    return {
      resourceTypes: num(this.#conn.statement("select count(*) as n from v1_resource_types where sync_id = ?").get(syncId)?.n),
      resources: total(resourcesByType),
      entitlements: total(entitlementsByType),
      grants: total(grantsByType),
      resourcesByType,
      entitlementsByType,
      grantsByType,
    };
  }

  getAsset(syncId: string, externalId: string): { contentType: string; data: Uint8Array } | undefined {
    const row = this.#conn.statement("select content_type, data from v1_assets where external_id = ? and sync_id = ?").get(externalId, syncId);
    return row ? { contentType: str(row.content_type), data: bytes(row.data) } : undefined;
  }

  getSessionValue(syncId: string, key: string): Uint8Array | undefined {
    const row = this.#conn.statement("select value from v1_connector_sessions where sync_id = ? and key = ?").get(syncId, key);
    return row ? bytes(row.value) : undefined;
  }

  #scan(table: string, columns: string, where: Conditions, limit: number | undefined): Generator<Record<string, SQLOutputValue>> {
    const { sql, params } = scanQuery(table, columns, where, limit);
    return this.#conn.scan(sql, params);
  }
}

function toGrantRow(row: Record<string, SQLOutputValue>): GrantRow {
  return {
    rowId: num(row.id),
    grant: decodeGrant(bytes(row.data)),
    expansion: decodeExpansion(row.expansion instanceof Uint8Array ? row.expansion : null),
    needsExpansion: num(row.needs_expansion) === 1,
  };
}
