/** A full sync of a simulated Datadog org: every resource type, counts matching the seed, trait fields, no key values. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { findAnnotation } from "../../src/connector/annotations.ts";
import { Code } from "../../src/connector/errors.ts";
import { ExternalLinkSchema } from "../../src/gen/c1/connector/v2/annotation_external_link_pb.js";
import {
  GroupTraitSchema,
  RoleTraitSchema,
  SecretTraitSchema,
  UserTrait_AccountType,
  UserTrait_Status_Status,
  UserTraitSchema,
} from "../../src/gen/c1/connector/v2/annotation_trait_pb.js";
import { Status_ResourceStatus, type Resource } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { serveConnector, type ServedConnector } from "../../src/grpc/connector-server.ts";
import { connectorClient } from "../../src/grpc/connector-client.ts";
import { runSync } from "../../src/sync/engine.ts";
import { expectedCounts, reachableSchedules } from "../../connectors/datadog/simulator/index.ts";
import { LEGACY_ACCOUNTS_BEFORE } from "../../connectors/datadog/simulator/resources.ts";
import { c1zRows } from "../helpers/c1z-rows.ts";
import { c1zPayload, readSync, SITE_URL, startHarness, type Harness } from "./harness.ts";

let h: Harness;
let file: string;
/** GetOnCallSchedule requests made by the first sync. */
let schedulesFetched: number | undefined;

beforeAll(async () => {
  h = await startHarness({ provisioning: false });
  file = (await h.sync("full.c1z")).file;
  schedulesFetched = h.sim.stats.byOperation["GET /api/v2/on-call/schedules/{schedule_id}"];
});
afterAll(() => h.close());

const trait = <T>(r: Resource, schema: Parameters<typeof findAnnotation>[1]) => findAnnotation(r.annotations, schema) as T;

