/** Exit codes of every connector CLI: 0 done, 1 failed, 2 bad usage or config. */
export const ExitCode = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Wrong command line (unknown flag or command, missing value). Exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
