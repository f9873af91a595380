/**
 * The sync engine: resource types → resources (following ChildResourceType) → entitlements (with static ones
 * copied onto each resource) → grants → grant expansion, written into a c1z. Independent listings run with
 * bounded concurrency; progress is checkpointed into the sync run at most every few seconds and at every step
 * boundary, so a killed sync resumes its unfinished run instead of starting over.
 */
import { create } from "@bufbuild/protobuf";
import { anyIs, anyUnpack, type Any } from "@bufbuild/protobuf/wkt";
import type { Logger } from "pino";
import { EntitlementSchema, type Entitlement } from "../gen/c1/connector/v2/entitlement_pb.js";
import { ResourceIdSchema, type Resource, type ResourceType } from "../gen/c1/connector/v2/resource_pb.js";
import type { Grant } from "../gen/c1/connector/v2/grant_pb.js";
import { ChildResourceTypeSchema, SkipEntitlementsAndGrantsSchema, SkipEntitlementsSchema, SkipGrantsSchema } from "../gen/c1/connector/v2/annotation_resource_tree_pb.js";
import { findAnnotation, hasAnnotation } from "../connector/annotations.ts";
import {
  ExternalResourceMatchAllSchema,
  ExternalResourceMatchIDSchema,
  ExternalResourceMatchSchema,
} from "../gen/c1/connector/v2/annotation_baton_id_pb.js";
import { EnqueuePageTokensSchema } from "../gen/c1/connector/v2/annotation_type_scoped_grants_pb.js";
import { entitlementId } from "../connector/builders.ts";
import { Code, ConnectorError } from "../connector/errors.ts";
import type { ConnectorRpc } from "../connector/rpc.ts";
import { storeSessionBackend, withSessionBackend } from "../connector/session.ts";
import { findTenantIdentity, type TenantIdentity } from "../connector/tenant.ts";
import { SyncStore, type WriteBuffer } from "../store/store.ts";
import { drain } from "./pool.ts";
import { RowLane, type RowWork } from "./row-lane.ts";
import { ListingQueue } from "./listing-queue.ts";
import { asClasses, chooserFor, LimitAwareOrder } from "./limit-aware.ts";
import { withRetry, type RetryPolicy } from "./retry.ts";
import { expandGrants } from "./expand.ts";
import { applyHeapGrowth } from "./heap-growth.ts";
import { initialState, parseState, serializeState, type ListAction, type Step, type SyncState } from "./state.ts";
import { abandonedPartialRuns, partialParentId, resumableRun, syncTypeFor } from "./runs.ts";
import { syncTargetedResources } from "./targeted.ts";
import { dedupeTargets, type TargetedResource } from "./targets.ts";
import type { SyncType } from "../store/store.ts";
import { markSupportsDiff } from "../store/sync-flags.ts";

export interface SyncOptions {
  connector: ConnectorRpc;
  /** The c1z to write; an unfinished sync in it (or in its working database) is resumed. */
  file: string;
  workDir?: string;
  logger: Logger;
  signal?: AbortSignal;
  /** Listings in flight at once (default 8). */
  concurrency?: number;
  /** Checkpoints happen at most this often, plus at every step boundary (default 5 s). */
  checkpointIntervalMs?: number;
  retry?: RetryPolicy;
  onProgress?: (progress: SyncProgress) => void;
  /** Sync only these resource types (default: all); a listed type the connector does not have fails the sync. */
  resourceTypeIds?: string[];
  /**
   * A targeted sync: only these resources (GetResource), their children, entitlements and grants, into a new
   * `partial` run whose parent is the file's newest finished full run. Never resumed.
   */
  targetedResources?: readonly TargetedResource[];
  /** Resources only, no entitlements or grants (a `resources_only` run unless targeted). */
  skipEntitlementsAndGrants?: boolean;
  /** Entitlements but no grants (the run type does not change). */
  skipGrants?: boolean;
  skipExpandGrants?: boolean;
  /**
   * Serve first the type whose waiting work needs the longest at the rate limit the connector reports
   * (limit-aware.ts); false keeps equal turns per type. Default true.
   */
  limitAware?: boolean;
  /**
   * Baton's --skip-full-sync: Validate, then start and end an empty `full` run (retention runs as at any
   * run's end); nothing else is asked of the connector.
   */
  skipSync?: boolean;
  /** Refuse to decompress a previous c1z at `file` into more bytes than this (default 10 GiB; --max-c1z-decoded-size). */
  maxDecodedBytes?: number;
  /** Called after each page is stored; tests use it to kill a sync at a known point. */
  afterPage?: () => void | Promise<void>;
}