describe("Datadog full sync (schedules and secrets on)", () => {
  it("stores every resource type with counts matching the simulator's seed", async () => {
    const expected = expectedCounts(h.sim.org);
    const counts = await readSync(file, (store, syncId) => store.counts(syncId));
    expect(counts.resourcesByType).toEqual({
      user: expected.users,
      role: expected.roles,
      team: expected.teams,
      schedule: expected.schedules,
      "api-key": expected.apiKeys,
      "application-key": expected.appKeys,
    });
    expect(expected.schedules).toBeGreaterThan(0);
    expect(counts.entitlementsByType).toEqual({ role: expected.roles, team: 2 * expected.teams, schedule: expected.schedules });
    expect(counts.grantsByType).toEqual({
      role: expected.roleMemberships,
      team: expected.teamMembers + expected.teamAdmins,
      schedule: expected.scheduleMembers,
    });
    expect(counts.grants).toBe(expected.grants);
  });

  it("maps users: email, login, account type, status, pending invitations, MFA, names, created_at, links", async () => {
    const users = await readSync(file, (store, syncId) => [...store.iterateResources(syncId, { resourceTypeId: "user" })].map((r) => r.resource));
    const byId = new Map(users.map((u) => [u.id!.resource, u]));
    let pendingSeen = 0;
    for (const sim of h.sim.org.users) {
      const r = byId.get(sim.id)!;
      const t = anyUnpack(r.annotations.find((a) => a.typeUrl.endsWith("UserTrait"))!, UserTraitSchema)!;
      expect(t.emails).toEqual([expect.objectContaining({ address: sim.email, isPrimary: true })]);
      expect(t.login).toBe(sim.handle);
      expect(t.accountType).toBe(sim.serviceAccount ? UserTrait_AccountType.SERVICE : UserTrait_AccountType.HUMAN);
      expect(r.profile?.service_account).toBe(sim.serviceAccount);
      expect(r.profile?.status).toBe(sim.status);
      const wantStatus = sim.disabled ? Status_ResourceStatus.DISABLED : Status_ResourceStatus.ENABLED;
      expect(r.status?.status).toBe(wantStatus);
      expect(t.status?.status).toBe(sim.disabled ? UserTrait_Status_Status.DISABLED : UserTrait_Status_Status.ENABLED);
      if (sim.status === "Pending") {
        pendingSeen++;
        expect(r.status?.details).toBe("pending invitation");
        expect(r.profile?.pending_invitation).toBe(true);
      }
      expect(Number(r.createdAt!.seconds) * 1000).toBe(Math.floor(sim.createdAt / 1000) * 1000);
      // Older accounts' answers carry no mfa_enabled / last_login_time: unknown, never false.
      const legacy = sim.createdAt < LEGACY_ACCOUNTS_BEFORE;
      if (sim.lastLoginTime !== null && !legacy) expect(Number(t.lastLogin!.seconds) * 1000).toBe(Math.floor(sim.lastLoginTime / 1000) * 1000);
      else expect(t.lastLogin).toBeUndefined();
      if (legacy) expect([t.mfaStatus, r.profile?.mfa_enabled]).toEqual([undefined, undefined]);
      else expect(t.mfaStatus?.mfaEnabled).toBe(sim.mfaEnabled);
      expect(r.profile?.allowed_login_methods).toEqual([...sim.allowedLoginMethods].sort());
      if (!sim.serviceAccount && sim.name?.includes(" ")) {
        const [given, ...family] = sim.name.split(" ");
        expect(t.structuredName).toMatchObject({ givenName: given, familyName: family.join(" ") });
      }
      if (sim.serviceAccount) expect(t.structuredName).toBeUndefined();
      expect(findAnnotation(r.annotations, ExternalLinkSchema)?.url).toBe(`${SITE_URL}/organization-settings/users?user_id=${sim.id}`);
    }
    expect(pendingSeen).toBe(expectedCounts(h.sim.org).pendingUsers);
    expect(pendingSeen).toBeGreaterThan(0);
  });

  it("maps roles with permission names, teams with member/admin grants, schedules with members and teams", async () => {
    await readSync(file, (store, syncId) => {
      for (const role of h.sim.org.roles) {
        const r = store.getResource(syncId, "role", role.id)!;
        expect(trait(r, RoleTraitSchema)).toBeDefined();
        expect(r.profile?.permissions).toEqual(role.permissions.map((p) => p.name).sort());
        const members = [...store.iterateGrants(syncId, { entitlementId: `role:${role.id}:member` })].map((g) => g.grant.principal!.id!.resource);
        expect(members.sort()).toEqual(role.users.values().map((u) => u.id).sort());
      }
      for (const team of h.sim.org.teams) {
        const r = store.getResource(syncId, "team", team.id)!;
        expect(trait(r, GroupTraitSchema)).toBeDefined();
        expect(r.profile?.handle).toBe(team.handle);
        const ids = (ent: string) => [...store.iterateGrants(syncId, { entitlementId: `team:${team.id}:${ent}` })].map((g) => g.grant.principal!.id!.resource).sort();
        expect(ids("member")).toEqual(team.members.values().map((m) => m.user.id).sort());
        expect(ids("admin")).toEqual(team.members.values().filter((m) => m.role === "admin").map((m) => m.user.id).sort());
      }
      for (const schedule of reachableSchedules(h.sim.org)) {
        const r = store.getResource(syncId, "schedule", schedule.id)!;
        expect(r.displayName).toBe(schedule.name);
        expect(r.profile?.team_ids).toEqual(schedule.teams.map((t) => t.id));
        expect(r.profile?.teams).toEqual(schedule.teams.map((t) => t.name));
        const want = [...new Set(schedule.layers.flatMap((l) => l.members.map((m) => m.user.id)))].sort();
        const got = [...store.iterateGrants(syncId, { entitlementId: `schedule:${schedule.id}:member` })].map((g) => g.grant.principal!.id!.resource);
        expect(got.sort()).toEqual(want);
      }
    });
  });

  it("maps API and application keys to SecretTrait with creator, owner and times", async () => {
    await readSync(file, (store, syncId) => {
      for (const key of h.sim.org.apiKeys) {
        const r = store.getResource(syncId, "api-key", key.id)!;
        const t = trait<{ createdById?: { resource: string }; identityId?: unknown; createdAt?: { seconds: bigint }; lastUsedAt?: { seconds: bigint } }>(r, SecretTraitSchema);
        expect(r.displayName).toBe(key.name);
        expect(t.createdById?.resource).toBe(key.createdBy.id);
        expect(t.identityId).toBeUndefined();
        expect(Number(t.createdAt!.seconds) * 1000).toBe(Math.floor(key.createdAt / 1000) * 1000);
        if (key.dateLastUsed === null) expect(t.lastUsedAt).toBeUndefined();
        else expect(Number(t.lastUsedAt!.seconds) * 1000).toBe(Math.floor(key.dateLastUsed / 1000) * 1000);
        expect(r.profile?.last4).toBe(key.key.slice(-4));
      }
      for (const key of h.sim.org.appKeys) {
        const r = store.getResource(syncId, "application-key", key.id)!;
        const t = trait<{ createdById?: { resourceType: string; resource: string }; identityId?: { resourceType: string; resource: string } }>(r, SecretTraitSchema);
        expect(t.identityId).toMatchObject({ resourceType: "user", resource: key.owner.id });
        // Datadog names no creator for application keys (only the owner): none is made up.
        expect(t.createdById).toBeUndefined();
        expect(r.profile?.scopes ?? null).toEqual(key.scopes === null ? null : [...key.scopes]);
      }
    });
  });

  it("puts no key value anywhere in the c1z", () => {
    const payload = c1zPayload(file);
    const secrets = [h.sim.apiKey, h.sim.appKey, ...h.sim.org.apiKeys.values().map((k) => k.key)];
    expect(secrets.length).toBeGreaterThan(10);
    for (const secret of secrets) expect(payload.includes(Buffer.from(secret)), "a key value is in the c1z").toBe(false);
    // Nor in the logs (HTTP debug lines included).
    expect(h.logs.lines.length).toBeGreaterThan(20);
    for (const secret of secrets) expect(h.logs.text().includes(secret), "a key value is in the logs").toBe(false);
    // The scan itself works: a value that is stored (an email) is found.
    expect(payload.includes(Buffer.from(h.sim.org.users.values()[0].email))).toBe(true);
  });

  it("gets one user or schedule by id like the listing does; an unknown id is NOT_FOUND naming it", async () => {
    const sim = h.sim.org.users.values()[2];
    const listed = await readSync(file, (store, syncId) => store.getResource(syncId, "user", sim.id)!);
    const got = await h.rpc.getResource({ resourceId: { resourceType: "user", resource: sim.id } });
    expect(got.resource).toEqual(listed);
    await expect(h.rpc.getResource({ resourceId: { resourceType: "user", resource: "00000000-0000-4000-8000-0000000000bd" } })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: expect.stringContaining('user "00000000-0000-4000-8000-0000000000bd" does not exist'),
    });
    const schedule = [...reachableSchedules(h.sim.org)][0];
    const listedSchedule = await readSync(file, (store, syncId) => store.getResource(syncId, "schedule", schedule.id)!);
    expect((await h.rpc.getResource({ resourceId: { resourceType: "schedule", resource: schedule.id } })).resource).toEqual(listedSchedule);
    const role = h.sim.org.roles.values()[0];
    const listedRole = await readSync(file, (store, syncId) => store.getResource(syncId, "role", role.id)!);
    expect((await h.rpc.getResource({ resourceId: { resourceType: "role", resource: role.id } })).resource).toEqual(listedRole);
    expect(findAnnotation(listedRole.annotations, ExternalLinkSchema)?.url).toBe(`${SITE_URL}/organization-settings/roles/${role.id}`);
  });

  it("lists each schedule once per sync, even when several teams reach it", () => {
    // The simulator shares some escalation policies between two teams; the stored rows are unique by id and
    // the connector must not have asked for any schedule twice.
    expect(schedulesFetched).toBe(expectedCounts(h.sim.org).schedules);
  });

  it("gives the same rows through gRPC as in-process", async () => {
    let served: ServedConnector | undefined;
    const client = await (async () => {
      served = await serveConnector(h.rpc, { address: "127.0.0.1:0", credentials: grpc.ServerCredentials.createInsecure(), logger: h.logs.logger });
      return connectorClient(`127.0.0.1:${served.port}`, grpc.credentials.createInsecure());
    })();
    try {
      const other = join(h.dir, "grpc.c1z");
      await runSync({ connector: client, file: other, logger: h.logs.logger });
      const a = await c1zRows(file);
      const b = await c1zRows(other);
      expect(b.rows.length).toBe(a.rows.length);
      expect(b.rows).toEqual(a.rows);
    } finally {
      client.close();
      await served?.close();
    }
  });
});

