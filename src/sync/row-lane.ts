/**
 * Per-resource work (listing one resource's entitlements, or its grants) over the resources stored so far.
 * Rows appear while resource listings are still running, so an empty lane is not a finished lane: it asks the
 * store again on every call. Rows are read in row order into a look-ahead window and handed out by resource type,
 * in the order a chooser gives (limit-aware.ts: the type needing the longest at its rate limit first), else
 * round-robin: consecutive rows are usually of one type, whose API has its own rate limit, and taking them in
 * order would queue every worker behind that one limit while the others sit idle.
 *
 * A row's listing is usually one chain of pages, but a connector may hand out more page tokens at once
 * (EnqueuePageTokens) so that a resource with many grants is not one long sequential chain; a row is done when
 * none of its pages is outstanding.
 *
 * The checkpoint is a cursor (every row up to it is done) plus every outstanding page of the rows past it; rows
 * done past the cursor are simply done again on resume.
 */
import type { Resource } from "../gen/c1/connector/v2/resource_pb.js";
import type { SyncStore } from "../store/store.ts";
import type { Candidate, TypeChooser } from "./limit-aware.ts";
import type { RowLaneState } from "./state.ts";

export interface RowWork {
  rowId: number;
  resource: Resource;
  /** The page to fetch: "" for a row's first page. */
  pageToken: string;
  /** Which of the row's outstanding pages this is; passed back to progress() and pageDone(). */
  key: number;
}

/** Rows held in the look-ahead window (about 1 KB each). */
const WINDOW = 2048;
/**
 * The window is topped up once this many rows of it were taken (reads come in batches). Not half of it: a
 * limit-aware chooser takes one type's rows first, and a window left full of the other types' rows would hide
 * that type's next rows until the others drained.
 */
const REFILL_BATCH = 256;

interface Row {
  rowId: number;
  resource: Resource;
}

export class RowLane {
  readonly kind: "entitlements" | "grants";
  private readonly store: SyncStore;
  private readonly syncId: string;
  private readonly skip: (resource: Resource) => boolean;
  /** Types whose every resource is skipped: their rows are not even read. */
  private readonly skippedTypes: readonly string[];
  /** Pages that were outstanding at the last checkpoint, by row. */
  private readonly resumePages: Map<number, string[]>;
  private fetchedUpTo: number;
  /** Fetched rows not yet started, per resource type, each in row order. */
  private readonly waiting = new Map<string, Row[]>();
  private waitingCount = 0;
  private turn = 0;
  /** Fetched rows not yet done, ascending: the smallest bounds the cursor. */
  private readonly unfinished: number[] = [];
  /** Started rows: their outstanding pages (queued or running), each page by a unique key. */
  private readonly outstanding = new Map<number, { resource: Resource; pages: Map<number, string> }>();
  /** Pages handed out by a connector, waiting for a worker, per resource type. */
  private readonly extraPages = new Map<string, Array<{ rowId: number; key: number }>>();
  private nextKey = 0;
  /** The store's resourceWrites when a refill last saw every stored row (-1: not yet). */
  private caughtUpAt = -1;
  /** Picks the type to serve next (limit-aware.ts); round-robin when absent or undecided. */
  private readonly chooser: TypeChooser | undefined;

  constructor(
    kind: "entitlements" | "grants",
    store: SyncStore,
    syncId: string,
    state: RowLaneState,
    skip: (resource: Resource) => boolean,
    skippedTypes: readonly string[] = [],
    chooser?: TypeChooser,
  ) {
    this.chooser = chooser;
    this.kind = kind;
    this.store = store;
    this.syncId = syncId;
    this.skip = skip;
    this.skippedTypes = skippedTypes;
    this.fetchedUpTo = state.cursor;
    this.resumePages = new Map();
    for (const { rowId, pageToken } of state.inflight) {
      const pages = this.resumePages.get(rowId) ?? [];
      pages.push(pageToken);
      this.resumePages.set(rowId, pages);
    }
  }

  /** The next page to fetch, or undefined when none is available yet. */
  next(): RowWork | undefined {
    for (;;) {
      if (this.waitingCount <= WINDOW - REFILL_BATCH) this.refill();
      const taken = this.take();
      if (!taken) return undefined;
      if ("key" in taken) {
        const row = this.outstanding.get(taken.rowId)!;
        return { rowId: taken.rowId, resource: row.resource, pageToken: row.pages.get(taken.key)!, key: taken.key };
      }
      const row = taken;
      if (this.skip(row.resource)) {
        this.rowDone(row.rowId);
        continue;
      }
      const [first, ...others] = this.resumePages.get(row.rowId) ?? [""];
      const key = this.startRow(row, first);
      this.enqueue(row.rowId, others);
      return { rowId: row.rowId, resource: row.resource, pageToken: first, key };
    }
  }

  /** The types with work waiting (fetched rows not started, handed-out pages), as a chooser sees them. */
  candidates(): Candidate[] {
    const out: Candidate[] = [];
    for (const [type, pages] of this.extraPages) out.push({ key: type, items: this.waiting.get(type)?.length ?? 0, pages: pages.length });
    for (const [type, rows] of this.waiting) if (!this.extraPages.has(type)) out.push({ key: type, items: rows.length, pages: 0 });
    return out;
  }