export interface SyncCounts {
  resourceTypes: number;
  resources: number;
  entitlements: number;
  grants: number;
  expandedGrants: number;
}

export interface SyncProgress extends SyncCounts {
  step: Step;
  calls: number;
  retries: number;
  warnings: number;
  elapsedMs: number;
}

export interface SyncResult {
  syncId: string;
  /** The run's `sync_type`: full, partial (targeted) or resources_only. */
  syncType: SyncType;
  /** A partial run's parent: the newest finished full run of the file when it started ("" if none). */
  parentSyncId: string;
  resumed: boolean;
  /** Final counts as stored (deduplicated). */
  stats: ReturnType<SyncStore["counts"]>;
  warnings: string[];
  calls: number;
  retries: number;
  durationMs: number;
}

function recordedTenant(text: string | undefined): TenantIdentity | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<TenantIdentity>;
    if (typeof parsed.id === "string" && parsed.id) return { id: parsed.id, displayName: typeof parsed.displayName === "string" ? parsed.displayName : undefined };
  } catch {
    // unreadable: treated as "recorded, but not this tenant" below
  }
  return { id: `(unreadable record: ${text.slice(0, 64)})` };
}

/** A resource may announce several child types (one ChildResourceType annotation each). */
function childTypes(r: Resource): string[] {
  return r.annotations.filter((a) => anyIs(a, ChildResourceTypeSchema)).map((a) => anyUnpack(a, ChildResourceTypeSchema)!.resourceTypeId);
}

const EXTERNAL_MATCHES = [ExternalResourceMatchSchema, ExternalResourceMatchAllSchema, ExternalResourceMatchIDSchema];

// Larger group commits (5,000 rows or 1 s) were measured against these on the bench org, compiled, three runs
// each: no CPU or wall difference (14.3/13.8/14.1 s vs 14.4/13.9/14.5 s of CPU), so a SIGKILL keeps losing less.
const FLUSH_ROWS = 1000;
const FLUSH_INTERVAL_MS = 250;
/** Encoded bytes that make a group commit due whatever the row count: a few pages of large objects. */
const FLUSH_BYTES = 4 * 1024 * 1024;

const isNotFound = (err: unknown) => err instanceof ConnectorError && err.code === Code.NOT_FOUND;

export async function runSync(options: SyncOptions): Promise<SyncResult> {
  applyHeapGrowth(); // heap-growth.ts: what the default costs in memory, measured
  const store = await SyncStore.openForSync(options.file, {
    workDir: options.workDir,
    logger: options.logger,
    maxDecodedBytes: options.maxDecodedBytes,
  });
  try {
    // ctx.session of this run's calls keeps its values in this c1z (v1_connector_sessions): they resume with it.
    const connector = withSessionBackend(options.connector, storeSessionBackend(store));
    const result = await new SyncRun(store, { ...options, connector }).run();
    await store.saveTo(options.file);
    return result;
  } finally {
    store.close();
  }
}

class SyncRun {
  private readonly store: SyncStore;
  private readonly opts: SyncOptions;
  private readonly log: Logger;
  private readonly concurrency: number;
  private readonly started = Date.now();
  private syncId = "";
  private syncType: SyncType = "full";
  private droppedByFilter = 0;
  private parentSyncId = "";
  private state: SyncState = initialState();
  private lastCheckpoint = 0;
  private readonly counts: SyncCounts = { resourceTypes: 0, resources: 0, entitlements: 0, grants: 0, expandedGrants: 0 };
  private calls = 0;
  private retries = 0;
  private readonly warnings: string[] = [];
  private resourceTypes = new Map<string, ResourceType>();
  /** Live view of the work of the current step, for checkpoints. */
  private snapshot: () => Partial<SyncState> = () => ({});
  /** Rate limits the connector reports per class of work, for choosing which type to serve next. */
  private readonly limits = new LimitAwareOrder();

