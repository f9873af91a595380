/**
 * The just-in-time part of `npm run bench`: a grant makes a team 50 members strong, then a targeted sync of that
 * team (a partial run under the file's full run) confirms it. Measured at the bench's latency and rate limits:
 *   warm: the connector that did the full sync and the grant (service and hosted mode keep one connector), and
 *   cold: a connector built for this one sync (the one-shot CLI), whose Validate runs the full diagnosis.
 * Round trips are the longest chain of requests each of which started after the previous one ended.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { createConnectorService } from "../../../src/index.ts";
import type { HttpRequest, HttpResponse } from "../../../src/index.ts";
import { SyncStore } from "../../../src/index.ts";
import { runSync } from "../../../src/index.ts";
import { resolveConfig } from "../../../src/index.ts";
import { buildDatadog, type BuiltDatadog } from "../build.ts";
import { datadogConfig } from "../config.ts";
import { startSimulator } from "../simulator/index.ts";

export interface TargetedMeasurement {
  requests: number;
  roundTrips: number;
  wallMs: number;
  members: number;
  syncType: string;
  hasParent: boolean;
}

const TEAM_SIZE = 50;

/** Records the start and end of every request the client sends. */
function timeRequests(built: BuiltDatadog): Array<{ start: number; end: number }> {
  const spans: Array<{ start: number; end: number }> = [];
  const http = built.client.http;
  const send = http.request.bind(http);
  http.request = async (req: HttpRequest): Promise<HttpResponse> => {
    const span = { start: performance.now(), end: Number.POSITIVE_INFINITY };
    spans.push(span);
    try {
      return await send(req);
    } finally {
      span.end = performance.now();
    }
  };
  return spans;
}

function roundTrips(spans: ReadonlyArray<{ start: number; end: number }>): number {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  const depth: number[] = [];
  sorted.forEach((s, i) => {
    let d = 1;
    for (let j = 0; j < i; j++) if (sorted[j]!.end <= s.start) d = Math.max(d, depth[j]! + 1);
    depth[i] = d;
  });
  return Math.max(0, ...depth);
}

export async function measureTargeted(options: { latencyMs: number; rateLimit: { limit: number; periodSeconds: number } }): Promise<{ warm: TargetedMeasurement; cold: TargetedMeasurement }> {
  const sim = await startSimulator({
    seed: 11,
    counts: { users: 300, teams: 20, roles: 10, schedules: 10, apiKeys: 20, appKeys: 10, serviceAccounts: 5 },
    latencyMs: options.latencyMs,
    rateLimit: options.rateLimit,
  });
  const dir = mkdtempSync(join(tmpdir(), "baton-datadog-bench-targeted-"));
  const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? "warn" }, pino.destination(2));
  // Through the SDK's resolver, as the CLI does: fields the bench does not name take their declared defaults.
  const overrides = { apiKey: sim.apiKey, appKey: sim.appKey, baseUrl: sim.baseUrl, syncSchedules: true, syncSecrets: true };
  const config = resolveConfig(datadogConfig, { overrides }, { cliOnly: true }).values;
  const builds: BuiltDatadog[] = [];
  try {
    const built = await buildDatadog(config, logger);
    builds.push(built);
    const rpc = createConnectorService(built.connector, { logger, provisioning: true });
    const file = join(dir, "jit.c1z");
    const full = await runSync({ connector: rpc, file, logger });

    // A team one member short of 50, then the grant that makes it 50.
    const team = sim.org.teams.values()[0]!;
    const outside = sim.org.users.values().filter((u) => !team.members.has(u.id) && !u.disabled && !u.serviceAccount);
    for (const u of outside) {
      if (team.members.size >= TEAM_SIZE - 1) break;
      sim.org.addTeamMember(team.id, u.id, null);
    }
    while (team.members.size > TEAM_SIZE - 1) sim.org.removeTeamMember(team.id, team.members.values().at(-1)!.user.id);
    const newcomer = sim.org.users.values().find((u) => !team.members.has(u.id) && !u.disabled && !u.serviceAccount)!;
    const store = await SyncStore.openReadOnly(file);
    const [entitlement, principal] = [store.getEntitlement(full.syncId, `team:${team.id}:member`), store.getResource(full.syncId, "user", newcomer.id)];
    store.close();
    await rpc.grant({ entitlement: entitlement!, principal: principal! });

    const measure = async (b: BuiltDatadog, connector: typeof rpc, target: string): Promise<TargetedMeasurement> => {
      const spans = timeRequests(b);
      sim.resetStats();
      const started = performance.now();
      const result = await runSync({ connector, file: target, logger, targetedResources: [{ resourceType: "team", resource: team.id }] });
      const wallMs = performance.now() - started;
      const read = await SyncStore.openReadOnly(target);
      const members = [...read.iterateGrants(result.syncId, { entitlementId: `team:${team.id}:member` })].length;
      read.close();
      if (process.env.BENCH_DEBUG) process.stderr.write(JSON.stringify(sim.stats.byOperation) + "\n");
      return { requests: sim.stats.requests, roundTrips: roundTrips(spans), wallMs, members, syncType: result.syncType, hasParent: result.parentSyncId === full.syncId };
    };
    const warm = await measure(built, rpc, file);

    const coldBuilt = await buildDatadog(config, logger);
    builds.push(coldBuilt);
    const cold = await measure(coldBuilt, createConnectorService(coldBuilt.connector, { logger, provisioning: false }), file);
    if (warm.members !== TEAM_SIZE || cold.members !== TEAM_SIZE) throw new Error(`targeted bench: expected ${TEAM_SIZE} members, got ${warm.members} / ${cold.members}`);
    return { warm, cold };
  } finally {
    for (const b of builds) await b.close();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
