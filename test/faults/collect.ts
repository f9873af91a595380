/**
 * One place where every log line of the fault suite ends up: the loggers of in-process runs, and the stdout and
 * stderr of every child process (CLI syncs, service mode, the soak). The suite's last test scans it for every
 * secret the cases configured or obtained (API and application keys, client secrets and their key material,
 * access tokens, proofs) and for anything shaped like a credential.
 */
import type { ChildProcess } from "node:child_process";
import type { Logger } from "pino";
import { createLogger } from "../../src/log/index.ts";
import { containsSecret } from "../../src/log/secrets.ts";

export interface CollectedLine {
  source: string;
  line: string;
}

export interface SecretFinding {
  source: string;
  what: string;
  /** The offending line, with the secret itself cut out (the report must not leak it either). */
  excerpt: string;
}

/** Shapes that are credentials whatever their value: JWTs, bearer and delegated tokens, client secrets. */
const CREDENTIAL_SHAPES: { what: string; pattern: RegExp }[] = [
  { what: "a JWT (client assertion or token)", pattern: /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/ },
  { what: "a bearer token", pattern: /\bBearer\s+(?!\[REDACTED\])[A-Za-z0-9._~+/-]{16,}/i },
  { what: "a delegated-auth proof", pattern: /\bDelegated\s+(?!\[REDACTED\])[A-Za-z0-9+/=_-]{16,}/ },
  { what: "a client secret", pattern: /secret-token:[^:\s"]+:v1:[A-Za-z0-9_-]{16,}/ },
];

class LogCollector {
  readonly #lines: CollectedLine[] = [];
  readonly #secrets = new Map<string, string>();

  /** A JSON logger at debug level whose lines land here (secrets it knows are scrubbed, as in production). */
  logger(source: string): Logger {
    return createLogger({ level: "debug", format: "json", destination: { write: (line: string) => this.add(source, line) } });
  }

  add(source: string, text: string): void {
    for (const line of text.split("\n")) if (line.trim() !== "") this.#lines.push({ source, line });
  }

  /** Collects a child's stdout and stderr (whole lines, as they arrive). */
  attach(source: string, child: ChildProcess): void {
    for (const [name, stream] of [
      ["stdout", child.stdout],
      ["stderr", child.stderr],
    ] as const) {
      if (!stream) continue;
      let pending = "";
      stream.on("data", (chunk: Buffer) => {
        pending += chunk.toString("utf8");
        const end = pending.lastIndexOf("\n");
        if (end < 0) return;
        this.add(`${source} ${name}`, pending.slice(0, end));
        pending = pending.slice(end + 1);
      });
      stream.on("end", () => {
        if (pending) this.add(`${source} ${name}`, pending);
        pending = "";
      });
    }
  }

  /** A value that must never appear in any collected line; short values are refused (they would match anywhere). */
  secret(value: string | undefined, what: string): void {
    if (!value) return;
    if (value.length < 8) throw new Error(`collector: refusing to track a ${value.length}-character secret (${what}); use a longer test value`);
    this.#secrets.set(value, what);
  }

  get lineCount(): number {
    return this.#lines.length;
  }

  get secretCount(): number {
    return this.#secrets.size;
  }

  sources(): Set<string> {
    return new Set(this.#lines.map((l) => l.source.replace(/ (stdout|stderr)$/, "").replace(/#\d+$/, "")));
  }

  /** Every place a tracked secret (raw, JSON-escaped or URL-encoded), a registered secret or a credential shape appears. */
  scan(): SecretFinding[] {
    const forms: { form: string; what: string }[] = [];
    for (const [value, what] of this.#secrets) {
      for (const form of new Set([value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)])) forms.push({ form, what });
    }
    const findings: SecretFinding[] = [];
    for (const { source, line } of this.#lines) {
      for (const { form, what } of forms) {
        if (line.includes(form)) findings.push({ source, what, excerpt: line.split(form).join("<SECRET>").slice(0, 300) });
      }
      for (const { what, pattern } of CREDENTIAL_SHAPES) {
        if (pattern.test(line)) findings.push({ source, what, excerpt: line.replace(pattern, "<CREDENTIAL>").slice(0, 300) });
      }
      // Values production code registered in this process (tokens, proofs, rotated keys, config secrets).
      if (containsSecret(line)) findings.push({ source, what: "a value registered as secret in this process", excerpt: "(not shown)" });
    }
    return findings;
  }
}

export const collector = new LogCollector();