  constructor(store: SyncStore, opts: SyncOptions) {
    this.store = store;
    this.opts = opts;
    this.log = opts.logger;
    this.concurrency = Math.max(1, opts.concurrency ?? 8);
    this.buffer = store.createWriteBuffer();
  }

  async run(): Promise<SyncResult> {
    // Validate first: its answer says which tenant the credentials reach, which decides whether to resume.
    const validation = await this.call(() => this.opts.connector.validate({}, { signal: this.opts.signal }));
    const tenant = this.tenantOf(validation.annotations);
    // "Targeted" means the list as given: a type filter that drops every target still makes a partial run.
    const targeted = !this.opts.skipSync && (this.opts.targetedResources?.length ?? 0) > 0;
    this.syncType = syncTypeFor({ targeted, skipEntitlementsAndGrants: !this.opts.skipSync && this.opts.skipEntitlementsAndGrants });
    for (const stale of abandonedPartialRuns(this.store)) {
      // A partial run is never resumed: one left unfinished by a killed targeted sync is only dead weight.
      this.log.info({ syncId: stale.syncId }, "discarding an unfinished targeted (partial) sync run; targeted syncs are never resumed");
      this.store.discardSync(stale.syncId);
    }
    const unfinished = targeted || this.opts.skipSync ? undefined : resumableRun(this.store, this.syncType);
    const resumed = unfinished !== undefined && this.sameTenant(unfinished.syncId, tenant);
    const resumedState = resumed ? parseState(unfinished.syncToken) : undefined;
    if (resumed && !resumedState) {
      this.log.warn({ syncId: unfinished.syncId }, "unfinished sync has a checkpoint from another engine version; starting a new sync");
    }
    if (resumed && resumedState) {
      this.syncId = unfinished.syncId;
      this.state = resumedState;
      this.log.info({ syncId: this.syncId, step: this.state.step, syncType: this.syncType }, "resuming unfinished sync");
    } else {
      this.parentSyncId = targeted ? partialParentId(this.store) : "";
      this.syncId = this.store.startSync(this.syncType, this.parentSyncId);
      if (tenant) this.store.setSyncTenant(this.syncId, JSON.stringify(tenant));
      this.log.info({ syncId: this.syncId, syncType: this.syncType, parentSyncId: this.parentSyncId || undefined }, "starting sync");
    }
    if (this.opts.skipSync) {
      this.log.info({ syncId: this.syncId }, "--skip-full-sync: ending the sync run without syncing");
      this.state = { ...this.state, step: "done" };
    }

    // Resource types are few and needed by every later step, so a resumed sync reads them again.
    if (this.state.step !== "resource-types") this.loadResourceTypes();
    if (this.state.step === "resource-types") await this.syncResourceTypes();
    if (this.state.step === "targeted") await this.syncTargeted();
    if (this.state.step === "objects") await this.syncObjects();
    if (this.state.step === "expand-grants") this.expand();
    if (targeted) await this.cleanup();

    const stats = this.store.counts(this.syncId);
    const durationMs = Date.now() - this.started;
    this.store.endSync(this.syncId, {
      ...stats,
      expandedGrants: this.counts.expandedGrants,
      warnings: this.warnings.length,
      calls: this.calls,
      durationMs,
    });
    this.progress();
    return {
      syncId: this.syncId,
      syncType: this.syncType,
      parentSyncId: this.parentSyncId,
      resumed: resumedState !== undefined,
      stats,
      warnings: this.warnings,
      calls: this.calls,
      retries: this.retries,
      durationMs,
    };
  }

  // ---- steps -------------------------------------------------------------------------------------------

