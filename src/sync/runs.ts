/**
 * Which run a new sync starts, resumes or hangs off (PROTOCOL-2 §1.3): the type follows the options (targeted →
 * `partial`, which wins over resources-only → `resources_only`, else `full`); an untargeted sync resumes the
 * newest unfinished run of its own type started in the last 7 days; a targeted one never resumes and names the
 * newest finished `full` run of the file as its parent.
 */
import type { SyncRunRow, SyncStore, SyncType } from "../store/store.ts";
import { parseSqlTime } from "../store/time.ts";

const RESUME_MAX_AGE_MS = 7 * 86_400_000;

export function syncTypeFor(options: { targeted: boolean; skipEntitlementsAndGrants?: boolean }): SyncType {
  if (options.targeted) return "partial";
  return options.skipEntitlementsAndGrants ? "resources_only" : "full";
}

function startedWithin(run: SyncRunRow, ms: number, now: number): boolean {
  try {
    return now - parseSqlTime(run.startedAt).getTime() <= ms;
  } catch {
    return false; // an unreadable start time is not something to resume
  }
}

/** The newest unfinished run of `syncType` a sync may resume, if any. */
export function resumableRun(store: SyncStore, syncType: SyncType, now = Date.now()): SyncRunRow | undefined {
  const runs = store.syncRuns();
  for (let i = runs.length - 1; i >= 0; i--) {
    const run = runs[i]!;
    if (run.endedAt === null && run.syncType === syncType && startedWithin(run, RESUME_MAX_AGE_MS, now)) return run;
  }
  return undefined;
}

/** The parent of a new partial run: the newest finished full run ("" when the file has none). */
export function partialParentId(store: SyncStore): string {
  return store.latestFinishedSync("full")?.syncId ?? "";
}

/** Unfinished partial runs: nothing ever resumes them, so a new sync of the file drops them with their rows. */
export function abandonedPartialRuns(store: SyncStore): SyncRunRow[] {
  return store.syncRuns().filter((r) => r.endedAt === null && r.syncType === "partial");
}
