/**
 * `baton-datadog simulate`: starts the simulator, prints one JSON line {"baseUrl","apiKey","appKey"} first on
 * stdout (the only place the generated keys ever appear), then serves until SIGINT or SIGTERM.
 *
 * Its flags are declared like every other command's, so the SDK runner parses them, lists them in
 * `simulate --help` and `help simulate`, and reports bad values in the one error format of the CLI.
 */
import { z } from "zod";
import { UsageError } from "../../../src/runner.ts";
import type { OutStream } from "../../../src/runner.ts";
import { field, type ValuesOf } from "../../../src/runner.ts";
import type { SimulatorOptions } from "./index.ts";
import { DEFAULT_COUNTS, parseRateLimit } from "./settings.ts";

const rateLimitText = field.string({
  description: "The same fixed-window limit for every named limit, as N/SECONDS (e.g. 100/10); 429 beyond it",
  schema: z.string().superRefine((text, ctx) => {
    try {
      parseRateLimit(text);
    } catch {
      ctx.addIssue({ code: "custom", message: "must look like N/SECONDS with N >= 1 and SECONDS > 0, e.g. 100/10" });
    }
  }),
});

const count = (what: string, fallback: string) =>
  field.int({ description: `${what} in the simulated org (default ${fallback})`, min: 0 });

/** The simulator's flags (command line only). Counts left unset take the simulator's defaults. */
export const SIMULATE_FLAGS = {
  port: field.int({ description: "Port to listen on (0 picks a free one)", default: 0, min: 0, max: 65535 }),
  host: field.string({ description: "Address to listen on", default: "127.0.0.1" }),
  seed: field.int({ description: "Seed of the generated org (same seed, same org)", default: 1, min: 0 }),
  users: count("Users", String(DEFAULT_COUNTS.users)),
  teams: count("Teams", String(DEFAULT_COUNTS.teams)),
  roles: count("Roles", String(DEFAULT_COUNTS.roles)),
  schedules: count("On-call schedules", String(DEFAULT_COUNTS.schedules)),
  apiKeys: count("API keys", String(DEFAULT_COUNTS.apiKeys)),
  appKeys: count("Application keys", String(DEFAULT_COUNTS.appKeys)),
  serviceAccounts: count("Service accounts (among the users)", `${DEFAULT_COUNTS.serviceAccounts}, at most a tenth of the users`),
  authnMappings: count("SAML AuthN mappings (half to roles, half to teams)", String(DEFAULT_COUNTS.authnMappings)),
  latencyMs: field.int({ description: "Delay before every answer, in milliseconds", default: 0, min: 0, max: 600_000 }),
  rateLimit: rateLimitText,
};

export type SimulateValues = ValuesOf<typeof SIMULATE_FLAGS>;

/** The simulator options for resolved (validated) flag values. */
export function simulatorOptions(values: SimulateValues): SimulatorOptions {
  const options: SimulatorOptions = {
    port: values.port,
    host: values.host,
    seed: values.seed,
    latencyMs: values.latencyMs,
    counts: {
      users: values.users,
      teams: values.teams,
      roles: values.roles,
      schedules: values.schedules,
      apiKeys: values.apiKeys,
      appKeys: values.appKeys,
      serviceAccounts: values.serviceAccounts,
      authnMappings: values.authnMappings,
    },
  };
  if (values.rateLimit !== undefined) options.rateLimit = parseRateLimit(values.rateLimit);
  return options;
}

/** Serves until `signal` aborts; the first stdout line is the JSON connection info. */
export async function serveSimulator(options: SimulatorOptions, stdout: OutStream, signal: AbortSignal): Promise<void> {
  // The simulator's server loads when it starts: the flags above are all that `--help` needs.
  const { startSimulator } = await import("./index.ts");
  let sim;
  try {
    sim = await startSimulator(options);
  } catch (error) {
    // The org generator's range checks (counts too large, more service accounts than users) are bad input.
    if (error instanceof RangeError) throw new UsageError(`simulate: ${error.message}`);
    throw error;
  }
  try {
    stdout.write(`${JSON.stringify({ baseUrl: sim.baseUrl, apiKey: sim.apiKey, appKey: sim.appKey })}\n`);
    await new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
  } finally {
    await sim.close();
  }
}
