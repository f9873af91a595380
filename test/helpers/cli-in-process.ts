/**
 * The Datadog CLI run in-process, as a user would run it but without a child process: argv, a clean environment
 * (only what the test passes), a working directory, and what it wrote to stdout and stderr. Signals are left to
 * the test runner.
 */
import { Writable } from "node:stream";
import { runConnectorCli } from "../../src/cli/index.ts";
import { datadogCli } from "../../connectors/datadog/main.ts";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The last one-line reason ("baton-datadog: error: ..."), if any. */
  error: string | undefined;
}

export async function runDatadogCliInProcess(argv: string[], options: { env?: Record<string, string>; cwd: string }): Promise<CliRun> {
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
    { stdout: sink((s) => (stdout += s)) as never, stderr: sink((s) => (stderr += s)) as never, env: options.env ?? {}, cwd: options.cwd },
    { handleSignals: false },
  );
  const error = stderr.split("\n").filter((l) => l.startsWith("baton-datadog: error:")).at(-1);
  return { code, stdout, stderr, error };
}
