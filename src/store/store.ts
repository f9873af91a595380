// SyncStore: one sync database (the SQLite inside a c1z) — writes during a sync, reads for resume, inspection
// and provisioning look-ups. During a sync the database is a real SQLite file in WAL mode in a private working
// directory beside the c1z (workdir.ts), so every committed transaction survives a SIGKILL and the next run
// resumes from it; `saveTo` turns it into the c1z file. One sync at a time holds that directory's lock.
//
// This class only puts the store's parts together; each concern is its own module, and none of them imports this
// one: database-files.ts (open, save and remove the files: the only caller of format.ts), connection.ts
// (statements, transactions, the closed/saving guard), run-log.ts (v1_sync_runs), object-writes.ts and
// object-reads.ts (the objects, encoded by codec.ts, scanned with sql.ts), write-buffer.ts (group commits of
// encoded rows), indexes.ts (index deferral).
import type { DatabaseSync } from "node:sqlite";
import type { Logger } from "pino";
import type { Entitlement } from "../gen/c1/connector/v2/entitlement_pb.js";
import type { Grant } from "../gen/c1/connector/v2/grant_pb.js";
import type { Resource, ResourceType } from "../gen/c1/connector/v2/resource_pb.js";
import { StoreConnection } from "./connection.ts";
import {
  createScratchDatabase,
  openReadOnlyCopy,
  openWorkingDatabase,
  releaseFiles,
  saveDatabase,
  type OpenForSyncOptions,
  type OpenReadOnlyOptions,
  type StoreFiles,
} from "./database-files.ts";
import type { WriteC1zOptions } from "./format.ts";
import { deferSecondaryIndexes, restoreIndexes } from "./indexes.ts";
import { ObjectReader } from "./object-reads.ts";
import { ObjectWriter } from "./object-writes.ts";
import type {
  EntitlementFilter,
  EntitlementRow,
  GrantFilter,
  GrantRow,
  PageOptions,
  ResourceFilter,
  ResourceRow,
  StoreCounts,
  SyncRunRow,
  SyncType,
  UnfinishedSync,
} from "./rows.ts";
import { RunLog } from "./run-log.ts";
import { WriteBuffer } from "./write-buffer.ts";
import { DEFAULT_KEEP_SYNC_COUNT } from "./runs.ts";

export { workingDatabasePath, type OpenForSyncOptions, type OpenReadOnlyOptions } from "./database-files.ts";
export { SYNC_TYPES } from "./rows.ts";
export type { WriteBuffer } from "./write-buffer.ts";
export type {
  EntitlementFilter,
  EntitlementRow,
  GrantFilter,
  GrantRow,
  PageOptions,
  ResourceFilter,
  ResourceRow,
  StoreCounts,
  SyncRunRow,
  SyncType,
  UnfinishedSync,
} from "./rows.ts";

/** How many finished full runs a file keeps (runs.ts has the whole rule); older ones are deleted when a run ends. */
export const KEEP_FINISHED_SYNCS = DEFAULT_KEEP_SYNC_COUNT;

export class SyncStore {
  readonly #files: StoreFiles;
  readonly #conn: StoreConnection;
  readonly #runs: RunLog;
  readonly #writer: ObjectWriter;
  readonly #reader: ObjectReader;
  readonly #logger: Logger | undefined;
  /** For a working database this open created: its #progressMark() then. */
  readonly #createdWith: string | undefined;

  private constructor(files: StoreFiles, logger: Logger | undefined) {
    this.#files = files;
    this.#conn = new StoreConnection(files.db);
    this.#runs = new RunLog(this.#conn, logger);
    this.#writer = new ObjectWriter(this.#conn);
    this.#reader = new ObjectReader(this.#conn);
    this.#logger = logger;
    this.#createdWith = files.mode === "sync" && !files.reopened ? this.#progressMark() : undefined;
  }

  /**
   * Opens the working database for a sync of `file`. An existing working database (left by a killed run) is
   * opened as is, which is what makes resume possible; otherwise the previous `file` is decompressed into it
   * (earlier syncs are kept, as Baton does); otherwise a fresh schema is created.
   */
  static async openForSync(file: string, options: OpenForSyncOptions = {}): Promise<SyncStore> {
    return new SyncStore(await openWorkingDatabase(file, options), options.logger);
  }

  /** Opens a c1z for reading: it is decompressed into a private temp file that close() deletes. */
  static async openReadOnly(file: string, options: OpenReadOnlyOptions = {}): Promise<SyncStore> {
    return new SyncStore(await openReadOnlyCopy(file, options), options.logger);
  }

