/** Runs the fixture connector's CLI in-process or as a real child process, capturing its output. */
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { runConnectorCli } from "../../src/cli/index.ts";
import { fixtureSpec } from "./fixtures/connector.ts";
import { runProcess } from "../helpers/child-process.ts";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunInput {
  env?: Record<string, string | undefined>;
  cwd: string;
  stdoutTTY?: boolean;
  stderrTTY?: boolean;
}

export async function runInProcess(argv: string[], input: RunInput): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await runConnectorCli(
    fixtureSpec,
    argv,
    {
      stdout: { write: (s: string) => (stdout += s), isTTY: input.stdoutTTY ?? false },
      stderr: { write: (s: string) => (stderr += s), isTTY: input.stderrTTY ?? false, columns: 200 },
      env: input.env ?? {},
      cwd: input.cwd,
    },
    { handleSignals: false },
  );
  return { code, stdout, stderr };
}

const repo = resolve(import.meta.dirname, "../..");
const nodeBin = existsSync(join(repo, "node_modules/.bin/node")) ? join(repo, "node_modules/.bin/node") : process.execPath;
const entry = join(repo, "test/cli/fixtures/main.ts");

/** The fixture's CLI as a real process (with a clean environment plus `env`). */
export async function runChild(argv: string[], input: RunInput, onStdout?: (text: string, child: ChildProcess) => void): Promise<CliRun> {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...input.env };
  const run = await runProcess(nodeBin, [entry, ...argv], { cwd: input.cwd, env, onStdout });
  return { code: run.code ?? -1, stdout: run.stdout, stderr: run.stderr };
}
