/**
 * Per-resource work (listing one resource's entitlements, or its grants) over the resources stored so far, in
 * row order. Rows appear while resource listings are still running, so an empty lane is not a finished lane:
 * it asks the store again on every call. Its checkpoint is a cursor (every row up to it is done) plus the rows
 * past the cursor that were mid-listing with their next page token.
 */
import type { Resource } from "../gen/c1/connector/v2/resource_pb.js";
import type { SyncStore } from "../store/store.ts";
import type { RowLaneState } from "./state.ts";

export interface RowWork {
  rowId: number;
  resource: Resource;
  /** The page to start from: "" unless the row was mid-listing at the last checkpoint. */
  pageToken: string;
}

const BATCH = 256;

export class RowLane {
  readonly kind: "entitlements" | "grants";
  private readonly store: SyncStore;
  private readonly syncId: string;
  private readonly skip: (resource: Resource) => boolean;
  private readonly resumeTokens: Map<number, string>;
  private cursor: number;
  private fetchedUpTo: number;
  private buffer: Array<{ rowId: number; resource: Resource }> = [];
  /** Rows handed out, in row order, until they are done and the cursor passes them. */
  private readonly started: number[] = [];
  private readonly finished = new Set<number>();
  private readonly running = new Map<number, string>();

  constructor(
    kind: "entitlements" | "grants",
    store: SyncStore,
    syncId: string,
    state: RowLaneState,
    skip: (resource: Resource) => boolean,
  ) {
    this.kind = kind;
    this.store = store;
    this.syncId = syncId;
    this.skip = skip;
    this.cursor = state.cursor;
    this.fetchedUpTo = state.cursor;
    this.resumeTokens = new Map(state.inflight.map((i) => [i.rowId, i.pageToken]));
  }

  /** The next row to work on, or undefined when none is stored yet. */
  next(): RowWork | undefined {
    for (;;) {
      if (this.buffer.length === 0) this.refill();
      const row = this.buffer.shift();
      if (!row) return undefined;
      this.started.push(row.rowId);
      if (this.skip(row.resource)) {
        this.done(row.rowId);
        continue;
      }
      const pageToken = this.resumeTokens.get(row.rowId) ?? "";
      this.running.set(row.rowId, pageToken);
      return { rowId: row.rowId, resource: row.resource, pageToken };
    }
  }

  /** Records the page a running row will ask for next (for checkpoints). */
  progress(rowId: number, pageToken: string): void {
    this.running.set(rowId, pageToken);
  }

  done(rowId: number): void {
    this.running.delete(rowId);
    this.finished.add(rowId);
    while (this.started.length > 0 && this.finished.has(this.started[0])) {
      this.cursor = this.started.shift()!;
      this.finished.delete(this.cursor);
    }
  }

  snapshot(): RowLaneState {
    return { cursor: this.cursor, inflight: [...this.running].map(([rowId, pageToken]) => ({ rowId, pageToken })) };
  }

  private refill(): void {
    for (const row of this.store.iterateResources(this.syncId, { afterRowId: this.fetchedUpTo, limit: BATCH })) {
      this.buffer.push(row);
    }
    if (this.buffer.length > 0) this.fetchedUpTo = this.buffer[this.buffer.length - 1].rowId;
  }
}
