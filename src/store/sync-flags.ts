/**
 * The `supports_diff` flag of a run (PROTOCOL-2 §1.5): Baton sets it when a run's grant-expansion step starts
 * fresh, i.e. for full runs that synced entitlements (skip_grants and skip_expand_grants included), never for
 * partial or resources_only runs. Diffs between two files require it on both runs.
 */
import type { SyncStore } from "./store.ts";

export function markSupportsDiff(store: SyncStore, syncId: string): void {
  store.database.prepare("update v1_sync_runs set supports_diff = 1 where sync_id = ?").run(syncId);
}
