/**
 * The simulator's settings that a command line names: the default org counts and the rate-limit text. Its own
 * module, free of the generator and the server, because the CLI declares `simulate`'s flags (and their help) from
 * these at every start: importing generate.ts for them loaded the whole org model and node:crypto into
 * `--help` and every sync.
 */
import type { OrgCounts } from "./generate.ts";

/** A small org for the demo and quick tests. */
export const DEFAULT_COUNTS: Readonly<OrgCounts> = {
  users: 200,
  teams: 20,
  roles: 10,
  schedules: 8,
  apiKeys: 25,
  appKeys: 15,
  serviceAccounts: 6,
  authnMappings: 0,
};

/** A fixed window of `limit` requests per `periodSeconds`. */
export interface RateLimitConfig {
  limit: number;
  periodSeconds: number;
}

export function parseRateLimit(text: string): RateLimitConfig {
  const match = /^(\d+)\/(\d+(?:\.\d+)?)$/.exec(text.trim());
  const config = match ? { limit: Number(match[1]), periodSeconds: Number(match[2]) } : null;
  if (!config || config.limit < 1 || !(config.periodSeconds > 0)) {
    throw new RangeError(`rate limit must look like N/SECONDS with N >= 1 and SECONDS > 0 (e.g. 100/10), got "${text}"`);
  }
  return config;
}
