import { spawn, type ChildProcess } from "node:child_process";

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Collects a spawned child's stdout and stderr (piped) as text until it closes. */
export function collectOutput(child: ChildProcess, onStdout?: (stdoutSoFar: string, child: ChildProcess) => void): Promise<ChildRun> {
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    onStdout?.(stdout, child);
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * Runs `command args` with exactly `env` (nothing is inherited: pass PATH yourself when the child needs it), stdin
 * closed, and resolves with its output once it has exited.
 */
export function runProcess(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; onStdout?: (stdoutSoFar: string, child: ChildProcess) => void },
): Promise<ChildRun> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
  return collectOutput(child, options.onStdout);
}

/** The last `<cli>: error: …` line a CLI wrote to stderr, the one a user reads. */
export function lastCliError(stderr: string, cli = "baton-datadog"): string | undefined {
  return stderr
    .split("\n")
    .filter((line) => line.startsWith(`${cli}: error:`))
    .at(-1);
}