  private async syncResourceTypes(): Promise<void> {
    let token = this.state.pageToken;
    const offered = new Set<string>();
    for (;;) {
      const page = await this.call(() =>
        this.opts.connector.listResourceTypes({ pageToken: token, activeSyncId: this.syncId }, { signal: this.opts.signal }),
      );
      for (const rt of page.list) offered.add(rt.id);
      const wanted = page.list.filter((rt) => !this.opts.resourceTypeIds?.length || this.opts.resourceTypeIds.includes(rt.id));
      this.store.putResourceTypes(this.syncId, wanted);
      for (const rt of wanted) this.resourceTypes.set(rt.id, rt);
      this.counts.resourceTypes += wanted.length;
      token = this.nextToken(token, page.nextPageToken, "ListResourceTypes");
      if (!token) break;
      this.state.pageToken = token;
      this.checkpoint(false);
    }
    for (const id of this.opts.resourceTypeIds ?? []) {
      if (!this.resourceTypes.has(id) && !this.store.getResourceType(this.syncId, id)) {
        throw new ConnectorError(
          Code.INVALID_ARGUMENT,
          `invalid resource type '${id}' in filter (--sync-resource-types / sync_resource_type_ids); the connector's types: ${[...offered].join(", ") || "none"}`,
        );
      }
    }
    // With every target filtered out the run stays partial but, as in Baton, takes the untargeted path.
    if (this.targets().length > 0) {
      this.enterStep("targeted", { pageToken: "" });
      return;
    }
    const actions: ListAction[] = [...this.resourceTypes.keys()].map((resourceTypeId) => ({ resourceTypeId, pageToken: "" }));
    this.enterStep("objects", { actions, pageToken: "" });
  }

  /** The targets after dedup and the type filter (PROTOCOL-2 §1.4). */
  private targets(): TargetedResource[] {
    if (this.opts.skipSync) return [];
    return dedupeTargets(this.opts.targetedResources ?? [], this.opts.resourceTypeIds);
  }

  private async syncTargeted(): Promise<void> {
    await syncTargetedResources(
      {
        connector: this.opts.connector,
        store: this.store,
        syncId: this.syncId,
        signal: this.opts.signal,
        concurrency: this.concurrency,
        resourceTypes: this.resourceTypes,
        skipEntitlementsAndGrants: this.opts.skipEntitlementsAndGrants === true,
        skipGrants: this.opts.skipGrants === true,
        skips: (r, kind) => this.skips(r, kind),
        call: (fn) => this.call(fn),
        warn: (m) => this.warn(m),
        listResources: (action, queue) => this.listResources(action, queue),
        nextToken: (current, next, what) => this.nextToken(current, next, what),
        counts: this.counts,
        afterPage: () => this.afterPage(),
      },
      this.targets(),
    );
    this.flush();
    this.enterStep("done", { actions: [] });
  }

  /** Baton ends a targeted sync with ConnectorService.Cleanup; a connector that fails it does not fail the sync. */
  private async cleanup(): Promise<void> {
    try {
      await this.call(() => this.opts.connector.cleanup({ activeSyncId: this.syncId }, { signal: this.opts.signal }));
    } catch (err) {
      if (this.opts.signal?.aborted) throw err;
      this.log.warn({ err: (err as Error).message }, "the connector's Cleanup failed after the targeted sync");
    }
  }

  private loadResourceTypes(): void {
    for (const rt of this.store.resourceTypes(this.syncId)) this.resourceTypes.set(rt.id, rt);
  }

