/**
 * The objects step of a targeted sync (PROTOCOL-2 §1.4): GetResource for each target, then per fetched
 * resource its child listings (with their descendants), its entitlements and its grants, every page; and, for a
 * grant whose entitlement belongs to a resource not stored yet, GetResource for that resource (principals are
 * not fetched). A target the connector cannot find (NOT_FOUND) or cannot fetch (UNIMPLEMENTED) is a warning
 * and the sync goes on. No type-wide listing, no static entitlements and no expansion happen here.
 *
 * Everything one resource needs runs side by side: after GetResource, its entitlements, grants and children
 * are fetched at once, so a target costs two round trips however its follow-ups are split.
 */
import { create } from "@bufbuild/protobuf";
import { anyIs, anyUnpack, type Any } from "@bufbuild/protobuf/wkt";
import { ChildResourceTypeSchema } from "../gen/c1/connector/v2/annotation_resource_tree_pb.js";
import { EnqueuePageTokensSchema, TypeScopedGrantsSchema } from "../gen/c1/connector/v2/annotation_type_scoped_grants_pb.js";
import { TypeScopedEntitlementsSchema } from "../gen/c1/connector/v2/annotation_type_scoped_entitlements_pb.js";
import type { Entitlement } from "../gen/c1/connector/v2/entitlement_pb.js";
import type { Grant } from "../gen/c1/connector/v2/grant_pb.js";
import { ResourceIdSchema, type Resource, type ResourceType } from "../gen/c1/connector/v2/resource_pb.js";
import { findAnnotation, hasAnnotation } from "../connector/annotations.ts";
import { Code, ConnectorError } from "../connector/errors.ts";
import type { ConnectorRpc } from "../connector/rpc.ts";
import type { SyncStore } from "../store/store.ts";
import { ListingQueue } from "./listing-queue.ts";
import { drain } from "./pool.ts";
import type { ListAction } from "./state.ts";
import { formatResourceBid, type TargetedResource } from "./targets.ts";

export interface TargetedContext {
  connector: ConnectorRpc;
  store: SyncStore;
  syncId: string;
  signal?: AbortSignal;
  concurrency: number;
  resourceTypes: ReadonlyMap<string, ResourceType>;
  skipEntitlementsAndGrants: boolean;
  skipGrants: boolean;
  /** Whether a resource (or its type) skips `kind` by annotation. */
  skips(resource: Resource, kind: "entitlements" | "grants"): boolean;
  /** A connector call with the engine's retries, counting and cancellation. */
  call<T>(fn: () => Promise<T>): Promise<T>;
  warn(message: string): void;
  /** The engine's resource listing (stores the page, queues children and extra page tokens). */
  listResources(action: ListAction, queue: ListingQueue): Promise<void>;
  /** The repeated-token guard. */
  nextToken(current: string, next: string, what: string): string;
  counts: { resources: number; entitlements: number; grants: number };
  afterPage(): Promise<void>;
}

type Work =
  | { kind: "get"; target: TargetedResource; why: "target" | "entitlement resource" }
  | { kind: "list"; action: ListAction }
  | { kind: "entitlements" | "grants"; resource: Resource; pageToken: string };

const isSkippable = (err: unknown) => err instanceof ConnectorError && (err.code === Code.NOT_FOUND || err.code === Code.UNIMPLEMENTED);
const label = (r: Resource) => `${r.id?.resourceType}:${r.id?.resource}`;
const keyOf = (type: string, id: string) => `${type}\u0000${id}`;

function childTypes(r: Resource): string[] {
  return r.annotations.filter((a) => anyIs(a, ChildResourceTypeSchema)).map((a) => anyUnpack(a, ChildResourceTypeSchema)!.resourceTypeId);
}