describe("Datadog sync with small pages", () => {
  it("walks every listing across pages to the same rows, fetching each schedule once across team pages", async () => {
    const small = await startHarness({ provisioning: false, pageSize: 3 });
    try {
      // Precondition of this test: some schedule is reached from teams on two different pages of 3.
      const teamPages = new Map<string, Set<number>>();
      small.sim.org.teams.values().forEach((team, i) => {
        for (const rule of team.routingRules)
          for (const step of rule.policy?.steps ?? [])
            for (const t of step.targets)
              if (t.kind === "schedule" || t.kind === "configured-schedule") teamPages.set(t.schedule.id, (teamPages.get(t.schedule.id) ?? new Set()).add(Math.floor(i / 3)));
      });
      expect([...teamPages.values()].some((p) => p.size > 1)).toBe(true);

      small.sim.resetStats();
      const { file: pagedFile } = await small.sync("paged.c1z");
      await small.sync("second.c1z");
      // Same seed as the main harness: identical org, so identical rows to the 100-per-page sync.
      expect((await c1zRows(pagedFile)).rows).toEqual((await c1zRows(file)).rows);
      const byOp = small.sim.stats.byOperation;
      // Two syncs: each schedule fetched exactly once per sync although policies are shared between teams.
      expect(byOp["GET /api/v2/on-call/schedules/{schedule_id}"]).toBe(2 * expectedCounts(small.sim.org).schedules);
      expect(byOp["GET /api/v2/team"]).toBeGreaterThan(2 * 2);
    } finally {
      await small.close();
    }
  });
});
