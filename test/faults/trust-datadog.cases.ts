/**
 * Trust (datadog): cases of issue 12 for this area. Each case reproduces one defect against the real parts on loopback
 * and records its measured outcome in the "Trust" section of the fault matrix (record({ section: "Trust", … })).
 *
 *   2. a page total can exhaust memory: the simulator misstates every total of the user listing (10^11, and 1);
 *      the real CLI syncs; its peak RSS (VmHWM, polled) and wall time are measured.
 *   7. schema-valid answers the connector does not need: a server answering every request with random data valid
 *      under Datadog's spec (test/contract/random-answers.ts), several seeds, a full sync with schedules and secrets.
 *   9. ids reach URL paths unchecked: Grant, Revoke and Delete over gRPC with ids like `..`; the simulator counts
 *      the requests that reached it.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { Code, ConnectorError } from "../../src/connector/errors.ts";
import { EntitlementSchema, type Entitlement } from "../../src/gen/c1/connector/v2/entitlement_pb.js";
import { GrantSchema } from "../../src/gen/c1/connector/v2/grant_pb.js";
import { ResourceSchema, type Resource } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { connectorClient } from "../../src/grpc/connector-client.ts";
import { serveConnector } from "../../src/grpc/connector-server.ts";
import { MAX_PLAUSIBLE_TOTAL } from "../../connectors/datadog/resources/paging.ts";
import { c1zRows } from "../helpers/c1z-rows.ts";
import { loadSpec } from "../contract/openapi.ts";
import { startRandomAnswers } from "../contract/random-answers.ts";
import { collector } from "./collect.ts";
import { record, stable } from "./matrix.ts";
import { builtDatadog, cleanSync, fileUntouched, onCleanup, rowsOf, snapshot, startCli, startSim, syncArgs, tempDir } from "./support.ts";

const MB = 1024 * 1024;
const codeName = (code: number | undefined) => Object.entries(Code).find(([, v]) => v === code)?.[0] ?? String(code);

/** Peak RSS of a running process (VmHWM), polled until it exits; 0 when /proc is not there. */
function watchPeakRss(pid: number): { stop(): number } {
  let peak = 0;
  const read = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      // the process has exited
    }
  };
  const timer = setInterval(read, 25);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

/** A previous c1z at `file` (a clean sync's bytes), so that a failing case can show the file is untouched. */
async function withPreviousFile(dir: string): Promise<{ file: string; before: Buffer | undefined }> {
  const file = join(dir, "sync.c1z");
  writeFileSync(file, (await cleanSync()).bytes);
  return { file, before: snapshot(file) };
}

async function failure(p: Promise<unknown>): Promise<ConnectorError | Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected the call to fail");
}

/** Listings whose entries become resources one for one: operation, path, resource type. */
const LISTINGS: [string, string, string][] = [
  ["ListUsers", "/api/v2/users", "user"],
  ["ListRoles", "/api/v2/roles", "role"],
  ["ListTeams", "/api/v2/team", "team"],
  ["ListAPIKeys", "/api/v2/api_keys", "api-key"],
  ["ListApplicationKeys", "/api/v2/application_keys", "application-key"],
];

