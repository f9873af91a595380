/**
 * `baton-datadog simulate`: starts the simulator, prints one JSON line {"baseUrl","apiKey","appKey"} first on
 * stdout (the only place the generated keys ever appear), then serves until SIGINT or SIGTERM.
 */
import { parseArgs } from "node:util";
import { startSimulator, type SimulatorOptions } from "./index.ts";
import { parseRateLimit } from "./rate-limit.ts";

export const SIMULATE_USAGE = `Usage: baton-datadog simulate [--port N] [--host H] [--seed S] [--users N] [--teams N] [--roles N]
       [--schedules N] [--api-keys N] [--app-keys N] [--service-accounts N] [--latency-ms N] [--rate-limit N/SECONDS]`;

/** Bad command-line input; the caller prints the message with the usage and exits 2. */
export class SimulateUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SimulateUsageError";
  }
}

const INTEGER_FLAGS = {
  port: "port",
  seed: "seed",
  users: "users",
  teams: "teams",
  roles: "roles",
  schedules: "schedules",
  "api-keys": "apiKeys",
  "app-keys": "appKeys",
  "service-accounts": "serviceAccounts",
  "latency-ms": "latencyMs",
} as const;

function integer(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new SimulateUsageError(`--${flag} must be a whole number >= 0, got "${raw}"`);
  return Number(raw);
}

export function parseSimulateArgs(argv: readonly string[]): SimulatorOptions {
  let values: Record<string, string | undefined>;
  try {
    const parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(Object.keys(INTEGER_FLAGS).map((flag) => [flag, { type: "string" as const }])),
        host: { type: "string" },
        "rate-limit": { type: "string" },
      },
    });
    values = parsed.values as Record<string, string | undefined>;
  } catch (error) {
    throw new SimulateUsageError(error instanceof Error ? error.message : String(error));
  }
  const n = Object.fromEntries(
    Object.entries(INTEGER_FLAGS).map(([flag, key]) => [key, integer(flag, values[flag])]),
  ) as Record<(typeof INTEGER_FLAGS)[keyof typeof INTEGER_FLAGS], number | undefined>;
  if (n.port !== undefined && n.port > 65535) throw new SimulateUsageError(`--port must be at most 65535, got ${n.port}`);
  const options: SimulatorOptions = {
    port: n.port ?? 0,
    host: values.host ?? "127.0.0.1",
    seed: n.seed,
    latencyMs: n.latencyMs,
    counts: {
      users: n.users,
      teams: n.teams,
      roles: n.roles,
      schedules: n.schedules,
      apiKeys: n.apiKeys,
      appKeys: n.appKeys,
      serviceAccounts: n.serviceAccounts,
    },
  };
  if (values["rate-limit"] !== undefined) {
    try {
      options.rateLimit = parseRateLimit(values["rate-limit"]);
    } catch (error) {
      throw new SimulateUsageError(`--rate-limit: ${(error as Error).message}`);
    }
  }
  return options;
}

export async function runSimulateCommand(argv: string[]): Promise<void> {
  const options = parseSimulateArgs(argv);
  let sim;
  try {
    sim = await startSimulator(options);
  } catch (error) {
    if (error instanceof RangeError) throw new SimulateUsageError(error.message);
    throw error;
  }
  process.stdout.write(`${JSON.stringify({ baseUrl: sim.baseUrl, apiKey: sim.apiKey, appKey: sim.appKey })}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await sim.close();
}
