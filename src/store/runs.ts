// Which run of a multi-run c1z a reader shows, and which finished runs a file drops when a run ends
// (PROTOCOL-2.md §1.7). Pure functions over the rows of v1_sync_runs, so both rules are testable on their own.
import type { SyncRunRow } from "./rows.ts";
import { parseSqlTime } from "./time.ts";

/** Finished runs a file keeps of the full kind (BATON_KEEP_SYNC_COUNT overrides it when > 0). */
export const DEFAULT_KEEP_SYNC_COUNT = 2;

const PARTIAL_BUCKET = new Set(["partial", "resources_only"]);
const DIFF_BUCKET = new Set(["partial_upserts", "partial_deletions"]);

/** Every type that is neither partial nor a diff counts as full, as Go's cleanup does (unknown types included). */
export function retentionBucket(syncType: string): "full" | "partial" | "diff" {
  if (PARTIAL_BUCKET.has(syncType)) return "partial";
  if (DIFF_BUCKET.has(syncType)) return "diff";
  return "full";
}

export interface RetentionOptions {
  /** How many full runs to keep; default DEFAULT_KEEP_SYNC_COUNT. */
  keep?: number;
  /** A run being written now: never deleted, and it takes one place of `keep`. */
  currentSyncId?: string;
}

/** The env of Go's store: BATON_SKIP_CLEANUP (truthy: no cleanup), BATON_KEEP_SYNC_COUNT (> 0 replaces 2). */
export function retentionFromEnv(env: NodeJS.ProcessEnv = process.env): { skip: boolean; keep: number } {
  const skip = /^(1|t|true)$/i.test((env.BATON_SKIP_CLEANUP ?? "").trim());
  const n = Number.parseInt((env.BATON_KEEP_SYNC_COUNT ?? "").trim(), 10);
  return { skip, keep: Number.isSafeInteger(n) && n > 0 ? n : DEFAULT_KEEP_SYNC_COUNT };
}

function time(text: string | null): number {
  if (text === null) return Number.NaN;
  try {
    return parseSqlTime(text).getTime();
  } catch {
    return Number.NaN;
  }
}

/**
 * The sync ids to delete, given every run of the file (any order). Unfinished and current runs are never
 * deleted. Full runs beyond the limit go, oldest first, and with them partial / resources-only runs that ended
 * before the earliest kept full run started (a partial run is only meaningful next to a full run at least as
 * old as it). Of more than two diff runs only the newest and its linked partner stay. So partial runs never
 * push full runs out: they are counted apart.
 */
export function selectSyncsToDelete(runs: readonly SyncRunRow[], options: RetentionOptions = {}): string[] {
  const keep = options.keep ?? DEFAULT_KEEP_SYNC_COUNT;
  const finished = runs.filter((r) => r.endedAt !== null && r.syncId !== options.currentSyncId).sort((a, b) => a.rowId - b.rowId);
  const doomed = new Set<string>();

  const limit = Math.max(0, options.currentSyncId && runs.some((r) => r.syncId === options.currentSyncId && r.endedAt === null) ? keep - 1 : keep);
  const fulls = finished.filter((r) => retentionBucket(r.syncType) === "full");
  if (fulls.length > limit) {
    const overflow = fulls.slice(0, fulls.length - limit);
    for (const r of overflow) doomed.add(r.syncId);
    const kept = fulls.slice(fulls.length - limit);
    if (kept.length > 0) {
      const earliestKeptStart = Math.min(...kept.map((r) => time(r.startedAt)));
      for (const r of finished) {
        if (retentionBucket(r.syncType) === "partial" && time(r.endedAt) < earliestKeptStart) doomed.add(r.syncId);
      }
    }
  }

  const diffs = finished.filter((r) => retentionBucket(r.syncType) === "diff");
  if (diffs.length > 2) {
    const newest = diffs[diffs.length - 1]!;
    const stay = new Set([newest.syncId, newest.linkedSyncId]);
    for (const r of diffs) if (!stay.has(r.syncId)) doomed.add(r.syncId);
  }
  return [...doomed];
}

/**
 * The run a reader shows when no --sync-id is given: the newest finished full run, else the newest unfinished
 * run of any type (Go's getCachedViewSyncRun). A file holding only finished partial runs (a service-mode targeted
 * sync uploads one) shows its newest run: Go leaves that case undetermined, and an empty answer would mislead.
 */
export function defaultViewRun(runs: readonly SyncRunRow[]): SyncRunRow | undefined {
  const ordered = [...runs].sort((a, b) => b.rowId - a.rowId);
  return (
    ordered.find((r) => r.endedAt !== null && r.syncType === "full") ??
    ordered.find((r) => r.endedAt === null) ??
    ordered.find((r) => r.endedAt !== null)
  );
}

/** The newest finished full run, and the finished full run before it: what `diff` compares by default. */
export function lastTwoFullRuns(runs: readonly SyncRunRow[]): { newer: SyncRunRow | undefined; older: SyncRunRow | undefined } {
  const fulls = runs.filter((r) => r.endedAt !== null && r.syncType === "full").sort((a, b) => b.rowId - a.rowId);
  return { newer: fulls[0], older: fulls[1] };
}