  /** Records the page the running page `key` will ask for next (for checkpoints). */
  progress(rowId: number, key: number, pageToken: string): void {
    this.outstanding.get(rowId)?.pages.set(key, pageToken);
  }

  /** Adds pages of row `rowId` that can be fetched alongside the running ones. */
  enqueue(rowId: number, pageTokens: readonly string[]): void {
    const row = this.outstanding.get(rowId);
    if (!row || pageTokens.length === 0) return;
    const type = row.resource.id?.resourceType ?? "";
    let pages = this.extraPages.get(type);
    if (!pages) this.extraPages.set(type, (pages = []));
    for (const token of pageTokens) {
      const key = this.nextKey++;
      row.pages.set(key, token);
      pages.push({ rowId, key });
    }
  }

  /** The page `key` of row `rowId` and its chain are done. */
  pageDone(rowId: number, key: number): void {
    const row = this.outstanding.get(rowId);
    if (!row) return;
    row.pages.delete(key);
    if (row.pages.size === 0) {
      this.outstanding.delete(rowId);
      this.rowDone(rowId);
    }
  }

  snapshot(): RowLaneState {
    const cursor = this.unfinished.length > 0 ? this.unfinished[0] - 1 : this.fetchedUpTo;
    const inflight: RowLaneState["inflight"] = [];
    for (const [rowId, row] of this.outstanding) for (const pageToken of row.pages.values()) inflight.push({ rowId, pageToken });
    return { cursor, inflight };
  }

  private startRow(row: Row, pageToken: string): number {
    const key = this.nextKey++;
    this.outstanding.set(row.rowId, { resource: row.resource, pages: new Map([[key, pageToken]]) });
    return key;
  }

  private rowDone(rowId: number): void {
    const i = lowerBound(this.unfinished, rowId);
    if (this.unfinished[i] === rowId) this.unfinished.splice(i, 1);
  }

  /**
   * Work of the next resource type in turn: a page a connector handed out for a started row of that type, else
   * the type's oldest waiting row. Handed-out pages go first within their type (started rows finish before new
   * ones start) but take turns with the other types: one role's hundred pages of members must not hold back
   * every team for as long as they take.
   */
  private take(): Row | { rowId: number; key: number } | undefined {
    const type = this.typeInTurn();
    if (type === undefined) return undefined;
    const pages = this.extraPages.get(type);
    if (pages) {
      const page = pages.shift()!;
      if (pages.length === 0) this.extraPages.delete(type);
      return page;
    }
    const rows = this.waiting.get(type)!;
    const row = rows.shift()!;
    if (rows.length === 0) this.waiting.delete(type);
    this.waitingCount--;
    return row;
  }

  /**
   * The type the chooser picks, else the next in turn of the types with work: those with handed-out pages, then
   * those with waiting rows only. The turn is counted in place, without building the list: this runs for every
   * page a worker takes (a chooser needs the list, a handful of types).
   */
  private typeInTurn(): string | undefined {
    if (this.chooser && (this.extraPages.size > 0 || this.waiting.size > 0)) {
      const chosen = this.chooser(this.candidates());
      if (chosen !== undefined && (this.extraPages.has(chosen) || this.waiting.has(chosen))) return chosen;
    }
    let count = this.extraPages.size;
    for (const type of this.waiting.keys()) if (!this.extraPages.has(type)) count++;
    if (count === 0) return undefined;
    let i = this.turn++ % count;
    for (const type of this.extraPages.keys()) if (i-- === 0) return type;
    for (const type of this.waiting.keys()) if (!this.extraPages.has(type) && i-- === 0) return type;
    return undefined;
  }

  private refill(): void {
    // Asked on every next(): most calls find nothing new, and must learn that without a query. The store's
    // write count says whether any resource was stored since a look that saw every row (-1: none yet).
    const writes = this.store.resourceWrites;
    if (writes === this.caughtUpAt) return;
    const last = this.store.lastResourceRowId();
    if (last <= this.fetchedUpTo) {
      this.caughtUpAt = writes;
      return;
    }
    const limit = WINDOW - this.waitingCount;
    const filter = { afterRowId: this.fetchedUpTo, limit, excludeResourceTypeIds: this.skippedTypes };
    let read = 0;
    for (const row of this.store.iterateResources(this.syncId, filter)) {
      const type = row.resource.id?.resourceType ?? "";
      let rows = this.waiting.get(type);
      if (!rows) this.waiting.set(type, (rows = []));
      rows.push(row);
      this.waitingCount++;
      this.unfinished.push(row.rowId);
      this.fetchedUpTo = row.rowId;
      read++;
    }
    // A short read saw every row up to `last`: rows of skipped types past the last one read are not scanned
    // again on the next call (users alone are most of an org's rows).
    if (read < limit) {
      this.fetchedUpTo = Math.max(this.fetchedUpTo, last);
      this.caughtUpAt = writes;
    }
  }
}

function lowerBound(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
