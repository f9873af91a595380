/**
 * Go's local operations on c1z files, chosen by SDK flags on the default command (PROTOCOL-2.md §2.2, §2.4):
 * `--diff-syncs` adds a partial run of additions to --file; `--compact-syncs` merges several files into a new one.
 * Neither calls the connector, so neither needs its config.
 */
import { resolve } from "node:path";
import { parseByteSize } from "../store/size.ts";
import type { SdkConfig } from "../config/sdk-fields.ts";
import type { BaseContext } from "./spec.ts";
import { UsageError } from "./errors.ts";

export type SyncFileOperation = "diff-syncs" | "compact-syncs";

export function syncFileOperation(sdk: SdkConfig): SyncFileOperation | undefined {
  if (sdk.diffSyncs && sdk.compactSyncs) throw new UsageError("--diff-syncs and --compact-syncs cannot be used together");
  if (sdk.diffSyncs) return "diff-syncs";
  if (sdk.compactSyncs) return "compact-syncs";
  return undefined;
}

export async function runSyncFileOperation(op: SyncFileOperation, ctx: BaseContext): Promise<void> {
  const { sdk, logger } = ctx;
  const maxDecodedBytes = parseByteSize(sdk.maxC1zDecodedSize);
  if (op === "diff-syncs") {
    const [{ SyncStore }, { generateSyncDiff }] = await Promise.all([import("../store/store.ts"), import("../store/diff.ts")]);
    // Through the sync's working directory and its lock: a sync of the same file cannot run meanwhile, and the
    // new run goes into the file the way a sync's would.
    const store = await SyncStore.openForSync(sdk.file, {
      logger,
      maxDecodedBytes,
      refuseUnfinishedWork: "--diff-syncs would save that unfinished run as it is",
    });
    let result;
    try {
      result = generateSyncDiff(store, sdk.baseSyncId!, sdk.appliedSyncId!);
      await store.saveTo(sdk.file);
    } catch (err) {
      // The working copy was decompressed for this run only: leaving it would look like a sync to resume.
      store.discardWork();
      throw err;
    }
    const counts = Object.entries(result.rows)
      .map(([table, n]) => `${n} ${table.replace(/^v1_/, "").replaceAll("_", " ")}`)
      .join(", ");
    ctx.io.stdout.write(`diff run ${result.syncId} (partial, parent ${sdk.baseSyncId}) added to ${sdk.file}: ${counts}\n`);
    logger.debug({ syncId: result.syncId, baseSyncId: sdk.baseSyncId, appliedSyncId: sdk.appliedSyncId, rows: result.rows }, "generated diff of syncs");
    return;
  }
  const files = sdk.compactFilePaths.map((p) => p.trim()).filter((p) => p !== "").map((p) => resolve(ctx.io.cwd, p));
  const syncIds = sdk.compactSyncIds.map((s) => s.trim()).filter((s) => s !== "");
  if (files.length !== syncIds.length) {
    throw new UsageError(
      `sync-compactor: must include exactly one syncID per file (--compact-file-paths has ${files.length}, --compact-sync-ids ${syncIds.length})`,
    );
  }
  if (files.length < 2) throw new UsageError(`sync-compactor: must provide two or more files to compact (--compact-file-paths has ${files.length})`);
  const [{ compactSyncFiles }, { expandGrants }] = await Promise.all([import("../store/compact.ts"), import("../sync/expand.ts")]);
  const result = await compactSyncFiles({
    files,
    syncIds,
    outputDir: resolve(ctx.io.cwd, sdk.compactOutputPath!),
    logger,
    maxDecodedBytes,
    expand: (store, syncId) => {
      const r = expandGrants(store, syncId, logger);
      logger.debug(r, "sync-compactor: grant expansion over the compacted run");
    },
  });
  ctx.io.stdout.write(`compacted ${result.merged.length} files into ${result.path} (sync ${result.syncId}, ${result.syncType})\n`);
  logger.debug({ path: result.path, syncId: result.syncId, syncType: result.syncType, merged: result.merged }, "compacted syncs");
}
