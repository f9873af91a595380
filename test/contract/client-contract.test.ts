/**
 * Contract of the Datadog API client (the part of the connector that speaks HTTP) against Datadog's official
 * OpenAPI v2 spec. Its operation table must name documented operations by their spec operationId and template;
 * every method is then driven against the simulator through the recording proxy, and every request (query
 * parameters and, for the provisioning writes, the bodies) and every answer must conform.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatadogClient, OPERATIONS, StaticKeyProvider, type OperationId, type Page } from "../../connectors/datadog/client/index.ts";
import { heldPermissions } from "../../connectors/datadog/client/write-permissions.ts";
import { AUDIT_OPERATIONS, listAuditEventsPage } from "../../connectors/datadog/client/audit.ts";
import { setUserDisabled, USER_STATE_OPERATIONS } from "../../connectors/datadog/client/user-state.ts";
import { listAllAuthnMappings } from "../../connectors/datadog/client/authn-mappings.ts";
import { startSimulator, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { checkExchanges } from "./check-exchanges.ts";
import { classifyRequest, loadSpec, matchOperation, type Spec } from "./openapi.ts";
import { startRecordingProxy, type RecordingProxy } from "./recorder.ts";

const COUNTS = { users: 30, teams: 4, roles: 4, schedules: 3, apiKeys: 5, appKeys: 5, serviceAccounts: 3 };

let spec: Spec;
let sim: Simulator;
let proxy: RecordingProxy;
let client: DatadogClient;

beforeAll(async () => {
  [spec, sim] = await Promise.all([loadSpec(), startSimulator({ seed: 1, counts: COUNTS })]);
  proxy = await startRecordingProxy(sim.baseUrl);
  client = new DatadogClient({
    baseUrl: proxy.baseUrl,
    credentials: new StaticKeyProvider(sim.apiKey, sim.appKey),
    // Small pages so that paging (page[number] > 0) is part of what is checked.
    pageSize: 10,
    http: { proxy: { httpProxy: "", httpsProxy: "", noProxy: "" } },
  });
});

afterAll(async () => {
  await client?.close();
  await proxy?.close();
  await sim?.close();
});

async function all<T>(pages: AsyncGenerator<T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pages) out.push(...page);
  return out;
}

async function allOf<T>(fetchPage: (page: number) => Promise<Page<T>>): Promise<T[]> {
  return all(DatadogClient.paginate(fetchPage));
}

/** Checks what was recorded since the last call; returns the documented operations seen. */
function expectConformant(): Record<string, number> {
  const report = checkExchanges(spec, proxy.exchanges);
  proxy.clear();
  expect(report.problems, `contract problems:\n${report.problems.join("\n")}`).toEqual([]);
  return report.operations;
}

/** The operations of client/audit.ts and client/user-state.ts. */
const AUDIT_AND_USER_STATE = [...Object.keys(AUDIT_OPERATIONS), ...Object.keys(USER_STATE_OPERATIONS)];

const simulatorServes = (id: OperationId) => sim.routes().some((r) => r.method === OPERATIONS[id].method && r.template === OPERATIONS[id].path);