  /** A new, empty database with Baton's schema in a private temp directory that close() (or saveTo) deletes. */
  static async createScratch(options: { logger?: Logger } = {}): Promise<SyncStore> {
    return new SyncStore(await createScratchDatabase(), options.logger);
  }

  /**
   * The connection itself, for the store's own modules (diff.ts, compact.ts) whose set-wise SQL the typed
   * methods do not cover. Not for other callers: they would bypass the schema rules kept here.
   */
  get database(): DatabaseSync {
    return this.#conn.db;
  }

  /** The SQLite file behind this store. */
  get databasePath(): string {
    return this.#files.dbPath;
  }

  get isOpen(): boolean {
    return this.#conn.isOpen;
  }

  /** Closes without writing a c1z. A sync's working database stays on disk for resume; a read-only copy is deleted. */
  close(): void {
    if (!this.#conn.isOpen) return;
    // A working database made by this open that no resource reached holds nothing to resume (--file still has
    // all it held): leave nothing behind, so the next run neither finds a leftover nor talks of resuming.
    const untouched = this.#createdWith !== undefined && this.#progressMark() === this.#createdWith;
    this.#conn.close();
    releaseFiles(this.#files, !untouched);
  }

  /**
   * Closes a sync store and deletes its working database and directory: for callers that decompressed --file
   * only to add a run of their own (refuseUnfinishedWork) and failed, so there is nothing to resume.
   */
  discardWork(): void {
    if (!this.#conn.isOpen || !this.#files.work) return this.close();
    this.#conn.close();
    releaseFiles(this.#files, false);
  }

  /** What a failed sync would lose if the working database went: resources written and runs finished. */
  #progressMark(): string {
    return `${this.#reader.lastResourceRowId()}/${this.#runs.finishedRunCount()}`;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Writes the database as the c1z `file` (database-files.ts has how). On success the store is closed and the
   * working database removed. On failure the error names `file` and the cause, the previous `file` is untouched,
   * and the store stays open with the same data.
   */
  async saveTo(file: string, options: WriteC1zOptions = {}): Promise<void> {
    this.#conn.assertOpen();
    if (this.#conn.inTransaction) throw new Error("saveTo: a transaction is still open");
    if (this.#files.mode === "sync") this.#runs.dropTenantRecords();
    const { inPlace } = await saveDatabase(this.#conn, this.#files, file, options);
    this.#logger?.debug({ file, inPlace }, "c1z store: saved");
    this.#conn.close();
    releaseFiles(this.#files, false);
  }

  /** Drops the non-unique indexes of the object tables while a sync writes (indexes.ts says why). */
  deferSecondaryIndexes(): void {
    deferSecondaryIndexes(this.#conn.db);
  }

  /** Creates every index of the schema that is missing. */
  restoreIndexes(): void {
    restoreIndexes(this.#conn.db);
  }

  /** Runs `fn` in one transaction (nested calls join the outer one). `fn` must be synchronous. */
  transaction<T>(fn: () => T): T {
    return this.#conn.transaction(fn);
  }

  // ---- sync runs (run-log.ts) -------------------------------------------------------------------------------

  /** The latest run that has not ended and started less than `maxAgeDays` ago (Baton resumes those). */
  unfinishedSync(maxAgeDays = 7): UnfinishedSync | undefined {
    return this.#runs.unfinishedSync(maxAgeDays);
  }
  /** Starts a run and returns its new KSUID sync id. */
  startSync(syncType: SyncType | string = "full", parentSyncId = ""): string {
    return this.#runs.startSync(syncType, parentSyncId);
  }
  /** Checkpoints the engine's own state (opaque text) into the run. */
  setSyncToken(syncId: string, token: string): void {
    this.#runs.setSyncToken(syncId, token);
  }
  /** Records which tenant a run is for (working database only; a save drops it). */
  setSyncTenant(syncId: string, tenant: string): void {
    this.#runs.setSyncTenant(syncId, tenant);
  }
  /** The tenant recorded for a run; undefined when none was. */
  syncTenant(syncId: string): string | undefined {
    return this.#runs.syncTenant(syncId);
  }
  /** Deletes a run and every row it wrote (an unfinished run that must not be resumed). */
  discardSync(syncId: string): void {
    this.#runs.discardSync(syncId);
  }
  /** Ends the run with its stats, then deletes runs older than the newest finished ones, with their rows. */
  endSync(syncId: string, stats: Record<string, unknown>): void {
    this.#runs.endSync(syncId, stats);
  }
  syncRuns(): SyncRunRow[] {
    return this.#runs.syncRuns();
  }
  getSyncRun(syncId: string): SyncRunRow | undefined {
    return this.#runs.getSyncRun(syncId);
  }
  latestFinishedSync(syncType?: SyncType | string): SyncRunRow | undefined {
    return this.#runs.latestFinishedSync(syncType);
  }

  // ---- writes (object-writes.ts) ----------------------------------------------------------------------------

  putResourceTypes(syncId: string, resourceTypes: readonly ResourceType[]): void {
    this.#writer.putResourceTypes(syncId, resourceTypes);
  }
  putResources(syncId: string, resources: readonly Resource[]): void {
    this.#writer.putResources(syncId, resources);
  }
  putEntitlements(syncId: string, entitlements: readonly Entitlement[]): void {
    this.#writer.putEntitlements(syncId, entitlements);
  }
  /** Stores grants; a GrantExpandable annotation is moved into `expansion` (needs_expansion when it names any). */
  putGrants(syncId: string, grants: readonly Grant[]): void {
    this.#writer.putGrants(syncId, grants);
  }
  /** Marks grants as expanded (needs_expansion = 0); their `expansion` stays for the record. */
  setGrantExpansionDone(syncId: string, grantIds: readonly string[]): void {
    this.#writer.setGrantExpansionDone(syncId, grantIds);
  }
  /** A buffer whose pages are encoded on arrival and written in group commits (write-buffer.ts says why). */
  createWriteBuffer(): WriteBuffer {
    return new WriteBuffer(this.#conn, this.#writer);
  }
  putAsset(syncId: string, externalId: string, contentType: string, data: Uint8Array): void {
    this.#writer.putAsset(syncId, externalId, contentType, data);
  }
  getAsset(syncId: string, externalId: string): { contentType: string; data: Uint8Array } | undefined {
    return this.#reader.getAsset(syncId, externalId);
  }

  // ---- connector session values (ctx.session's backend; v1_connector_sessions) -----------------------------

  putSessionValue(syncId: string, key: string, value: Uint8Array): void {
    this.#writer.putSessionValue(syncId, key, value);
  }
  getSessionValue(syncId: string, key: string): Uint8Array | undefined {
    return this.#reader.getSessionValue(syncId, key);
  }
  deleteSessionValue(syncId: string, key: string): void {
    this.#writer.deleteSessionValue(syncId, key);
  }

  // ---- reads (object-reads.ts) ------------------------------------------------------------------------------

  resourceTypes(syncId: string): ResourceType[] {
    return this.#reader.resourceTypes(syncId);
  }
  getResourceType(syncId: string, resourceTypeId: string): ResourceType | undefined {
    return this.#reader.getResourceType(syncId, resourceTypeId);
  }
  iterateResources(syncId: string, filter: ResourceFilter = {}): Generator<ResourceRow> {
    return this.#reader.iterateResources(syncId, filter);
  }
  /** The highest resource row id written so far (0 when none): rows appear in ascending id order. */
  lastResourceRowId(): number {
    return this.#reader.lastResourceRowId();
  }
  /** Grows with every write of resource rows through this store; unchanged means no resource was stored since. */
  get resourceWrites(): number {
    return this.#writer.resourceWrites;
  }
  getResource(syncId: string, resourceTypeId: string, resourceId: string): Resource | undefined {
    return this.#reader.getResource(syncId, resourceTypeId, resourceId);
  }
  iterateEntitlements(syncId: string, filter: EntitlementFilter = {}): Generator<EntitlementRow> {
    return this.#reader.iterateEntitlements(syncId, filter);
  }
  getEntitlement(syncId: string, entitlementId: string): Entitlement | undefined {
    return this.#reader.getEntitlement(syncId, entitlementId);
  }
  iterateGrants(syncId: string, filter: GrantFilter = {}): Generator<GrantRow> {
    return this.#reader.iterateGrants(syncId, filter);
  }
  getGrant(syncId: string, grantId: string): GrantRow | undefined {
    return this.#reader.getGrant(syncId, grantId);
  }
  /** Grants whose expansion is still to do (needs_expansion = 1), in row order. */
  grantsNeedingExpansion(syncId: string, page: PageOptions = {}): Generator<GrantRow> {
    return this.#reader.grantsNeedingExpansion(syncId, page);
  }
  counts(syncId: string): StoreCounts {
    return this.#reader.counts(syncId);
  }
}
