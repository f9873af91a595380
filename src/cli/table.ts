/**
 * Aligned text tables for console output. Column widths come from the first rows (a bounded sample), so a
 * table of a million grants streams instead of being held in memory; later, wider cells simply overflow.
 */

export type Align = "left" | "right";

export interface Column {
  header: string;
  align?: Align;
}

export interface TextSink {
  write(text: string): unknown;
}

const SAMPLE_ROWS = 500;
const MAX_WIDTH = 60;

function pad(text: string, width: number, align: Align): string {
  const gap = width - [...text].length;
  if (gap <= 0) return text;
  return align === "right" ? " ".repeat(gap) + text : text + " ".repeat(gap);
}

/** Cells are single-line: newlines and tabs would break the alignment. */
function clean(cell: unknown): string {
  if (cell === undefined || cell === null) return "";
  return String(cell).replace(/[\r\n\t]+/g, " ");
}

export class TableWriter {
  readonly #out: TextSink;
  readonly #columns: readonly Column[];
  #buffer: string[][] | undefined = [];
  #widths: number[] = [];
  #rows = 0;

  constructor(out: TextSink, columns: readonly Column[]) {
    this.#out = out;
    this.#columns = columns;
  }

  get rowCount(): number {
    return this.#rows;
  }

  add(cells: readonly unknown[]): void {
    this.#rows++;
    const row = this.#columns.map((_, i) => clean(cells[i]));
    if (this.#buffer !== undefined) {
      this.#buffer.push(row);
      if (this.#buffer.length >= SAMPLE_ROWS) this.#flushBuffer();
      return;
    }
    this.#writeRow(row);
  }

  /** Writes what is buffered (header included); call once at the end. */
  end(): void {
    if (this.#buffer !== undefined) this.#flushBuffer();
  }

  #flushBuffer(): void {
    const rows = this.#buffer ?? [];
    this.#buffer = undefined;
    this.#widths = this.#columns.map((c, i) =>
      Math.min(MAX_WIDTH, Math.max([...c.header].length, ...rows.map((r) => [...r[i]!].length))),
    );
    this.#writeRow(this.#columns.map((c) => c.header));
    for (const row of rows) this.#writeRow(row);
  }

  #writeRow(row: readonly string[]): void {
    const last = row.length - 1;
    const line = row
      .map((cell, i) => (i === last && (this.#columns[i]!.align ?? "left") === "left" ? cell : pad(cell, this.#widths[i]!, this.#columns[i]!.align ?? "left")))
      .join("  ");
    this.#out.write(line.trimEnd() + "\n");
  }
}

/** A whole table at once, for small ones (summaries, stats). */
export function renderTable(columns: readonly Column[], rows: readonly (readonly unknown[])[]): string {
  let text = "";
  const writer = new TableWriter({ write: (s: string) => (text += s) }, columns);
  for (const row of rows) writer.add(row);
  writer.end();
  return text;
}

/**
 * 12345 -> "12,345", the grouping of `toLocaleString("en-US")`, by hand: Intl's number formatting maps about 4 MB of
 * ICU's locale data into the process (measured on the node binary's pages), and the summary printed at the end of a
 * sync is where a sync's RSS peaks. Counts are integers; anything else is printed as String() prints it.
 */
export function formatCount(n: number): string {
  if (!Number.isSafeInteger(n)) return String(n);
  const digits = String(Math.abs(n));
  const head = digits.length % 3 || 3;
  let out = digits.slice(0, head);
  for (let i = head; i < digits.length; i += 3) out += "," + digits.slice(i, i + 3);
  return n < 0 ? "-" + out : out;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  const rest = Math.floor(seconds % 60);
  if (minutes < 60) return `${minutes}m${String(rest).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}
