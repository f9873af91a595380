/**
 * Live sync progress on a terminal and the summary at the end of every sync.
 *
 * The engine reports `SyncProgressEvent`s through `onProgress`; on a TTY the reporter keeps one status line
 * at the bottom of stderr, redrawn at most 4 times a second (log lines are written above it); elsewhere it
 * draws nothing. `summary()` gives the final counts, requests and duration whatever the terminal.
 */
import type { StoreCounts } from "../store/store.ts";
import type { LineSink } from "../log/logger.ts";
import { formatCount, formatDuration, renderTable } from "./table.ts";

export interface ObjectCounts {
  resourceTypes: number;
  resources: number;
  entitlements: number;
  grants: number;
}

export interface TypeCounts {
  resources: number;
  entitlements: number;
  grants: number;
}

/**
 * What the engine reports (src/sync/engine.ts `SyncProgress` is one): running totals, each event overriding
 * the numbers it carries.
 */
export interface SyncProgressEvent {
  /** The current step, e.g. "resources", "entitlements", "grants", "expand". */
  step: string;
  resourceTypes?: number;
  resources?: number;
  entitlements?: number;
  grants?: number;
  expandedGrants?: number;
  /** Connector calls made by the engine. */
  calls?: number;
  /** Requests to the service (HTTP), when the reporter of the event knows them. */
  requests?: number;
  warnings?: number;
  syncId?: string;
}

/** Per-type totals as the c1z store counts them (`SyncStore.counts()`). */
export type StoreCountsLike = StoreCounts;

/**
 * What a sync handler may return (src/sync/engine.ts `SyncResult` is one); it completes or corrects what the
 * progress events said.
 */
export interface SyncResult {
  syncId?: string;
  file?: string;
  /** Final stored counts; gives the per-type table of the summary. */
  stats?: StoreCountsLike;
  warnings?: number | readonly string[];
  calls?: number;
  requests?: number;
}

export interface SyncSummary {
  syncId?: string;
  file?: string;
  durationMs: number;
  /** HTTP requests when known, else undefined. */
  requests?: number;
  /** Connector calls when known. */
  calls?: number;
  warnings: number;
  counts: ObjectCounts;
  byResourceType: Record<string, TypeCounts>;
}

export interface StatusStream extends LineSink {
  isTTY?: boolean;
  columns?: number;
}

const CLEAR_LINE = "\r\x1b[2K";

/**
 * The bottom status line of a terminal. Log output goes through `write`, which lifts the status line, writes
 * the log text and puts the status back, so the two never interleave. On a non-TTY it is a plain pass-through.
 */
export class TerminalStatus implements LineSink {
  readonly #out: StatusStream;
  readonly enabled: boolean;
  #line = "";

  constructor(out: StatusStream, enabled = out.isTTY === true) {
    this.#out = out;
    this.enabled = enabled;
  }

  write(text: string): void {
    if (!this.enabled || this.#line === "") {
      this.#out.write(text);
      return;
    }
    this.#out.write(CLEAR_LINE + text + this.#line);
  }

