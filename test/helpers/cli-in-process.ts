/**
 * The Datadog CLI run in-process, as a user would run it but without a child process: argv, a clean environment
 * (only what the test passes), a working directory, and what it wrote to stdout and stderr. Signals are left to
 * the test runner.
 */
import { Writable } from "node:stream";
import { runConnectorCli } from "../../src/cli/index.ts";
import { datadogCli } from "../../connectors/datadog/main.ts";
import { lastCliError } from "./child-process.ts";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The last one-line reason ("baton-datadog: error: ..."), if any. */
  error: string | undefined;
}

/** Any connector's CLI (`spec`) in-process: argv, exactly `env`, `cwd`; what it wrote to stdout and stderr. */
export async function runCliInProcess(
  spec: Parameters<typeof runConnectorCli>[0],
  argv: string[],
  options: { env?: Record<string, string>; cwd: string; cli?: string },
): Promise<CliRun> {
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
    spec,
    argv,
    { stdout: sink((s) => (stdout += s)) as never, stderr: sink((s) => (stderr += s)) as never, env: options.env ?? {}, cwd: options.cwd },
    { handleSignals: false },
  );
  return { code, stdout, stderr, error: lastCliError(stderr, options.cli) };
}

export function runDatadogCliInProcess(argv: string[], options: { env?: Record<string, string>; cwd: string }): Promise<CliRun> {
  return runCliInProcess(datadogCli, argv, options);
}
