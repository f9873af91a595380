/** Request counters for tests and the benchmark. */
export interface SimulatorStats {
  /** Every request received, matched or not. */
  requests: number;
  /** Requests by "METHOD /path/{template}" ("UNMATCHED" for unknown paths). */
  byOperation: Record<string, number>;
  /** Responses by HTTP status (faults included; reset connections count as 0). */
  byStatus: Record<number, number>;
  /** 429 answers, from rate limits and from faults. */
  http429: number;
  /** Requests being handled right now. */
  inFlight: number;
  /** The most requests ever in flight at once. */
  maxInFlight: number;
  /** "METHOD /path" of the latest requests (at most RECENT_REQUESTS), as received: what reached the API. */
  recent: string[];
}

export const RECENT_REQUESTS = 1000;

export function newStats(): SimulatorStats {
  return { requests: 0, byOperation: {}, byStatus: {}, http429: 0, inFlight: 0, maxInFlight: 0, recent: [] };
}

/** Zeroes the counters in place (callers may hold a reference to the object). */
export function resetStats(stats: SimulatorStats): void {
  stats.requests = 0;
  stats.byOperation = {};
  stats.byStatus = {};
  stats.http429 = 0;
  stats.maxInFlight = stats.inFlight;
  stats.recent = [];
}
