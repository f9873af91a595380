// The shapes the store reads and writes: sync runs, stored objects with their row ids, counts and the filters of
// the iterate* reads. Types only (and the list of sync types), so that every store module can share them without
// importing the SyncStore facade.
import type { GrantExpandable } from "../gen/c1/connector/v2/annotation_grant_pb.js";
import type { Entitlement } from "../gen/c1/connector/v2/entitlement_pb.js";
import type { Grant } from "../gen/c1/connector/v2/grant_pb.js";
import type { Resource } from "../gen/c1/connector/v2/resource_pb.js";

export const SYNC_TYPES = ["full", "partial", "resources_only", "partial_upserts", "partial_deletions"] as const;
export type SyncType = (typeof SYNC_TYPES)[number];

export interface SyncRunRow {
  rowId: number;
  syncId: string;
  startedAt: string;
  endedAt: string | null;
  syncToken: string;
  syncType: string;
  parentSyncId: string;
  linkedSyncId: string;
  supportsDiff: boolean;
  /** Parsed `stats` JSON; undefined while the run is unfinished or when stats are absent or not JSON. */
  stats: Record<string, unknown> | undefined;
}

export interface UnfinishedSync {
  syncId: string;
  syncToken: string;
  syncType: string;
}

export interface ResourceRow {
  rowId: number;
  resource: Resource;
}
export interface EntitlementRow {
  rowId: number;
  entitlement: Entitlement;
}
export interface GrantRow {
  rowId: number;
  /** The grant as stored: without its GrantExpandable annotation. */
  grant: Grant;
  /** The GrantExpandable annotation that was split off into the `expansion` column. */
  expansion: GrantExpandable | undefined;
  needsExpansion: boolean;
}

export interface StoreCounts {
  resourceTypes: number;
  resources: number;
  entitlements: number;
  grants: number;
  resourcesByType: Record<string, number>;
  /** Keyed by the resource type of the entitlement's resource. */
  entitlementsByType: Record<string, number>;
  /** Keyed by the resource type of the granted entitlement's resource. */
  grantsByType: Record<string, number>;
}

/** Row-id paging and limits shared by the iterate* reads. */
export interface PageOptions {
  /** Only rows with a row id greater than this (resume a scan). */
  afterRowId?: number;
  limit?: number;
}
export interface ResourceFilter extends PageOptions {
  resourceTypeId?: string;
  /** Only children of this parent (both parts needed). */
  parentResourceTypeId?: string;
  parentResourceId?: string;
  /** Leave out resources of these types (read without decoding them). */
  excludeResourceTypeIds?: readonly string[];
}
export interface EntitlementFilter extends PageOptions {
  resourceTypeId?: string;
  resourceId?: string;
}
export interface GrantFilter extends PageOptions {
  entitlementId?: string;
  principalResourceTypeId?: string;
  principalResourceId?: string;
  resourceTypeId?: string;
  resourceId?: string;
}