export async function syncTargetedResources(ctx: TargetedContext, targets: readonly TargetedResource[]): Promise<void> {
  const work: Work[] = targets.map((target) => ({ kind: "get", target, why: "target" }));
  const listings = new ListingQueue();
  /** Resources stored by this run or asked for already: an entitlement's resource is fetched once. */
  const known = new Set<string>();
  for (const t of targets) known.add(keyOf(t.resourceType, t.resource));

  const next = (): Work | undefined => {
    const w = work.shift();
    if (w) return w;
    const action = listings.shift();
    return action ? { kind: "list", action } : undefined;
  };

  const getResource = async (target: TargetedResource, why: "target" | "entitlement resource"): Promise<void> => {
    const bid = formatResourceBid(target);
    let resource: Resource | undefined;
    try {
      const res = await ctx.call(() =>
        ctx.connector.getResource(
          {
            resourceId: create(ResourceIdSchema, { resourceType: target.resourceType, resource: target.resource }),
            parentResourceId: target.parent ? create(ResourceIdSchema, target.parent) : undefined,
            activeSyncId: ctx.syncId,
          },
          { signal: ctx.signal },
        ),
      );
      resource = res.resource;
    } catch (err) {
      if (!isSkippable(err)) throw err;
      const what = (err as ConnectorError).code === Code.NOT_FOUND ? "not found" : "the connector cannot fetch it";
      ctx.warn(`targeted sync: ${why} ${bid}: ${what} (${(err as Error).message}); skipped`);
      return;
    }
    if (!resource?.id?.resource) {
      ctx.warn(`targeted sync: GetResource(${bid}) returned no resource; skipped`);
      return;
    }
    if (resource.id.resourceType !== target.resourceType) {
      throw new ConnectorError(Code.INTERNAL, `GetResource(${bid}) returned a resource of type "${resource.id.resourceType}"`);
    }
    ctx.store.putResources(ctx.syncId, [resource]);
    ctx.counts.resources++;
    known.add(keyOf(resource.id.resourceType, resource.id.resource));
    if (why !== "target") return;
    // Children get listed (with their descendants) but, as in Baton, no entitlements or grants of their own.
    for (const child of childTypes(resource)) {
      if (ctx.resourceTypes.has(child)) {
        listings.push({ resourceTypeId: child, parent: { resourceType: resource.id.resourceType, resource: resource.id.resource }, pageToken: "" });
      }
    }
    if (ctx.skipEntitlementsAndGrants) return;
    // A type whose entitlements or grants are listed type-wide gets no per-resource call (and, targeted, no
    // type-wide one either), as in Baton.
    const typeAnnotations = ctx.resourceTypes.get(resource.id.resourceType)?.annotations ?? [];
    if (!ctx.skips(resource, "entitlements") && !hasAnnotation(typeAnnotations, TypeScopedEntitlementsSchema)) {
      work.push({ kind: "entitlements", resource, pageToken: "" });
    }
    if (!ctx.skipGrants && !ctx.skips(resource, "grants") && !hasAnnotation(typeAnnotations, TypeScopedGrantsSchema)) {
      work.push({ kind: "grants", resource, pageToken: "" });
    }
  };

  const listPage = async (item: Extract<Work, { kind: "entitlements" | "grants" }>): Promise<void> => {
    const { resource, kind, pageToken } = item;
    const request = { resource, pageToken, activeSyncId: ctx.syncId };
    let page: { list: Array<Entitlement | Grant>; nextPageToken: string; annotations: Any[] };
    try {
      page = await ctx.call<typeof page>(() =>
        kind === "entitlements"
          ? ctx.connector.listEntitlements(request, { signal: ctx.signal })
          : ctx.connector.listGrants(request, { signal: ctx.signal }),
      );
    } catch (err) {
      if (!(err instanceof ConnectorError && err.code === Code.NOT_FOUND)) throw err;
      ctx.warn(`${kind} of ${label(resource)}: not found (${err.message})`);
      return;
    }
    if (kind === "entitlements") {
      ctx.store.putEntitlements(ctx.syncId, page.list as Entitlement[]);
      ctx.counts.entitlements += page.list.length;
    } else {
      const grants = page.list as Grant[];
      ctx.store.putGrants(ctx.syncId, grants);
      ctx.counts.grants += grants.length;
      for (const g of grants) {
        const id = g.entitlement?.resource?.id;
        // Types this sync does not store (outside the type filter) are not fetched either.
        if (!id?.resource || known.has(keyOf(id.resourceType, id.resource)) || !ctx.resourceTypes.has(id.resourceType)) continue;
        known.add(keyOf(id.resourceType, id.resource));
        const parent = g.entitlement?.resource?.parentResourceId;
        work.push({
          kind: "get",
          why: "entitlement resource",
          target: { resourceType: id.resourceType, resource: id.resource, ...(parent?.resourceType && parent.resource ? { parent: { resourceType: parent.resourceType, resource: parent.resource } } : {}) },
        });
      }
    }
    const what = `List${kind === "entitlements" ? "Entitlements" : "Grants"}(${label(resource)})`;
    const token = ctx.nextToken(pageToken, page.nextPageToken, what);
    if (token) work.push({ kind, resource, pageToken: token });
    for (const more of findAnnotation(page.annotations, EnqueuePageTokensSchema)?.pageTokens ?? []) {
      if (more) work.push({ kind, resource, pageToken: more });
    }
    await ctx.afterPage();
  };

  await drain(
    next,
    ctx.concurrency,
    async (item) => {
      if (item.kind === "get") await getResource(item.target, item.why);
      else if (item.kind === "list") await ctx.listResources(item.action, listings);
      else await listPage(item);
    },
    ctx.signal,
  );
}
