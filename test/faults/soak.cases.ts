/**
 * Soak: service mode in a child process (soak-child.ts) working through short provisioning tasks and full syncs
 * against the test platform and the simulator: every task finished once and successfully, every sync uploaded
 * whole with the rows of a clean sync; the RSS after the last sync within 20% of the RSS after the first (each
 * after a forced GC), and no file descriptor left behind. The figures are printed for the closing note.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { afterAll, describe, expect, it } from "vitest";
import { EntitlementSchema } from "../../src/gen/c1/connector/v2/entitlement_pb.js";
import { GrantSchema } from "../../src/gen/c1/connector/v2/grant_pb.js";
import { ResourceSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { startTestPlatform, type TestPlatform } from "../platform/index.ts";
import { uploadedSync } from "../service/helpers.ts";
import { collector } from "./collect.ts";
import { record } from "./matrix.ts";
import { childEnv, cleanSync, HEAVY, onCleanup, startSim, tempDir } from "./support.ts";

const TASKS = HEAVY ? 200 : 50;
const SYNCS = HEAVY ? 5 : 3;

interface Measurement {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  fds: { total: number; files: number; sockets: number; pipes: number; other: number; paths: string[] };
}

function measure(child: ChildProcess): Promise<Measurement> {
  return new Promise((resolve) => {
    const onMessage = (m: unknown) => {
      const measurement = (m as { measurement?: Measurement }).measurement;
      if (!measurement) return;
      child.off("message", onMessage);
      resolve(measurement);
    };
    child.on("message", onMessage);
    child.send("measure");
  });
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

export function soakCases(): void {
  describe("Soak", () => {
    let platform: TestPlatform | undefined;
    afterAll(() => platform?.close());

    it(`service mode: ${TASKS} short tasks and ${SYNCS} full syncs; RSS within 20%, no descriptor leaked`, { timeout: HEAVY ? 600_000 : 120_000 }, async () => {
      const { rows: cleanRows } = await cleanSync();
      const sim = await startSim();
      const p = (platform = await startTestPlatform({ nextPollMs: 20, nextHeartbeatMs: 200 }));
      collector.secret(p.clientSecret, "platform client secret");
      collector.secret(p.clientSecret.split(":")[3], "platform client secret (key part)");

      const dir = tempDir("soak");
      // --max-semi-space-size=2 as the image's NODE_OPTIONS and the CLI's shebang set it: without it V8 grows its
      // young generation by tens of MB on its own schedule, RSS growth that is not a leak but would hide one.
      const child = spawn(process.execPath, ["--expose-gc", "--max-semi-space-size=2", join(import.meta.dirname, "soak-child.ts")], {
        stdio: ["ignore", "pipe", "pipe", "ipc"],
        env: childEnv({
          NODE_EXTRA_CA_CERTS: p.caFile,
          BATON_C1_API_HOST: p.host,
          BATON_CLIENT_ID: p.clientId,
          BATON_CLIENT_SECRET: p.clientSecret,
          BATON_HOST_ID: "faults-soak",
          SOAK_DATADOG: JSON.stringify({ baseUrl: sim.baseUrl, apiKey: sim.apiKey, appKey: sim.appKey }),
          SOAK_TEMP_DIR: dir,
        }),
      });
      collector.attach("soak child", child);
      let stdout = "";
      child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
      const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
      onCleanup(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      });
      await p.waitFor(() => p.hellos[0], "Hello from the soak child", 60_000);
      const idle = await measure(child);

      // Short tasks: grant a role to users who lack it, then revoke it again, so the org is as it began at every
      // sync and each can be compared with a clean one.
      const role = [...sim.org.roles.values()].sort((a, b) => a.users.size - b.users.size)[0];
      const users = sim.org.users.values().filter((u) => !role.users.has(u.id));
      const roleResource = create(ResourceSchema, { id: { resourceType: "role", resource: role.id } });
      const member = create(EntitlementSchema, { id: `role:${role.id}:member`, resource: roleResource, slug: "member" });
      const userResource = (id: string) => create(ResourceSchema, { id: { resourceType: "user", resource: id } });
      const shortTask = (i: number, grant: boolean) => {
        const user = users[i % users.length];
        return grant
          ? p.enqueue({ taskType: { case: "grant", value: { entitlement: member, principal: userResource(user.id) } } })
          : p.enqueue({
              taskType: {
                case: "revoke",
                value: { grant: create(GrantSchema, { id: `role:${role.id}:member:user:${user.id}`, entitlement: member, principal: userResource(user.id) }) },
              },
            });
      };

      const taskIds: string[] = [];
      const syncIds: string[] = [];
      const runSync = async () => {
        const id = p.enqueue({ taskType: { case: "syncFull", value: {} } });
        syncIds.push(id);
        await p.waitForFinished(id, 120_000);
      };
      // The tasks come in batches before each sync (grants, then their revokes), so that both kinds of work have
      // run once before the first measurement and the comparison is between two warm states.
      const batch = Math.ceil(TASKS / SYNCS / 2);
      let done = 0;
      let first: Measurement | undefined;
      let afterTasks: Measurement | undefined;
      const perSync: number[] = [];
      for (let s = 1; s <= SYNCS; s++) {
        const n = Math.min(batch, (TASKS - done) / 2);
        const grants = Array.from({ length: n }, (_, i) => shortTask(done / 2 + i, true));
        await Promise.all(grants.map((id) => p.waitForFinished(id, 60_000)));
        const revokes = Array.from({ length: n }, (_, i) => shortTask(done / 2 + i, false));
        await Promise.all(revokes.map((id) => p.waitForFinished(id, 60_000)));
        taskIds.push(...grants, ...revokes);
        done += 2 * n;
        if (s === SYNCS) afterTasks = await measure(child);
        await runSync();
        // After every sync, not only the first and the last: memory that garbage still holds is released the same
        // way each time, so what remains from one sync to the next is what the process keeps.
        const m = await measure(child);
        perSync.push(mb(m.rssBytes));
        if (s === 1) first = m;
      }
      if (!first || !afterTasks) throw new Error("the soak measured nothing");
      const last = await measure(child);
      child.kill("SIGTERM");
      const [code, signal] = await exited;

      // Nothing lost, nothing duplicated, every answer right.
      expect(taskIds).toHaveLength(TASKS);
      for (const id of [...taskIds, ...syncIds]) {
        expect(p.finished.get(id)?.finalState.case, `${id}: ${JSON.stringify(p.finished.get(id)?.status)}`).toBe("success");
        expect(p.finishCalls.filter((f) => f.taskId === id && f.accepted)).toHaveLength(1);
      }
      expect(p.duplicateFinishes).toEqual([]);
      for (const id of syncIds) expect((await uploadedSync(p, id)).rows).toEqual(cleanRows);
      expect(role.users.size).toBe([...sim.org.users.values()].length - users.length); // every grant revoked again
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toMatchObject({ tasksStarted: TASKS + SYNCS, tasksReported: TASKS + SYNCS, tasksUnreported: 0 });

      const figures = {
        tasks: TASKS,
        syncs: SYNCS,
        rssMb: { idle: mb(idle.rssBytes), afterFirstSync: mb(first.rssBytes), afterTasks: mb(afterTasks!.rssBytes), afterLastSync: mb(last.rssBytes), afterEachSync: perSync },
        rssGrowth: Math.round((last.rssBytes / first.rssBytes - 1) * 1000) / 10,
        heapUsedMb: { afterFirstSync: mb(first.heapUsedBytes), afterLastSync: mb(last.heapUsedBytes) },
        heapTotalMb: { afterFirstSync: mb(first.heapTotalBytes), afterLastSync: mb(last.heapTotalBytes) },
        externalMb: { afterFirstSync: mb(first.externalBytes), afterLastSync: mb(last.externalBytes) },
        fds: {
          idle: { ...idle.fds, paths: undefined },
          afterFirstSync: { ...first.fds, paths: undefined },
          afterLastSync: { ...last.fds, paths: undefined },
        },
      };
      console.log(`SOAK ${JSON.stringify(figures)}`);

      expect(last.rssBytes, JSON.stringify(figures)).toBeLessThanOrEqual(first.rssBytes * 1.2);
      // Files (c1z, working databases, temp copies) must all be closed; sockets are the keep-alive pools, bounded.
      expect(last.fds.paths.sort(), JSON.stringify(figures)).toEqual(first.fds.paths.sort());
      expect(last.fds.pipes).toBe(first.fds.pipes);
      expect(last.fds.total, JSON.stringify(figures)).toBeLessThanOrEqual(first.fds.total + 4);

      record({
        section: "Soak",
        case: `${TASKS} short tasks and ${SYNCS} full syncs in service mode${HEAVY ? "" : " (reduced; FAULTS_HEAVY=1 runs 200 and 5)"}`,
        how:
          "baton-datadog service mode in a child process (env config, --max-semi-space-size=2 as in the image); grant/revoke tasks " +
          "in batches before each full sync of the simulator; RSS and descriptors measured after every sync, GC forced first",
        outcome:
          `all finished once and successfully, every upload whole with clean rows; RSS ${figures.rssMb.afterFirstSync} MB after the first sync, ` +
          `${figures.rssMb.afterLastSync} MB after the last (${figures.rssGrowth >= 0 ? "+" : ""}${figures.rssGrowth}%; after each: ${perSync.join(", ")} MB); ` +
          `fds ${first.fds.total} → ${last.fds.total} (files ${first.fds.files} → ${last.fds.files}, sockets ${first.fds.sockets} → ${last.fds.sockets}); exit 0 on SIGTERM`,
        exitCode: 0,
      });
    });
  });
}
