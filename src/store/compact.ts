// Compaction of several c1z files into one (PROTOCOL-2.md §2.4, Go's `--compact-syncs`): one new run holding,
// for every object, the newest version any input has (newest discovered_at wins). Inputs are applied last to
// first, so on equal discovered_at the later file's row stays. The result is written as
// `DIR/compacted-<sync id>.c1z` through the store's atomic save (temp file, fsync, rename; links refused).
import { statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Logger } from "pino";
import { newKsuid } from "./ksuid.ts";
import { TABLES } from "./schema.ts";
import { SyncStore, type SyncRunRow } from "./store.ts";
import { formatSqlTime } from "./time.ts";

const COMPACTED_TABLES = ["v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants"] as const;
const COMPACTABLE_TYPES = new Set(["full", "resources_only", "partial"]);

export interface CompactOptions {
  files: readonly string[];
  /** One per file, in the same order (Go requires them; the run merged is each file's newest compactable one). */
  syncIds: readonly string[];
  outputDir: string;
  logger?: Logger;
  maxDecodedBytes?: number;
  /** Grant expansion over the merged run, run when its type is not partial (the engine's expansion step). */
  expand?: (store: SyncStore, syncId: string) => void;
}

export interface CompactResult {
  /** Absolute path of the compacted c1z. */
  path: string;
  syncId: string;
  syncType: string;
  /** The run merged from each file, in the order given. */
  merged: { file: string; syncId: string; syncType: string }[];
}

/** Go's union of run types: any full makes it full, else any resources_only, else partial. */
export function unionSyncType(a: string, b: string): string {
  if (a === "full" || b === "full") return "full";
  if (a === "resources_only" || b === "resources_only") return "resources_only";
  return "partial";
}

function newestCompactableRun(runs: readonly SyncRunRow[]): SyncRunRow | undefined {
  return [...runs].sort((a, b) => b.rowId - a.rowId).find((r) => r.endedAt !== null && COMPACTABLE_TYPES.has(r.syncType));
}

function checkInputs(options: CompactOptions): void {
  const { files, syncIds, outputDir } = options;
  if (files.length !== syncIds.length) {
    throw new Error(
      `sync-compactor: must include exactly one syncID per file (got ${files.length} file(s) in --compact-file-paths and ${syncIds.length} id(s) in --compact-sync-ids)`,
    );
  }
  if (files.length < 2) throw new Error(`sync-compactor: must provide two or more files to compact (got ${files.length})`);
  let st;
  try {
    st = statSync(outputDir);
  } catch {
    throw new Error(`--compact-output-path ${outputDir} does not exist: create the directory first`);
  }
  if (!st.isDirectory()) throw new Error(`--compact-output-path ${outputDir} is not a directory`);
}

/** Merges the newest compactable run of each file into one new run and saves it; see the module comment. */
export async function compactSyncFiles(options: CompactOptions): Promise<CompactResult> {
  checkInputs(options);
  const { logger } = options;
  const out = await SyncStore.createScratch({ logger });
  try {
    const db = out.database;
    const syncId = newKsuid();
    const now = formatSqlTime();
    db.prepare("insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type) values (?, ?, ?, '', 'partial')").run(syncId, now, now);
    let syncType = "partial";
    let endedAt = now;
    const merged: CompactResult["merged"] = [];
    for (let i = options.files.length - 1; i >= 0; i--) {
      const file = options.files[i]!;
      const input = await SyncStore.openReadOnly(file, { logger, maxDecodedBytes: options.maxDecodedBytes });
      try {
        const run = newestCompactableRun(input.syncRuns());
        if (!run) throw new Error(`sync-compactor: ${file} has no finished full, resources_only or partial run to compact`);
        if (run.syncId !== options.syncIds[i]) {
          logger?.warn(
            { file, given: options.syncIds[i], merged: run.syncId },
            "sync-compactor: the sync id given for this file is not its newest finished run; merging the newest, as Baton does",
          );
        }
        mergeRun(out, input.databasePath, run.syncId, syncId);
        syncType = unionSyncType(syncType, run.syncType);
        if (run.endedAt! > endedAt) endedAt = run.endedAt!;
        db.prepare("update v1_sync_runs set sync_type = ?, ended_at = ? where sync_id = ?").run(syncType, endedAt, syncId);
        merged.unshift({ file, syncId: run.syncId, syncType: run.syncType });
      } finally {
        input.close();
      }
    }
    if (syncType !== "partial" && options.expand) {
      db.prepare("update v1_sync_runs set supports_diff = 1 where sync_id = ?").run(syncId);
      options.expand(out, syncId);
    }
    const path = resolve(join(options.outputDir, `compacted-${syncId}.c1z`));
    await out.saveTo(path);
    return { path, syncId, syncType, merged };
  } finally {
    out.close();
  }
}

/** Insert-or-replace every row of the input run whose external_id the output lacks or holds an older version of. */
function mergeRun(out: SyncStore, inputDb: string, inputSyncId: string, outputSyncId: string): void {
  const db = out.database;
  db.prepare("attach database ? as src").run(inputDb);
  try {
    out.transaction(() => {
      for (const table of COMPACTED_TABLES) {
        const columns = TABLES[table]!.map(([name]) => name).filter((c) => c !== "id" && c !== "sync_id");
        const updates = columns.filter((c) => c !== "external_id").map((c) => `${c} = excluded.${c}`);
        db.prepare(
          `insert into main.${table} (${columns.join(", ")}, sync_id)
           select ${columns.join(", ")}, ? from src.${table} where sync_id = ? order by id
           on conflict (external_id, sync_id) do update set ${updates.join(", ")} where excluded.discovered_at > ${table}.discovered_at`,
        ).run(outputSyncId, inputSyncId);
      }
    });
  } finally {
    db.exec("detach database src");
  }
}
