/**
 * The fault matrix: each case records what it measured (completed identical to a clean run, or failed with
 * which message and exit code). With FAULTS_MATRIX_OUT=<path> the suite writes the table as Markdown there
 * (docs/fault-matrix.md is made that way); otherwise the records only feed the assertions.
 */
import { writeFileSync } from "node:fs";

export type Section = "Datadog API faults" | "Process faults" | "Service-mode faults" | "Hostile input" | "Trust" | "Secret hygiene" | "Soak";

export interface MatrixRow {
  section: Section;
  case: string;
  how: string;
  outcome: string;
  /** Exit code of the CLI, when the case ran one. */
  exitCode?: number;
  /** The one-line error the case ended with, when it failed on purpose. */
  message?: string;
  /** Position within its section (cases that run concurrently finish in any order). */
  rank?: number;
}

const rows: MatrixRow[] = [];

export function record(row: MatrixRow): void {
  rows.push(row);
}

export function matrixRows(): readonly MatrixRow[] {
  return rows;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");

/** Random parts of a message (ports, temp dirs, ids) replaced, so the table is stable from run to run. */
export function stable(message: string): string {
  return message
    .replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:PORT")
    .replace(/\/tmp\/[^\s:'"]+/g, (p) => `TMP/${p.split("/").pop()}`)
    .replace(/\b[0-9A-Za-z]{27}\b(?=[^A-Za-z0-9]|$)/g, "KSUID");
}

export function renderMatrix(heading: string, notes: string[]): string {
  const sections: Section[] = ["Datadog API faults", "Process faults", "Service-mode faults", "Hostile input", "Trust", "Secret hygiene", "Soak"];
  let out = `# Fault matrix\n\n${heading}\n\n`;
  for (const note of notes) out += `${note}\n`;
  if (notes.length) out += "\n";
  for (const section of sections) {
    const inSection = rows
      .map((r, i) => ({ r, i }))
      .filter(({ r }) => r.section === section)
      .sort((a, b) => (a.r.rank ?? a.i) - (b.r.rank ?? b.i) || a.i - b.i)
      .map(({ r }) => r);
    if (!inSection.length) continue;
    out += `## ${section}\n\n| Case | How it is driven | Measured outcome | Exit | Message |\n|---|---|---|---|---|\n`;
    for (const r of inSection) {
      out += `| ${cell(r.case)} | ${cell(r.how)} | ${cell(r.outcome)} | ${r.exitCode ?? ""} | ${r.message ? "`" + cell(stable(r.message)).replace(/`/g, "'") + "`" : ""} |\n`;
    }
    out += "\n";
  }
  return out;
}

export function writeMatrixIfAsked(heading: string, notes: string[]): string | undefined {
  const path = process.env.FAULTS_MATRIX_OUT;
  if (!path) return undefined;
  writeFileSync(path, renderMatrix(heading, notes));
  return path;
}