describe("the Datadog client's operations are Datadog's documented operations", () => {
  it("each entry of OPERATIONS is the spec's operation of that id, method and template", () => {
    const mismatches: string[] = [];
    for (const [id, info] of Object.entries({ ...OPERATIONS, ...AUDIT_OPERATIONS, ...USER_STATE_OPERATIONS })) {
      const cls = classifyRequest(spec, info.method, info.path);
      if (cls.kind === "allow-listed") continue;
      const match = matchOperation(spec, info.method, info.path);
      if (match?.operationId !== id || match.pathTemplate !== info.path) {
        mismatches.push(`${id}: ${info.method} ${info.path} → ${match ? `${match.operationId} ${match.pathTemplate}` : "no documented operation"}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it("reads: every request and answer of a full walk of the org conforms", async () => {
    expect(await client.validateApiKey()).toBe(true);
    const users = await all(client.allUsers());
    expect(users).toHaveLength(COUNTS.users);
    await client.getUser(users[3].id);

    const roles = await all(client.allRoles());
    for (const role of roles) {
      await allOf((p) => client.listRoleUsersPage(role.id, p));
      if (simulatorServes("ListRolePermissions")) await client.listRolePermissions(role.id);
    }
    await client.listPermissions();

    const teams = await all(client.allTeams());
    expect(teams).toHaveLength(COUNTS.teams);
    const policyIds = new Set<string>();
    await client.getTeam(teams[0].id);
    for (const team of teams) {
      await allOf((p) => client.listTeamMembershipsPage(team.id, p));
      for (const id of (await client.getTeamOnCallRoutingRules(team.id)).policyIds) policyIds.add(id);
    }
    const scheduleIds = new Set<string>();
    for (const id of policyIds) for (const s of (await client.getOnCallEscalationPolicy(id)).scheduleIds) scheduleIds.add(s);
    for (const id of scheduleIds) await client.getOnCallSchedule(id);
    expect(scheduleIds.size).toBeGreaterThan(0);

    const apiKeys = await allOf((p) => client.listAPIKeysPage(p));
    // GetAPIKey answers with the key's value; the client drops it.
    expect(Object.keys((await client.getAPIKey(apiKeys[0].id)).attributes ?? {})).not.toContain("key");
    const appKeys = await allOf((p) => client.listApplicationKeysPage(p));
    await client.getApplicationKey(appKeys[0].id);
    for (const account of users.filter((u) => u.attributes.service_account)) {
      await allOf((p) => client.listServiceAccountApplicationKeysPage(account.id, p));
    }
    // `check -p`: the caller's own keys and its owner's permissions.
    expect(await heldPermissions(client)).toMatchObject({ known: true, scopesKnown: true });

    const report = checkExchanges(spec, proxy.exchanges);
    proxy.clear();
    expect(report.problems, `contract problems:\n${report.problems.join("\n")}`).toEqual([]);
    expect(report.allowListed).toEqual([expect.stringMatching(/^GET \/api\/v1\/validate: /)]);
    expect(report.operations.ListUsers).toBe(Math.ceil(COUNTS.users / 10));
    expect(report.operations.GetOnCallSchedule).toBe(scheduleIds.size);
  });

  it("provisioning writes: every request body validates against the operation's requestBody schema", async () => {
    const role = sim.org.roles.values()[1];
    const user = sim.org.users.values().find((u) => !u.serviceAccount && !role.users.has(u.id))!;
    await client.addUserToRole(role.id, user.id);
    await client.removeUserFromRole(role.id, user.id);

    const team = sim.org.teams.values()[0];
    const [asMember, asAdmin] = sim.org.users.values().filter((u) => !team.members.has(u.id));
    await client.createTeamMembership(team.id, asMember.id, null);
    await client.createTeamMembership(team.id, asAdmin.id, "admin");
    await client.updateTeamMembership(team.id, asMember.id, "admin");
    await client.updateTeamMembership(team.id, asMember.id, null);
    await client.deleteTeamMembership(team.id, asMember.id);
    await client.deleteTeamMembership(team.id, asAdmin.id);

    const created = await client.createUser({ email: "contract.client@example.com", name: "Contract Client", title: "QA", roleIds: [role.id] });
    await client.createUser({ email: "contract.bare@example.com" });
    await client.sendInvitations([created.id]);
    await client.disableUser(created.id);

    const account = sim.org.users.values().find((u) => u.serviceAccount)!;
    const scoped = await client.createServiceAccountApplicationKey(account.id, { name: "contract-scoped", scopes: ["user_access_read", "teams_read"] });
    const unscoped = await client.createServiceAccountApplicationKey(account.id, { name: "contract-unscoped", scopes: null });
    const plain = await client.createServiceAccountApplicationKey(account.id, { name: "contract-plain" });
    for (const key of [scoped, unscoped, plain]) await client.deleteServiceAccountApplicationKey(account.id, key.id);

    await client.deleteAPIKey(sim.org.apiKeys.values()[0].id);
    await client.deleteApplicationKey(sim.org.appKeys.values().find((k) => k.owner.id !== account.id)!.id);

    const operations = expectConformant();
    const writes: OperationId[] = [
      "AddUserToRole",
      "RemoveUserFromRole",
      "CreateTeamMembership",
      "UpdateTeamMembership",
      "DeleteTeamMembership",
      "CreateUser",
      "SendInvitations",
      "DisableUser",
      "CreateServiceAccountApplicationKey",
      "DeleteServiceAccountApplicationKey",
      "DeleteAPIKey",
      "DeleteApplicationKey",
    ];
    expect(Object.keys(operations).sort()).toEqual([...writes].sort());
    // Every operation the client knows has now been exercised here or in the read walk.
    const exercised = new Set([...writes, "Validate", "ListUsers", "GetUser", "ListRoles", "ListRoleUsers", "ListRolePermissions", "ListPermissions",
      "ListTeams", "GetTeamMemberships", "GetOnCallTeamRoutingRules", "GetOnCallEscalationPolicy", "GetOnCallSchedule", "ListAPIKeys",
      "ListApplicationKeys", "GetApplicationKey", "ListServiceAccountApplicationKeys", "GetTeam", "GetAPIKey",
      "ListCurrentUserApplicationKeys", "ListUserPermissions", ...AUDIT_AND_USER_STATE,
      // client/authn-mappings.ts, called in its own case below.
      "ListAuthNMappings"]);
    expect(Object.keys(OPERATIONS).filter((id) => !exercised.has(id))).toEqual([]);
  });

  it("the Audit Trail (a cursor followed) and UpdateUser, called from the client's other modules, conform", async () => {
    const from = new Date(Date.now() - 60 * 60 * 1000);
    const query = '@evt.name:("Access Management" OR "Teams Management" OR Authentication) @action:(created OR modified OR deleted)';
    const first = await listAuditEventsPage(client, { query, from, limit: 3 });
    expect(first.entries).toHaveLength(3);
    expect(first.after).toBeDefined();
    const second = await listAuditEventsPage(client, { query, from, limit: 3, cursor: first.after });
    expect(second.entries.length).toBeGreaterThan(0);
    expect(second.entries[0].timestamp.getTime()).toBeGreaterThanOrEqual(first.entries[2].timestamp.getTime());
    const user = sim.org.users.values().find((u) => !u.serviceAccount && !u.disabled)!;
    expect((await setUserDisabled(client, user.id, true)).attributes.disabled).toBe(true);
    expect((await setUserDisabled(client, user.id, false)).attributes.disabled).toBe(false);
    const operations = expectConformant();
    expect(Object.keys(operations).sort()).toEqual([...AUDIT_AND_USER_STATE].sort());
    expect(operations.ListAuditLogs).toBe(2);
  });

  it("the SAML AuthN mappings (client/authn-mappings.ts), both kinds and several pages, conform", async () => {
    const role = sim.org.roles.values()[0];
    const team = sim.org.teams.values()[0];
    const made = Array.from({ length: 12 }, (_, i) =>
      sim.org.addAuthnMapping({ attributeKey: "member-of", attributeValue: `group-${i}`, ...(i < 11 ? { roleId: role.id } : { teamId: team.id }) }),
    );
    try {
      const roles = await listAllAuthnMappings(client, "role");
      expect(roles.map((m) => m.attributeValue)).toEqual(made.slice(0, 11).map((m) => m.attributeValue));
      expect(roles[0]).toMatchObject({ kind: "role", targetId: role.id, targetName: role.name, attributeKey: "member-of" });
      expect(await listAllAuthnMappings(client, "team")).toMatchObject([{ kind: "team", targetId: team.id, targetName: team.name }]);
      expect(expectConformant()).toEqual({ ListAuthNMappings: 3 });
    } finally {
      for (const m of made) sim.org.removeAuthnMapping(m.id);
    }
  });
});