  /**
   * Resources, entitlements and grants in one pool: a resource's entitlements and grants are listed as soon as
   * the resource is stored, so every slot stays busy and different APIs' rate limits are used side by side.
   */
  private async syncObjects(): Promise<void> {
    const limitAware = this.opts.limitAware !== false;
    // Listings keep equal turns: a listing discovers the rows behind the largest backlogs (a team's pages of
    // members), so serving the longest listing first would hold back the work it is meant to prioritise.
    const queue = new ListingQueue(this.state.actions);
    const running = new Set<ListAction>();
    const withEntitlements = !this.opts.skipEntitlementsAndGrants;
    const withGrants = withEntitlements && !this.opts.skipGrants;
    const kinds = [...(withEntitlements ? ["entitlements" as const] : []), ...(withGrants ? ["grants" as const] : [])];
    const skippedBy = kinds.map((kind) => this.skippedTypes(kind));
    const lanes = kinds.map(
      (kind, i) =>
        new RowLane(kind, this.store, this.syncId, this.state[kind], (r) => this.skips(r, kind), skippedBy[i], limitAware ? chooserFor(this.limits, kind) : undefined),
    );
    for (const id of this.resourceTypes.keys()) if (skippedBy.every((skipped) => skipped.includes(id))) this.unreadTypes.add(id);
    const statics = withEntitlements ? await this.staticEntitlements() : new Map<string, Entitlement[]>();
    // Nothing reads objects by their secondary indexes until this step is over (lanes walk row ids); expansion
    // restores them if it has work, and saving builds them in the saved copy.
    this.store.deferSecondaryIndexes();
    this.snapshot = () => ({
      actions: [...running, ...queue.all()].map((a) => ({ ...a })),
      ...Object.fromEntries(lanes.map((l) => [l.kind, l.snapshot()])),
    });

    type Work = { kind: "list"; action: ListAction } | { kind: "row"; lane: RowLane; work: RowWork };
    // Listings and the two lanes take turns: listings discover work, but a long queue of listings (a connector
    // fanning out its pages) must not hold back the entitlements and grants already waiting. Limit-aware, every
    // other start first goes to the source holding the class with the longest projected time at its limit (the
    // tightest limit's lane gets the slots to run at its limit; in the listing queue its own turns still decide
    // which listing), the rest in turn as before.
    let turn = 0;
    let preferred = false;
    const sources: Array<ListingQueue | RowLane> = [queue, ...lanes];
    const take = (source: ListingQueue | RowLane): Work | undefined => {
      if (source instanceof RowLane) {
        const work = source.next();
        return work && { kind: "row", lane: source, work };
      }
      const action = source.shift();
      return action && { kind: "list", action };
    };
    const next = (): Work | undefined => {
      if (limitAware && (preferred = !preferred)) {
        const source = this.longestSource(queue, lanes);
        const work = source && take(source);
        if (work) return work;
      }
      for (let i = 0; i < sources.length; i++) {
        const work = take(sources[turn++ % sources.length]);
        if (work) return work;
      }
      return undefined;
    };

    await drain(
      next,
      this.concurrency,
      async (item) => {
        if (item.kind === "list") {
          running.add(item.action);
          try {
            await this.listResources(item.action, queue);
          } finally {
            running.delete(item.action);
          }
        } else {
          await this.listForResource(item.lane, item.work, statics);
          item.lane.pageDone(item.work.rowId, item.work.key);
        }
      },
      this.opts.signal,
    );
    this.flush();
    if (this.droppedByFilter > 0) {
      this.warn(
        `${this.droppedByFilter} entitlements and grants were not stored: they refer to resource types outside the sync's type filter (${this.opts.resourceTypeIds!.join(", ")})`,
      );
    }
    // Baton's grant-expansion step (run or skipped) marks the run as one a diff can be made against.
    if (withEntitlements) markSupportsDiff(this.store, this.syncId);
    this.enterStep(withGrants && !this.opts.skipExpandGrants ? "expand-grants" : "done", {
      actions: [],
      entitlements: { cursor: 0, inflight: [] },
      grants: { cursor: 0, inflight: [] },
    });
  }

  /** The listing queue or lane whose waiting work includes the class with the longest projected time, if any is known. */
  private longestSource(queue: ListingQueue, lanes: readonly RowLane[]): ListingQueue | RowLane | undefined {
    let best: ListingQueue | RowLane | undefined;
    let max = this.limits.longest(asClasses("list", queue.candidates()));
    if (max >= 0) best = queue;
    for (const lane of lanes) {
      const t = this.limits.longest(asClasses(lane.kind, lane.candidates()));
      if (t > max) [best, max] = [lane, t];
    }
    return best;
  }