export function trustDatadogCases(): void {
  describe("Trust: datadog", () => {
    it("defect 2: a misstated page total (10^11 and 1) costs neither memory nor items: a clear error, or a correct completion", async () => {
      const runs: string[] = [];
      for (const { total, label } of [
        { total: 100_000_000_000, label: "overstated" },
        { total: 1, label: "understated" },
      ]) {
        const sim = await startSim();
        sim.injectFaults([{ kind: "total", total, match: { method: "GET", pathPrefix: "/api/v2/users" } }]);
        const dir = tempDir(`total-${label}`);
        const { file, before } = await withPreviousFile(dir);
        const started = Date.now();
        const run = startCli(syncArgs(sim, file), { source: `trust: total ${label}` });
        const rss = watchPeakRss(run.pid);
        const result = await run.done;
        const peak = rss.stop();
        const ms = Date.now() - started;
        const users = sim.stats.byOperation["GET /api/v2/users"] ?? 0;
        if (label === "overstated") {
          // Before the fix: ~10^9 page tokens announced, "JavaScript heap out of memory" after ~40 s at ~4.8 GB.
          expect(result.code, result.stderr.slice(-2000)).toBe(1);
          expect(result.error).toMatch(
            /users: the API announced a total of 100000000000 items but the listing ended at page 2 \(50 items on it\): its total and its content disagree/,
          );
          expect(result.stderr).not.toMatch(/heap out of memory/);
          expect(fileUntouched(file, before)).toBe(true);
          record({
            section: "Trust",
            case: "a page total of 10^11 (defect 2)",
            how: "simulator fault `total` 100000000000 on every user listing answer (250 users, 3 pages); `baton-datadog` sync as a child, VmHWM polled",
            outcome:
              `failed after the 3 real pages, paged one at a time (${users} user listing requests), no crash; peak RSS ${(peak / MB).toFixed(0)} MB, ` +
              `${(ms / 1000).toFixed(1)} s (before: heap out of memory after ~40 s at ~4.8 GB); previous file byte-identical`,
            exitCode: result.code ?? undefined,
            message: stable(result.error!.replace(/^baton-datadog: error: /, "")),
          });
          runs.push(`overstated: exit ${result.code}, ${(peak / MB).toFixed(0)} MB, ${ms} ms`);
        } else {
          // Before the fix: the first full page "reached" the total of 1, paging stopped, 150 of 250 users were lost.
          expect(result.code, result.stderr.slice(-2000)).toBe(0);
          expect(await rowsOf(file)).toEqual((await cleanSync()).rows);
          record({
            section: "Trust",
            case: "a page total of 1 for 250 users (defect 2)",
            how: "simulator fault `total` 1 on every user listing answer; `baton-datadog` sync as a child, VmHWM polled",
            outcome:
              `completed, rows identical to a clean sync (full pages past the total are followed: ${users} user listing requests); ` +
              `peak RSS ${(peak / MB).toFixed(0)} MB, ${(ms / 1000).toFixed(1)} s`,
            exitCode: 0,
          });
          runs.push(`understated: exit 0, ${(peak / MB).toFixed(0)} MB, ${ms} ms`);
        }
      }
      console.log(`defect 2: ${runs.join("; ")}`);
    });

    it("defect 7: a full sync against random answers valid under Datadog's spec completes, skipping and counting what it cannot use", async () => {
      const spec = await loadSpec();
      // Seeds whose syncs go deep: all four reach team memberships, a role's members and escalation policies; 98 and
      // 155 and 166 also on-call schedules found through them.
      const seeds = [5, 7, 55, 73, 98, 155, 166];
      const reached: Record<string, number> = {};
      const outcomes: string[] = [];
      let totalSkipped = 0;
      let requests = 0;
      let servedInAll = 0;
      let skippedInListings = 0;
      for (const seed of seeds) {
        const server = await startRandomAnswers({ spec, seed, maxTotal: MAX_PLAUSIBLE_TOTAL });
        onCleanup(() => server.close());
        const apiKey = `random-answers-api-key-${seed}-0123456789`;
        const appKey = `random-answers-app-key-${seed}-0123456789abcdef`;
        collector.secret(apiKey, "random answers API key");
        collector.secret(appKey, "random answers application key");
        const file = join(tempDir(`random-${seed}`), "sync.c1z");
        const args = ["--api-key", apiKey, "--app-key", appKey, "--base-url", server.baseUrl, "--sync-schedules", "--sync-secrets", "-f", file];
        const result = await startCli(args, { source: `trust: random answers seed ${seed}` }).done;
        expect(result.code, `seed ${seed}: ${result.error ?? result.stderr.slice(-1500)}`).toBe(0);
        // Every answer was valid under the spec (drawn again until it was), and every request was a documented one.
        expect(server.stats.invalid, server.stats.invalidExamples.join("\n")).toBe(0);
        expect(server.stats.undocumented).toEqual([]);

        // One warning per answer that had entries to skip; each listing answer warns once however often it was read.
        const warnings = new Map<string, { operation: string; skipped: number; droppedRefs: number }>();
        for (const line of `${result.stdout}\n${result.stderr}`.split("\n")) {
          if (!line.startsWith("{")) continue;
          const entry = JSON.parse(line) as { level?: unknown; operation?: string; listing?: string; skipped?: number; droppedRefs?: number };
          if (typeof entry.skipped === "number" && entry.listing) {
            warnings.set(`${entry.operation} ${entry.listing}`, { operation: entry.operation!, skipped: entry.skipped, droppedRefs: entry.droppedRefs ?? 0 });
          }
        }
        const skipped = [...warnings.values()].reduce((n, w) => n + w.skipped, 0);
        totalSkipped += skipped;
        requests += server.stats.requests;
        for (const [op, n] of Object.entries(server.stats.byOperation)) reached[op] = (reached[op] ?? 0) + n;

        // The count is right: the objects of each listed type in the file are the entries served, less those the
        // warnings say were skipped.
        const { rows } = await c1zRows(file);
        const counts: string[] = [];
        for (const [operation, path, type] of LISTINGS) {
          const servedKey = new RegExp(`^GET ${path.replace(/\//g, "\\/")}\\?page%5Bnumber%5D=\\d+&page%5Bsize%5D=100$`);
          const served = [...server.stats.dataEntries].filter(([key]) => servedKey.test(key)).reduce((n, [, count]) => n + count, 0);
          const skippedHere = [...warnings.values()].filter((w) => w.operation === operation).reduce((n, w) => n + w.skipped, 0);
          const stored = rows.filter((r) => r.startsWith(`r|${type}:`)).length;
          expect(stored, `seed ${seed}, ${type}: stored = served - skipped`).toBe(served - skippedHere);
          servedInAll += served;
          skippedInListings += skippedHere;
          counts.push(`${type} ${served}/${skippedHere}/${stored}`);
        }
        outcomes.push(
          `seed ${seed}: ${server.stats.requests} requests over ${Object.keys(server.stats.byOperation).length} operations, ` +
            `${rows.length} rows, ${skipped} entries skipped in ${warnings.size} warnings (served/skipped/stored: ${counts.join(", ")})`,
        );
      }
      // Random answers this adversarial always carry entries the connector cannot use; the syncs reached every
      // kind of object the connector reads, down to on-call schedules found through policies.
      expect(totalSkipped).toBeGreaterThan(0);
      expect(skippedInListings).toBeGreaterThan(0);
      expect(servedInAll).toBeGreaterThan(skippedInListings);
      for (const op of ["GET /api/v2/team/{team_id}/memberships", "GET /api/v2/roles/{role_id}/users", "GET /api/v2/on-call/escalation-policies/{policy_id}", "GET /api/v2/on-call/schedules/{schedule_id}"]) {
        expect(reached[op] ?? 0, op).toBeGreaterThan(0);
      }
      record({
        section: "Trust",
        case: "random answers valid under Datadog's spec (defect 7)",
        how:
          `a loopback server answering every request with seeded random data valid under the spec's response schemas (optional fields absent, ` +
          `included lists of any allowed type, empty strings, ids that are not UUIDs, totals up to ${MAX_PLAUSIBLE_TOTAL}); ` +
          `\`baton-datadog\` full sync with --sync-schedules --sync-secrets, seeds ${seeds.join(", ")}`,
        outcome: `completed (exit 0, a c1z) for every seed, ${requests} requests over ${Object.keys(reached).length} operations in all; ${outcomes.join("; ")}`,
        exitCode: 0,
      });
    });

    it("defect 9: Grant, Revoke and Delete with ids like `..` or `a/b` are INVALID_ARGUMENT, and no request reaches Datadog", async () => {
      const sim = await startSim();
      const logger = collector.logger("trust: ids in paths");
      const { rpc } = await builtDatadog(sim, logger);
      const served = await serveConnector(rpc, { address: "127.0.0.1:0", credentials: grpc.ServerCredentials.createInsecure(), logger });
      onCleanup(() => served.close());
      const client = connectorClient(`127.0.0.1:${served.port}`, grpc.credentials.createInsecure());
      onCleanup(() => client.close());

      const team = sim.org.teams.values()[0];
      const role = sim.org.roles.values()[0];
      const someone = sim.org.users.values().find((u) => !u.serviceAccount && u.status === "Active")!;
      const resource = (type: string, id: string): Resource => create(ResourceSchema, { id: { resourceType: type, resource: id }, displayName: id });
      const entitlementOf = (type: string, id: string, slug: string): Entitlement =>
        create(EntitlementSchema, { id: `${type}:${id}:${slug}`, slug, resource: resource(type, id) });
      const grantOf = (ent: Entitlement, principal: Resource) =>
        create(GrantSchema, { id: `${ent.id}:user:${principal.id!.resource}`, entitlement: ent, principal });

      const bad = ["..", ".", "a/b", "%2e%2e", "", "x".repeat(1000)];
      const calls: { name: string; run: () => Promise<unknown> }[] = [];
      for (const id of bad) {
        const shown = id.length > 10 ? `${id.length}-char` : JSON.stringify(id);
        calls.push(
          { name: `revoke team member, principal ${shown}`, run: () => client.revoke({ grant: grantOf(entitlementOf("team", team.id, "member"), resource("user", id)) }) },
          { name: `grant team member, principal ${shown}`, run: () => client.grant({ entitlement: entitlementOf("team", team.id, "member"), principal: resource("user", id) }) },
          { name: `grant role member, principal ${shown}`, run: () => client.grant({ entitlement: entitlementOf("role", role.id, "member"), principal: resource("user", id) }) },
          { name: `grant team member, team ${shown}`, run: () => client.grant({ entitlement: entitlementOf("team", id, "member"), principal: resource("user", someone.id) }) },
          { name: `revoke role member, role ${shown}`, run: () => client.revoke({ grant: grantOf(entitlementOf("role", id, "member"), resource("user", someone.id)) }) },
          { name: `delete user ${shown}`, run: () => client.deleteResourceV2({ resourceId: { resourceType: "user", resource: id } }) },
          { name: `delete API key ${shown}`, run: () => client.deleteResourceV2({ resourceId: { resourceType: "api-key", resource: id } }) },
        );
      }
      const before = sim.stats.recent.length;
      for (const c of calls) {
        const err = await failure(c.run());
        expect(codeName((err as ConnectorError).code), `${c.name}: ${err.message}`).toBe("INVALID_ARGUMENT");
        expect(err.message.length, c.name).toBeLessThan(400); // a 1000-character id is not echoed whole
      }
      // What reached the API: only look-ups of the valid user (a role revoke reads the user before it names the role);
      // nothing carrying a bad id, no write. Before the fix, `..` went out as DELETE /api/v2/team/<T>/memberships/..,
      // which the URL parser normalises into DELETE /api/v2/team/<T>: a request to delete the team.
      const reachedRequests = sim.stats.recent.slice(before);
      const lookups = reachedRequests.filter((r) => r === `GET /api/v2/users/${someone.id}`);
      const reached = reachedRequests.length - lookups.length;
      expect(reachedRequests.filter((r) => !lookups.includes(r))).toEqual([]);
      const sample = await failure(client.revoke({ grant: grantOf(entitlementOf("team", team.id, "member"), resource("user", "..")) }));
      record({
        section: "Trust",
        case: "ids that could change the URL path (defect 9)",
        how:
          "a served Datadog connector over gRPC: Revoke/Grant team member and Grant role member with principal ids `..`, `.`, `a/b`, `%2e%2e`, empty, " +
          "1000 characters; the same as team and role ids; DeleteResourceV2 of a user and an API key with those ids",
        outcome:
          `${calls.length} calls, each INVALID_ARGUMENT before any request with the id; ${reached} requests with a bad id or a write reached the ` +
          `simulator (${lookups.length} look-ups of the valid user did: a role revoke reads the user before it names the role)`,
        message: stable(sample.message),
      });
    });
  });
}
