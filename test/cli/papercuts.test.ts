/**
 * Issue 17's papercuts, each through the real CLI (in-process runner, or the binary as a child process where the
 * process itself matters) against the Datadog simulator: the message a new user sees and the exit code.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { runConnectorCli } from "../../src/cli/index.ts";
import { datadogCli } from "../../connectors/datadog/main.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "papercuts-"));
  dirs.push(dir);
  return dir;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** The one-line reason ("baton-datadog: error: ..."), if any. */
  error: string | undefined;
}

/** The Datadog CLI in-process with a clean environment plus `env`. */
async function cli(argv: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        append(String(chunk));
        cb();
      },
    });
  const code = await runConnectorCli(
    datadogCli,
    argv,
    { stdout: sink((s) => (stdout += s)) as never, stderr: sink((s) => (stderr += s)) as never, env: options.env ?? {}, cwd: options.cwd ?? tempDir() },
    { handleSignals: false },
  );
  const error = stderr.split("\n").filter((l) => l.startsWith("baton-datadog: error:")).at(-1);
  return { code, stdout, stderr, error };
}

const BIN = join(import.meta.dirname, "../../bin/baton-datadog.js");

/** The real binary as a child process (clean environment plus `env`). */
function child(argv: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, ...argv], {
      cwd: options.cwd ?? tempDir(),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    proc.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    proc.on("error", reject);
    proc.on("close", (code) => {
      const error = stderr.split("\n").filter((l) => l.startsWith("baton-datadog: error:")).at(-1);
      resolve({ code: code ?? -1, stdout, stderr, error });
    });
  });
}

describe("papercuts: simulate", () => {
  it("the binary's simulate --help exits 0 with the flags, and a bad flag exits 2 in the CLI's error format", async () => {
    const help = await child(["simulate", "--help"]);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain("--rate-limit string");
    const bad = await child(["simulate", "--latency-ms", "-5"]);
    expect(bad.code).toBe(2);
    expect(bad.error).toBe('baton-datadog: error: --latency-ms: must be at least 0 (got "-5" from --latency-ms)');
  });

  it("simulate --help and help simulate list its flags (exit 0)", async () => {
    for (const argv of [["simulate", "--help"], ["help", "simulate"]]) {
      const run = await cli(argv);
      expect(run.code, argv.join(" ")).toBe(0);
      for (const flag of ["--port int", "--seed int", "--users int", "--schedules int", "--latency-ms int", "--rate-limit string"]) {
        expect(run.stdout, `${argv.join(" ")} lists ${flag}`).toContain(flag);
      }
    }
  });

  it("a bad simulate flag is reported like every other command's (exit 2)", async () => {
    const bad = await cli(["simulate", "--users", "lots"]);
    expect(bad.code).toBe(2);
    expect(bad.error).toBe('baton-datadog: error: --users: expected an integer (got "lots" from --users)');
    const rate = await cli(["simulate", "--rate-limit", "fast"]);
    expect(rate.code).toBe(2);
    expect(rate.error).toBe('baton-datadog: error: --rate-limit: must look like N/SECONDS with N >= 1 and SECONDS > 0, e.g. 100/10 (got "fast" from --rate-limit)');
    const unknown = await cli(["simulate", "--bogus"]);
    expect(unknown.code).toBe(2);
    expect(unknown.error).toMatch(/^baton-datadog: error: unknown flag --bogus for simulate/);
    const port = await cli(["simulate", "--port", "70000"]);
    expect(port.code).toBe(2);
    expect(port.error).toBe('baton-datadog: error: --port: must be at most 65535 (got "70000" from --port)');
  });
});