  private async listResources(action: ListAction, queue: ListingQueue): Promise<void> {
    const parentResourceId = action.parent ? create(ResourceIdSchema, action.parent) : undefined;
    const limitClass = `list:${action.resourceTypeId}`;
    this.limits.chainStarted(limitClass);
    for (;;) {
      const page = await this.paged(limitClass, () =>
        this.opts.connector.listResources(
          { resourceTypeId: action.resourceTypeId, parentResourceId, pageToken: action.pageToken, activeSyncId: this.syncId },
          { signal: this.opts.signal },
        ),
      );
      const resources = page.list.filter((r) => this.checkResource(r, action.resourceTypeId));
      if (this.unreadTypes.has(action.resourceTypeId)) {
        this.buffer.addResources(resources);
        this.flushIfDue();
      } else {
        this.store.putResources(this.syncId, resources);
      }
      this.counts.resources += resources.length;
      for (const r of resources) {
        for (const child of childTypes(r)) {
          if (this.resourceTypes.has(child) && r.id) {
            queue.push({ resourceTypeId: child, parent: { resourceType: r.id.resourceType, resource: r.id.resource }, pageToken: "" });
          }
        }
      }
      // A connector whose pages are independent may hand out further page tokens to fetch concurrently.
      for (const pageToken of findAnnotation(page.annotations, EnqueuePageTokensSchema)?.pageTokens ?? []) {
        if (pageToken) queue.push({ resourceTypeId: action.resourceTypeId, parent: action.parent, pageToken });
      }
      const next = this.nextToken(action.pageToken, page.nextPageToken, `ListResources(${action.resourceTypeId})`);
      action.pageToken = next;
      await this.afterPage();
      if (!next) return;
    }
  }

  /** One chain of pages of a resource's entitlements or grants (the first chain also stores static copies). */
  private async listForResource(lane: RowLane, work: RowWork, statics: Map<string, Entitlement[]>): Promise<void> {
    const { resource, rowId, key } = work;
    const kind = lane.kind;
    if (kind === "entitlements" && work.pageToken === "") this.putStaticCopies(resource, statics);
    const limitClass = `${kind}:${resource.id?.resourceType}`;
    this.limits.chainStarted(limitClass);
    let token = work.pageToken;
    for (;;) {
      let page: { list: Array<Entitlement | Grant>; nextPageToken: string; annotations: Any[] };
      const request = { resource, pageToken: token, activeSyncId: this.syncId };
      const rpcOptions = { signal: this.opts.signal };
      try {
        page = await this.paged<{ list: Array<Entitlement | Grant>; nextPageToken: string; annotations: Any[] }>(limitClass, () =>
          kind === "entitlements"
            ? this.opts.connector.listEntitlements(request, rpcOptions)
            : this.opts.connector.listGrants(request, rpcOptions),
        );
      } catch (err) {
        if (!isNotFound(err)) throw err;
        // As in Baton: a resource that vanished between listing and now is a warning, not a failure.
        this.warn(`${kind} of ${resource.id?.resourceType}:${resource.id?.resource}: not found (${(err as Error).message})`);
        return;
      }
      if (kind === "entitlements") {
        const kept = this.filterFresh(page.list as Entitlement[], (e) => [e.resource?.id?.resourceType]);
        this.buffer.addEntitlements(kept);
        this.counts.entitlements += kept.length;
      } else {
        const kept = this.filterFresh(page.list as Grant[], (g) =>
          EXTERNAL_MATCHES.some((schema) => hasAnnotation(g.annotations, schema))
            ? [g.entitlement?.resource?.id?.resourceType]
            : [g.entitlement?.resource?.id?.resourceType, g.principal?.id?.resourceType],
        );
        this.buffer.addGrants(kept);
        this.counts.grants += kept.length;
      }
      this.flushIfDue();
      const what = `List${kind === "entitlements" ? "Entitlements" : "Grants"}(${resource.id?.resourceType}:${resource.id?.resource})`;
      token = this.nextToken(token, page.nextPageToken, what);
      lane.progress(rowId, key, token);
      const more = findAnnotation(page.annotations, EnqueuePageTokensSchema)?.pageTokens.filter((t) => t !== "");
      if (more?.length) lane.enqueue(rowId, more);
      await this.afterPage();
      if (!token) return;
    }
  }

