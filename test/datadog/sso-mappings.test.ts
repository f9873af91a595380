/**
 * SSO awareness against the simulator, over gRPC: SAML AuthN mappings are synced into the profiles of the roles
 * and teams they grant (--sync-sso-mappings); revoking a role or a team membership that a mapping grants
 * succeeds but answers with a GrantMetadata warning naming the mapping and logs it, while an unmapped revoke
 * carries nothing; `check` says whether mappings are in force; every request is a documented operation.
 */
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findAnnotation } from "../../src/connector/annotations.ts";
import { GrantMetadataSchema } from "../../src/gen/c1/connector/v2/annotation_grant_pb.js";
import { GrantSchema } from "../../src/gen/c1/connector/v2/grant_pb.js";
import { startSimulator, type SimAuthnMapping, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { runDatadogCliInProcess } from "../helpers/cli-in-process.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { readSync } from "./harness.ts";
import { serveDatadog, type ServedDatadog } from "./served-connector.ts";

const COUNTS = { users: 30, teams: 3, roles: 4, schedules: 0, apiKeys: 1, appKeys: 1, serviceAccounts: 2 };

let sim: Simulator;
let served: ServedDatadog;
let baseline: string;
let roleMapping: SimAuthnMapping;
let teamMapping: SimAuthnMapping;

beforeAll(async () => {
  // Two generated mappings: the first grants the Datadog Admin Role, the second a team.
  sim = await startSimulator({ seed: 31, counts: { ...COUNTS, authnMappings: 2 } });
  [roleMapping, teamMapping] = sim.org.authnMappings.values();
  served = await serveDatadog(sim, { syncSsoMappings: true, provisioning: true });
  baseline = (await served.sync("baseline.c1z")).file;
}, 60_000);

afterAll(async () => {
  await served?.close();
  await sim?.close();
});

async function grantOf(entitlementId: string, userId: string) {
  return readSync(baseline, (store, syncId) => {
    const entitlement = store.getEntitlement(syncId, entitlementId)!;
    const principal = store.getResource(syncId, "user", userId)!;
    return create(GrantSchema, { id: `${entitlementId}:user:${userId}`, entitlement, principal });
  });
}

describe("SAML AuthN mappings in profiles", () => {
  it("the mapped role and team list their mappings; unmapped ones have none", async () => {
    expect(roleMapping.target.kind).toBe("role");
    expect(teamMapping.target.kind).toBe("team");
    const mappedRole = roleMapping.target.kind === "role" ? roleMapping.target.role : undefined!;
    const mappedTeam = teamMapping.target.kind === "team" ? teamMapping.target.team : undefined!;
    await readSync(baseline, (store, syncId) => {
      const role = store.getResource(syncId, "role", mappedRole.id)!;
      expect((role.profile as Record<string, unknown>).authn_mappings).toEqual([
        { id: roleMapping.id, attribute_key: "member-of", attribute_value: roleMapping.attributeValue },
      ]);
      const team = store.getResource(syncId, "team", mappedTeam.id)!;
      expect((team.profile as Record<string, unknown>).authn_mappings).toEqual([
        { id: teamMapping.id, attribute_key: "member-of", attribute_value: teamMapping.attributeValue },
      ]);
      const unmappedRole = sim.org.roles.values().find((r) => r !== mappedRole)!;
      expect((store.getResource(syncId, "role", unmappedRole.id)!.profile as Record<string, unknown>).authn_mappings).toBeUndefined();
      const unmappedTeam = sim.org.teams.values().find((t) => t !== mappedTeam)!;
      expect((store.getResource(syncId, "team", unmappedTeam.id)!.profile as Record<string, unknown>).authn_mappings).toBeUndefined();
    });
  });

  it("the mappings were read once per kind for the whole sync, with documented requests only", async () => {
    const sent = served.proxy.exchanges.filter((e) => e.url.startsWith("/api/v2/authn_mappings"));
    expect(sent.map((e) => new URL(e.url, "http://x").searchParams.get("resource_type")).sort()).toEqual(["role", "team"]);
    const report = await served.contract();
    expect(report.problems).toEqual([]);
    expect(report.operations.ListAuthNMappings).toBe(2);
  });
});

describe("revoking what a SAML mapping grants", () => {
  it("a mapped role's revoke succeeds, warns in its response and its log naming the mapping", async () => {
    const role = roleMapping.target.kind === "role" ? roleMapping.target.role : undefined!;
    const holder = role.users.values().find((u) => !u.disabled)!;
    const res = await served.rpc.revoke({ grant: await grantOf(`role:${role.id}:member`, holder.id) });
    expect(role.users.has(holder.id)).toBe(false);
    const warning = findAnnotation(res.annotations, GrantMetadataSchema);
    expect(warning?.metadata).toMatchObject({
      sso_regrant_warning: expect.stringContaining(`AuthN mapping ${roleMapping.id} (SAML attribute "member-of" = "${roleMapping.attributeValue}")`),
      authn_mappings: [{ id: roleMapping.id, attribute_key: "member-of", attribute_value: roleMapping.attributeValue }],
    });
    expect(String(warning?.metadata?.sso_regrant_warning)).toContain(`grant it to user ${holder.id} again at their next login`);
    const logged = served.logs.lines.map((l) => JSON.parse(l)).find((l) => String(l.msg).startsWith("revoke will not last"));
    expect(logged).toMatchObject({ level: 40, kind: "role", targetId: role.id, userId: holder.id, authnMappings: [roleMapping.id] });
    expect((await served.contract()).problems).toEqual([]);
  });

  it("an unmapped role's revoke carries no warning", async () => {
    const mapped = roleMapping.target.kind === "role" ? roleMapping.target.role : undefined!;
    const role = sim.org.roles.values().find((r) => r !== mapped && r.users.values().some((u) => !u.disabled))!;
    const holder = role.users.values().find((u) => !u.disabled)!;
    const before = served.logs.lines.length;
    const res = await served.rpc.revoke({ grant: await grantOf(`role:${role.id}:member`, holder.id) });
    expect(role.users.has(holder.id)).toBe(false);
    expect(findAnnotation(res.annotations, GrantMetadataSchema)).toBeUndefined();
    expect(served.logs.lines.slice(before).some((l) => l.includes("revoke will not last"))).toBe(false);
  });

  it("a mapped team's member revoke warns; the mapped team's admin revoke (a demotion, never mapped) does not", async () => {
    const team = teamMapping.target.kind === "team" ? teamMapping.target.team : undefined!;
    const member = team.members.values().find((m) => m.role === null && !m.user.disabled)!.user;
    const res = await served.rpc.revoke({ grant: await grantOf(`team:${team.id}:member`, member.id) });
    expect(team.members.has(member.id)).toBe(false);
    expect(String(findAnnotation(res.annotations, GrantMetadataSchema)?.metadata?.sso_regrant_warning)).toContain(`AuthN mapping ${teamMapping.id}`);
    const admin = team.members.values().find((m) => m.role === "admin" && !m.user.disabled);
    if (admin) {
      const demoted = await served.rpc.revoke({ grant: await grantOf(`team:${team.id}:admin`, admin.user.id) });
      expect(findAnnotation(demoted.annotations, GrantMetadataSchema)).toBeUndefined();
      expect(team.members.get(admin.user.id)?.role).toBeNull();
    }
  });

  it("when the mappings cannot be read, the revoke still succeeds and the log says the warning could not be checked", async () => {
    const role = roleMapping.target.kind === "role" ? roleMapping.target.role : undefined!;
    const holder = role.users.values().find((u) => !u.disabled)!;
    const grant = await grantOf(`role:${role.id}:member`, holder.id);
    sim.injectFaults([{ kind: "status", status: 403, match: { method: "GET", pathPrefix: "/api/v2/authn_mappings" } }]);
    try {
      const res = await served.rpc.revoke({ grant });
      expect(role.users.has(holder.id)).toBe(false);
      expect(findAnnotation(res.annotations, GrantMetadataSchema)).toBeUndefined();
      expect(served.logs.text()).toContain("could not read SAML AuthN mappings");
    } finally {
      sim.clearFaults();
    }
  });
});

describe("check says whether SAML mappings are in force", () => {
  const tempDir = tempDirs("all");
  let dir: string;
  beforeAll(() => {
    dir = tempDir("sso-check-");
  });

  const check = (target: Simulator) =>
    runDatadogCliInProcess(["check"], {
      env: { BATON_BASE_URL: target.baseUrl, BATON_API_KEY: target.apiKey, BATON_APP_KEY: target.appKey, BATON_LOG_LEVEL: "warn" },
      cwd: dir,
    });

  it("names the mapped role and team when mappings exist", async () => {
    const run = await check(sim);
    expect(run.code, run.stderr).toBe(0);
    const role = roleMapping.target.kind === "role" ? roleMapping.target.role : undefined!;
    const team = teamMapping.target.kind === "team" ? teamMapping.target.team : undefined!;
    expect(run.stdout).toContain(` OK   SAML AuthN mappings in force: 1 granting role (${role.name}); 1 granting team (${team.name}).`);
  });

  it("says none are in force on an org without mappings", async () => {
    const plain = await startSimulator({ seed: 32, counts: COUNTS });
    try {
      const run = await check(plain);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain("SAML AuthN mappings: none in force; revoked roles and team memberships stay revoked.");
    } finally {
      await plain.close();
    }
  });

  it("says they were not checked when the key may not read them, and still passes", async () => {
    const scoped = await startSimulator({ seed: 33, counts: COUNTS });
    try {
      // A key with every scope the sync needs but user_access_read: the mappings (and roles) are unreadable.
      scoped.setAppKeyScopes(["teams_read"]);
      const run = await check(scoped);
      expect(run.stdout).toMatch(/SKIP {2}SAML AuthN mappings not checked: .*user_access_read/);
    } finally {
      await scoped.close();
    }
  });
});
