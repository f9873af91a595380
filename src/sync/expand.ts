/**
 * Grant expansion. A grant carrying GrantExpandable{entitlement_ids} says: whoever holds one of those source
 * entitlements also holds this grant's entitlement (e.g. members of group A get role R because A holds R).
 * Each such grant is an edge source → target. Holders propagate along edges until nothing changes, at most
 * `maxDepth` rounds; growing sets make cycles terminate. `shallow` edges pass on only direct holders;
 * `resource_type_ids` limits which principal types pass. New grants carry GrantSources and GrantImmutable.
 */
import { create } from "@bufbuild/protobuf";
import { GrantExpandableSchema } from "../gen/c1/connector/v2/annotation_grant_pb.js";
import type { Logger } from "pino";
import { GrantSchema, GrantSourcesSchema, GrantSources_GrantSourceSchema, type Grant } from "../gen/c1/connector/v2/grant_pb.js";
import type { Entitlement } from "../gen/c1/connector/v2/entitlement_pb.js";
import type { Resource } from "../gen/c1/connector/v2/resource_pb.js";
import { annotate } from "../connector/annotations.ts";
import { grantId } from "../connector/builders.ts";
import type { SyncStore } from "../store/store.ts";
import { packAny } from "../wire/fast-binary.ts";

export const MAX_EXPANSION_DEPTH = 20;

interface Edge {
  source: string;
  target: string;
  shallow: boolean;
  principalTypes: Set<string>;
}

interface Holding {
  principal: Resource;
  direct: boolean;
  /** Source entitlements this holding came through (empty for a purely direct grant). */
  via: Set<string>;
}

/** A grant the connector listed (no sources, or its own entitlement among them as direct), not one expansion made. */
function isDirect(grant: Grant): boolean {
  const sources = grant.sources?.sources ?? {};
  return Object.keys(sources).length === 0 || sources[grant.entitlement?.id ?? ""]?.isDirect === true;
}

const principalKey = (p: Resource) => `${p.id?.resourceType}\u0000${p.id?.resource}`;

export function expandGrants(
  store: SyncStore,
  syncId: string,
  logger: Logger,
  maxDepth = MAX_EXPANSION_DEPTH,
): { expanded: number; edges: number; rounds: number } {
  const edges: Edge[] = [];
  const targets = new Map<string, Entitlement>();
  for (const { grant, expansion } of store.grantsNeedingExpansion(syncId)) {
    const target = grant.entitlement;
    if (!target || !expansion) continue;
    targets.set(target.id, target);
    for (const source of expansion.entitlementIds) {
      if (source === target.id) continue;
      edges.push({ source, target: target.id, shallow: expansion.shallow, principalTypes: new Set(expansion.resourceTypeIds) });
    }
  }
  if (edges.length === 0) return { expanded: 0, edges: 0, rounds: 0 };
  // Holders are read by entitlement: that needs the grant indexes a sync defers while writing objects.
  store.restoreIndexes();

  const holders = new Map<string, Map<string, Holding>>();
  const holdersOf = (entitlementId: string): Map<string, Holding> => {
    let m = holders.get(entitlementId);
    if (!m) {
      m = new Map();
      for (const { grant } of store.iterateGrants(syncId, { entitlementId })) {
        // A resumed expansion finds its own earlier output: grants that exist only through expansion are
        // derived again from scratch, so running expansion twice writes exactly what running it once does.
        if (grant.principal && isDirect(grant)) {
          m.set(principalKey(grant.principal), { principal: grant.principal, direct: true, via: new Set() });
        }
      }
      holders.set(entitlementId, m);
    }
    return m;
  };

  let rounds = 0;
  for (let changed = true; changed && rounds < maxDepth; rounds++) {
    changed = false;
    for (const edge of edges) {
      const from = holdersOf(edge.source);
      const to = holdersOf(edge.target);
      const targetOwner = targets.get(edge.target)?.resource?.id;
      for (const [key, holding] of from) {
        if (edge.shallow && !holding.direct) continue;
        const type = holding.principal.id?.resourceType ?? "";
        if (edge.principalTypes.size > 0 && !edge.principalTypes.has(type)) continue;
        if (targetOwner && targetOwner.resourceType === type && targetOwner.resource === holding.principal.id?.resource) continue;
        const existing = to.get(key);
        if (!existing) {
          to.set(key, { principal: holding.principal, direct: false, via: new Set([edge.source]) });
          changed = true;
        } else if (!existing.via.has(edge.source)) {
          existing.via.add(edge.source);
        }
      }
    }
  }
  if (rounds >= maxDepth) logger.warn({ maxDepth }, "grant expansion stopped at the depth limit");

  let expanded = 0;
  const batch: Grant[] = [];
  const flush = () => {
    if (batch.length) store.putGrants(syncId, batch.splice(0));
  };
  for (const [targetId, entitlement] of targets) {
    for (const holding of holdersOf(targetId).values()) {
      if (holding.via.size === 0 || !holding.principal.id) continue;
      const id = grantId(targetId, holding.principal.id);
      const sources: Record<string, ReturnType<typeof sourceEntry>> = {};
      for (const s of [...holding.via].sort()) sources[s] = sourceEntry(false);
      if (holding.direct) {
        const existing = store.getGrant(syncId, id);
        if (!existing) continue;
        sources[targetId] = sourceEntry(true);
        // The store split the GrantExpandable annotation off; put it back so re-storing keeps the expansion column.
        const annotations = existing.expansion
          ? [...existing.grant.annotations, packAny(GrantExpandableSchema, existing.expansion)]
          : existing.grant.annotations;
        batch.push(create(GrantSchema, { ...existing.grant, annotations, sources: create(GrantSourcesSchema, { sources }) }));
      } else {
        batch.push(
          create(GrantSchema, {
            id,
            entitlement,
            principal: holding.principal,
            sources: create(GrantSourcesSchema, { sources }),
            annotations: [annotate.grantImmutable([...holding.via].sort()[0])],
          }),
        );
        expanded++;
      }
      if (batch.length >= 1000) flush();
    }
  }
  flush();
  return { expanded, edges: edges.length, rounds };
}

function sourceEntry(isDirect: boolean) {
  return create(GrantSources_GrantSourceSchema, { isDirect });
}