  /**
   * In a full run narrowed by a type filter, as in Baton: entitlements of resources, and grants of entitlements or
   * to principals, whose type is not synced are dropped (a principal matched externally is exempt); one warning
   * at the end counts them.
   */
  private filterFresh<T>(items: T[], typesOf: (item: T) => Array<string | undefined>): T[] {
    if (this.syncType !== "full" || !this.opts.resourceTypeIds?.length) return items;
    const kept = items.filter((item) => typesOf(item).every((t) => t !== undefined && this.resourceTypes.has(t)));
    this.droppedByFilter += items.length - kept.length;
    return kept;
  }

  private async staticEntitlements(): Promise<Map<string, Entitlement[]>> {
    const byType = new Map<string, Entitlement[]>();
    for (const rt of this.resourceTypes.values()) {
      let token = "";
      const list: Entitlement[] = [];
      for (;;) {
        const page = await this.call(() =>
          this.opts.connector.listStaticEntitlements({ resourceTypeId: rt.id, pageToken: token, activeSyncId: this.syncId }, { signal: this.opts.signal }),
        );
        list.push(...page.list);
        token = this.nextToken(token, page.nextPageToken, `ListStaticEntitlements(${rt.id})`);
        if (!token) break;
      }
      if (list.length) byType.set(rt.id, list);
    }
    return byType;
  }

  private putStaticCopies(resource: Resource, statics: Map<string, Entitlement[]>): void {
    const templates = statics.get(resource.id?.resourceType ?? "");
    if (!templates?.length) return;
    const copies = templates.map((t) =>
      create(EntitlementSchema, { ...t, resource, id: entitlementId(resource, t.slug || t.id) }),
    );
    this.buffer.addEntitlements(copies);
    this.counts.entitlements += copies.length;
  }

  private expand(): void {
    const result = expandGrants(this.store, this.syncId, this.log);
    this.counts.expandedGrants = result.expanded;
    this.log.debug(result, "grant expansion done");
    this.enterStep("done", {});
  }

  // ---- helpers -----------------------------------------------------------------------------------------