  show(line: string): void {
    if (!this.enabled) return;
    const width = Math.max(40, (this.#out.columns || 100) - 1);
    this.#line = [...line].length > width ? [...line].slice(0, width - 1).join("") + "…" : line;
    this.#out.write(CLEAR_LINE + this.#line);
  }

  clear(): void {
    if (!this.enabled || this.#line === "") return;
    this.#line = "";
    this.#out.write(CLEAR_LINE);
  }
}

export interface ProgressReporterOptions {
  /** Where the status line is drawn; nothing is drawn unless it is enabled (a TTY). */
  status: TerminalStatus;
  now?: () => number;
  /** Minimum time between two redraws. */
  minRedrawMs?: number;
}

function zeroCounts(): ObjectCounts {
  return { resourceTypes: 0, resources: 0, entitlements: 0, grants: 0 };
}

export class ProgressReporter {
  readonly #status: TerminalStatus;
  readonly #now: () => number;
  readonly #minRedrawMs: number;
  #startedAt: number | undefined;
  #step = "starting";
  #counts = zeroCounts();
  #calls: number | undefined;
  #requests: number | undefined;
  #requestSource: (() => number) | undefined;
  #warnings = 0;
  #syncId: string | undefined;
  #lastDraw = 0;
  #pending: ReturnType<typeof setTimeout> | undefined;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #running = false;

  constructor(options: ProgressReporterOptions) {
    this.#status = options.status;
    this.#now = options.now ?? (() => performance.now());
    this.#minRedrawMs = options.minRedrawMs ?? 250;
  }

  /** Starts the clock (and, on a TTY, the elapsed-time ticker). Called by the CLI before the sync handler runs. */
  start(): void {
    this.#startedAt ??= this.#now();
    this.#running = true;
    if (this.#status.enabled && this.#ticker === undefined) {
      this.#ticker = setInterval(() => this.#draw(), 1000);
      this.#ticker.unref();
    }
  }

  /** The engine's callback: pass `reporter.onProgress` as `onProgress`. */
  readonly onProgress = (event: SyncProgressEvent): void => {
    this.#startedAt ??= this.#now();
    this.#step = event.step || this.#step;
    const { resourceTypes, resources, entitlements, grants } = event;
    this.#counts = { ...this.#counts, ...definedOnly({ resourceTypes, resources, entitlements, grants }) };
    if (event.calls !== undefined) this.#calls = event.calls;
    if (event.requests !== undefined) this.#requests = event.requests;
    if (event.warnings !== undefined) this.#warnings = event.warnings;
    if (event.syncId !== undefined) this.#syncId = event.syncId;
    this.#scheduleDraw();
  };

  /** A live request counter (e.g. from the HTTP client), read whenever the line is drawn and at the end. */
  setRequestSource(source: () => number): void {
    this.#requestSource = source;
  }

  /** The status line as it is drawn now. */
  line(): string {
    const c = this.#counts;
    const parts = [
      `syncing ${this.#step}`,
      `${formatCount(c.resources)} resources`,
      `${formatCount(c.entitlements)} entitlements`,
      `${formatCount(c.grants)} grants`,
    ];
    const requests = this.#currentRequests();
    if (requests !== undefined) parts.push(`${formatCount(requests)} requests`);
    else if (this.#calls !== undefined) parts.push(`${formatCount(this.#calls)} calls`);
    parts.push(formatDuration(this.elapsedMs()));
    return parts.join(" · ");
  }

  elapsedMs(): number {
    return this.#startedAt === undefined ? 0 : this.#now() - this.#startedAt;
  }

  /** Stops drawing and removes the status line. Safe to call more than once. */
  stop(): void {
    this.#running = false;
    if (this.#pending !== undefined) clearTimeout(this.#pending);
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#pending = undefined;
    this.#ticker = undefined;
    this.#status.clear();
  }

  /** The final numbers: what progress reported, completed by what the sync handler returned. */
  summary(result: SyncResult = {}): SyncSummary {
    const byResourceType: Record<string, TypeCounts> = {};
    let counts = this.#counts;
    if (result.stats) {
      const st = result.stats;
      counts = { resourceTypes: st.resourceTypes, resources: st.resources, entitlements: st.entitlements, grants: st.grants };
      const types = new Set([...Object.keys(st.resourcesByType), ...Object.keys(st.entitlementsByType), ...Object.keys(st.grantsByType)]);
      for (const type of types) {
        byResourceType[type] = {
          resources: st.resourcesByType[type] ?? 0,
          entitlements: st.entitlementsByType[type] ?? 0,
          grants: st.grantsByType[type] ?? 0,
        };
      }
    }
    const warnings = result.warnings === undefined ? this.#warnings : typeof result.warnings === "number" ? result.warnings : result.warnings.length;
    return {
      syncId: result.syncId ?? this.#syncId,
      file: result.file,
      durationMs: this.elapsedMs(),
      requests: result.requests ?? this.#currentRequests(),
      calls: result.calls ?? this.#calls,
      warnings,
      counts: { ...counts },
      byResourceType,
    };
  }

  #currentRequests(): number | undefined {
    return this.#requestSource ? this.#requestSource() : this.#requests;
  }

  #scheduleDraw(): void {
    if (!this.#status.enabled || !this.#running) return;
    const wait = this.#lastDraw + this.#minRedrawMs - this.#now();
    if (wait <= 0) {
      this.#draw();
      return;
    }
    if (this.#pending !== undefined) return;
    this.#pending = setTimeout(() => {
      this.#pending = undefined;
      this.#draw();
    }, wait);
    this.#pending.unref();
  }

  #draw(): void {
    if (!this.#running) return;
    this.#lastDraw = this.#now();
    this.#status.show(this.line());
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The human summary printed at the end of every sync. */
export function formatSummary(s: SyncSummary): string {
  const head = [`Sync finished in ${formatDuration(s.durationMs)}`];
  if (s.requests !== undefined) head.push(`${formatCount(s.requests)} requests`);
  if (s.calls !== undefined) head.push(`${formatCount(s.calls)} connector calls`);
  if (s.warnings > 0) head.push(`${formatCount(s.warnings)} warnings`);
  let text = head.join(", ") + "\n";
  if (s.syncId) text += `Sync id: ${s.syncId}\n`;
  if (s.file) text += `File:    ${s.file}\n`;
  const types = Object.keys(s.byResourceType).sort();
  const rows: unknown[][] = types.map((t) => {
    const c = s.byResourceType[t]!;
    return [t, formatCount(c.resources), formatCount(c.entitlements), formatCount(c.grants)];
  });
  rows.push(["total", formatCount(s.counts.resources), formatCount(s.counts.entitlements), formatCount(s.counts.grants)]);
  text += renderTable(
    [
      { header: "RESOURCE TYPE" },
      { header: "RESOURCES", align: "right" },
      { header: "ENTITLEMENTS", align: "right" },
      { header: "GRANTS", align: "right" },
    ],
    rows,
  );
  return text;
}