  /** The tenant the connector states in its Validate answer; a malformed one counts as none (and is logged). */
  private tenantOf(annotations: Any[]): TenantIdentity | undefined {
    try {
      return findTenantIdentity(annotations);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "the connector's tenant identity is malformed; syncing without one");
      return undefined;
    }
  }

  /**
   * Whether the unfinished run `syncId` is for the tenant the credentials reach now. When it is not (or either
   * side is unknown while the other is known), the run is discarded, with every row it wrote, and a message says
   * why: resuming would merge two tenants' objects into one sync.
   */
  private sameTenant(syncId: string, tenant: TenantIdentity | undefined): boolean {
    const recorded = recordedTenant(this.store.syncTenant(syncId));
    if (recorded?.id === tenant?.id) return true;
    const name = (t: TenantIdentity) => t.displayName || t.id;
    const why = !recorded
      ? `it did not record which tenant it was for, and these credentials reach ${name(tenant!)}`
      : !tenant
        ? `it was for ${name(recorded)}, and which tenant these credentials reach could not be determined`
        : `it was for ${name(recorded)}, but these credentials reach ${name(tenant)}`;
    this.log.warn(
      { syncId, file: this.opts.file, recordedTenant: recorded?.id, tenant: tenant?.id },
      `not resuming the unfinished sync ${syncId} of ${this.opts.file}: ${why}; starting a new sync (the unfinished one is discarded, so that objects of two tenants are never mixed)`,
    );
    this.store.discardSync(syncId);
    return false;
  }

  /** Resource types whose annotations skip `kind` for every resource of the type. */
  private skippedTypes(kind: "entitlements" | "grants"): string[] {
    const skipKind = kind === "entitlements" ? SkipEntitlementsSchema : SkipGrantsSchema;
    return [...this.resourceTypes.values()]
      .filter((rt) => hasAnnotation(rt.annotations, SkipEntitlementsAndGrantsSchema) || hasAnnotation(rt.annotations, skipKind))
      .map((rt) => rt.id);
  }

  private skips(resource: Resource, kind: "entitlements" | "grants"): boolean {
    const rt = this.resourceTypes.get(resource.id?.resourceType ?? "");
    const lists = [resource.annotations, rt?.annotations ?? []];
    return lists.some(
      (annotations) =>
        hasAnnotation(annotations, SkipEntitlementsAndGrantsSchema) ||
        hasAnnotation(annotations, kind === "entitlements" ? SkipEntitlementsSchema : SkipGrantsSchema),
    );
  }

  private checkResource(r: Resource, expectedType: string): boolean {
    if (!r.id || !r.id.resource) {
      this.warn(`ListResources(${expectedType}) returned a resource without an id; skipped`);
      return false;
    }
    if (r.id.resourceType !== expectedType) {
      throw new ConnectorError(
        Code.INTERNAL,
        `ListResources(${expectedType}) returned a resource of type "${r.id.resourceType}"`,
      );
    }
    return true;
  }

  /** The repeated-token guard: a next token equal to the one just used would loop forever. */
  private nextToken(current: string, next: string, what: string): string {
    if (next && next === current) {
      throw new ConnectorError(Code.INTERNAL, `${what}: the connector returned the same page token twice; stopping to avoid a loop`);
    }
    return next;
  }

  /** One page of class `limitClass` through call(); the rate limit its answer reports is noted in `limits`. */
  private async paged<T extends { annotations: Any[] }>(limitClass: string, fn: () => Promise<T>): Promise<T> {
    this.limits.pageStarted(limitClass);
    let page: T | undefined;
    try {
      page = await this.call(fn);
      return page;
    } finally {
      this.limits.pageEnded(limitClass, page?.annotations);
    }
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    return withRetry(
      () => {
        // Cancellation takes effect between pages too, not only inside a connector call.
        this.opts.signal?.throwIfAborted();
        this.calls++;
        return fn();
      },
      {
        policy: this.opts.retry,
        signal: this.opts.signal,
        onRetry: (err, delayMs) => {
          this.retries++;
          this.log.warn({ err: (err as Error).message, delayMs: Math.round(delayMs) }, "connector call failed; retrying");
        },
      },
    );
  }

  private warn(message: string): void {
    this.warnings.push(message);
    this.log.warn(message);
  }

  private async afterPage(): Promise<void> {
    this.checkpoint(false);
    this.progress();
    await this.opts.afterPage?.();
  }

  private enterStep(step: Step, fields: Partial<SyncState>): void {
    this.state = { ...this.state, ...fields, step };
    this.snapshot = () => ({});
    this.checkpoint(true);
    this.log.debug({ step }, "sync step");
  }

  /**
   * Entitlements, grants and resources that no lane reads (types that skip both) are written in group commits:
   * one transaction per page would spend more time committing than fetching. Resources a lane reads are stored
   * at once, so their entitlements and grants can start. The buffer is always flushed with (before) a
   * checkpoint, so a checkpoint never claims work whose objects are not stored. Pages are encoded as they arrive
   * (write-buffer.ts): the buffer holds bytes, not message graphs.
   */
  private readonly buffer: WriteBuffer;
  /** Resource types whose rows no lane reads. */
  private readonly unreadTypes = new Set<string>();
  private lastFlush = Date.now();

  private flushIfDue(): void {
    const buffered = this.buffer.rows;
    if (buffered >= FLUSH_ROWS || this.buffer.bytes >= FLUSH_BYTES || (buffered > 0 && Date.now() - this.lastFlush >= FLUSH_INTERVAL_MS)) this.flush();
  }

  private flush(): void {
    this.lastFlush = Date.now();
    this.buffer.flush(this.syncId);
  }

  private checkpoint(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastCheckpoint < (this.opts.checkpointIntervalMs ?? 5000)) return;
    this.lastCheckpoint = now;
    this.store.transaction(() => {
      this.flush();
      this.store.setSyncToken(this.syncId, serializeState({ ...this.state, ...this.snapshot() }));
    });
  }

  private lastProgress = 0;
  private progress(): void {
    if (!this.opts.onProgress) return;
    const now = Date.now();
    if (now - this.lastProgress < 100 && this.state.step !== "done") return;
    this.lastProgress = now;
    this.opts.onProgress({
      ...this.counts,
      step: this.state.step,
      calls: this.calls,
      retries: this.retries,
      warnings: this.warnings.length,
      elapsedMs: now - this.started,
    });
  }
}

