/**
 * Contract of the Datadog simulator against Datadog's official OpenAPI v2 spec: every endpoint it implements is
 * called for real (through the recording proxy, so the recorder is exercised too), and every request must be a
 * documented operation with documented parameters and a valid body, every response valid for its status.
 * Then the checker itself is shown to catch what it exists to catch.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { checkExchanges } from "./check-exchanges.ts";
import {
  checkRequest,
  checkResponse,
  classifyRequest,
  loadSpec,
  matchOperation,
  Spec,
  UNDOCUMENTED_IN_V2_SPEC,
} from "./openapi.ts";
import { startRecordingProxy, type RecordedExchange, type RecordingProxy } from "./recorder.ts";

const SMALL = { users: 30, teams: 4, roles: 4, schedules: 3, apiKeys: 5, appKeys: 5, serviceAccounts: 3 };

let spec: Spec;
let sim: Simulator;
let proxy: RecordingProxy;

beforeAll(async () => {
  [spec, sim] = await Promise.all([loadSpec(), startSimulator({ seed: 1, counts: SMALL })]);
  proxy = await startRecordingProxy(sim.baseUrl);
});

afterAll(async () => {
  await proxy?.close();
  await sim?.close();
});

interface Answer {
  status: number;
  body: any;
}

/** One call through the recording proxy with the simulator's keys. */
async function call(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { "DD-API-KEY": sim.apiKey, "DD-APPLICATION-KEY": sim.appKey, ...init.headers };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(proxy.baseUrl + path, {
    method: init.method ?? "GET",
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** "METHOD template" of every documented operation this file has called on the simulator. */
const exercised = new Set<string>();

/** Checks what was recorded since the last call and returns the operations seen. */
function expectConformant(): Record<string, number> {
  for (const e of proxy.exchanges) {
    const match = matchOperation(spec, e.method, e.url);
    if (match) exercised.add(`${e.method} ${match.pathTemplate}`);
  }
  const report = checkExchanges(spec, proxy.exchanges);
  proxy.clear();
  expect(report.problems, `contract problems:\n${report.problems.join("\n")}`).toEqual([]);
  return report.operations;
}

describe("the simulator honours Datadog's OpenAPI v2 contract", () => {
  it("read endpoints: requests are documented operations and every answer validates", async () => {
    const firstPage = await call("/api/v2/users?page[size]=10&page[number]=0");
    expect(firstPage.status).toBe(200);
    const users = await call("/api/v2/users?page[size]=100&page[number]=0");
    expect(users.body.data).toHaveLength(SMALL.users);
    await call("/api/v2/users?page[size]=100&page[number]=1");
    await call(`/api/v2/users/${users.body.data[0].id}`);

    const roles = await call("/api/v2/roles?page[size]=100&page[number]=0");
    expect(roles.body.data).toHaveLength(SMALL.roles);
    for (const role of roles.body.data) {
      await call(`/api/v2/roles/${role.id}`);
      await call(`/api/v2/roles/${role.id}/users?page[size]=100&page[number]=0`);
      await call(`/api/v2/roles/${role.id}/permissions`);
    }
    await call("/api/v2/permissions");
    // What `check -p` reads: the caller's own keys, and what a user's roles grant.
    const ownKeys = await call("/api/v2/current_user/application_keys?page[size]=100&page[number]=0");
    expect(ownKeys.body.data.some((k: any) => k.attributes.last4 === sim.appKey.slice(-4))).toBe(true);
    await call(`/api/v2/users/${users.body.data[0].id}/permissions`);

    const teams = await call("/api/v2/team?page[size]=100&page[number]=0");
    expect(teams.body.data).toHaveLength(SMALL.teams);
    for (const team of teams.body.data) {
      await call(`/api/v2/team/${team.id}`);
      // GetTeamMemberships documents no `include`: the users come in `included` without asking.
      const members = await call(`/api/v2/team/${team.id}/memberships?page[size]=100&page[number]=0`);
      expect(members.body.included.length).toBe(members.body.data.length);
      await call(`/api/v2/on-call/teams/${team.id}/routing-rules?include=rules`);
    }
    for (const policy of sim.org.policies.values()) await call(`/api/v2/on-call/escalation-policies/${policy.id}?include=steps.targets`);
    for (const schedule of sim.org.schedules) {
      await call(`/api/v2/on-call/schedules/${schedule.id}?include=layers,layers.members,layers.members.user,teams`);
    }

    const apiKeys = await call("/api/v2/api_keys?page[size]=100&page[number]=0&include=created_by");
    expect(apiKeys.body.data).toHaveLength(SMALL.apiKeys);
    await call(`/api/v2/api_keys/${apiKeys.body.data[0].id}`);
    const appKeys = await call("/api/v2/application_keys?page[size]=100&page[number]=0&include=owned_by");
    await call(`/api/v2/application_keys/${appKeys.body.data[0].id}?include=owned_by`);
    for (const account of sim.org.users.values().filter((u) => u.serviceAccount)) {
      await call(`/api/v2/service_accounts/${account.id}/application_keys?page[size]=100&page[number]=0`);
    }
    // Documented error answers: unknown id, bad key.
    expect((await call("/api/v2/users/00000000-0000-0000-0000-000000000000")).status).toBe(404);
    expect((await call("/api/v2/roles?page[size]=1", { headers: { "DD-API-KEY": "not-a-key" } })).status).toBe(403);

    const operations = expectConformant();
    expect(Object.keys(operations).sort()).toEqual(
      [
        "GetAPIKey",
        "GetApplicationKey",
        "GetOnCallEscalationPolicy",
        "GetOnCallSchedule",
        "GetOnCallTeamRoutingRules",
        "GetRole",
        "GetTeam",
        "GetTeamMemberships",
        "GetUser",
        "ListAPIKeys",
        "ListApplicationKeys",
        "ListPermissions",
        "ListCurrentUserApplicationKeys",
        "ListUserPermissions",
        "ListRolePermissions",
        "ListRoleUsers",
        "ListRoles",
        "ListServiceAccountApplicationKeys",
        "ListTeams",
        "ListUsers",
      ].sort(),
    );
    expect(operations.GetOnCallEscalationPolicy).toBeGreaterThan(0);
    expect(operations.GetOnCallSchedule).toBe(SMALL.schedules);
  });

  it("write endpoints: valid bodies are accepted and their answers (errors included) validate", async () => {
    const role = sim.org.roles.values()[1];
    const roleUser = sim.org.users.values().find((u) => !role.users.has(u.id) && !u.serviceAccount)!;
    const relationship = { data: { id: roleUser.id, type: "users" } };
    expect((await call(`/api/v2/roles/${role.id}/users`, { method: "POST", body: relationship })).status).toBe(200);
    expect(role.users.has(roleUser.id)).toBe(true);
    expect((await call(`/api/v2/roles/${role.id}/users`, { method: "DELETE", body: relationship })).status).toBe(200);
    expect(role.users.has(roleUser.id)).toBe(false);

    const team = sim.org.teams.values()[0];
    const outsider = sim.org.users.values().find((u) => !team.members.has(u.id))!;
    const membership = {
      data: {
        type: "team_memberships",
        attributes: { role: "admin" },
        relationships: { user: { data: { id: outsider.id, type: "users" } } },
      },
    };
    const memberships = `/api/v2/team/${team.id}/memberships`;
    expect((await call(memberships, { method: "POST", body: membership })).status).toBe(200);
    expect((await call(memberships, { method: "POST", body: membership })).status).toBe(409);
    const demote = { data: { type: "team_memberships", attributes: { role: null } } };
    expect((await call(`${memberships}/${outsider.id}`, { method: "PATCH", body: demote })).status).toBe(200);
    expect((await call(`${memberships}/${outsider.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await call(`${memberships}/${outsider.id}`, { method: "DELETE" })).status).toBe(404);

    const created = await call("/api/v2/users", {
      method: "POST",
      body: {
        data: {
          type: "users",
          attributes: { email: "contract.person@example.com", name: "Contract Person", title: "Tester" },
          relationships: { roles: { data: [{ id: role.id, type: "roles" }] } },
        },
      },
    });
    expect(created.status).toBe(201);
    const invitation = await call("/api/v2/user_invitations", {
      method: "POST",
      body: { data: [{ type: "user_invitations", relationships: { user: { data: { id: created.body.data.id, type: "users" } } } }] },
    });
    expect(invitation.status).toBe(201);
    expect((await call(`/api/v2/users/${created.body.data.id}`, { method: "DELETE" })).status).toBe(204);
    const enable = { data: { type: "users", id: created.body.data.id, attributes: { disabled: false } } };
    expect((await call(`/api/v2/users/${created.body.data.id}`, { method: "PATCH", body: enable })).status).toBe(200);

    const account = sim.org.users.values().find((u) => u.serviceAccount)!;
    const accountKeys = `/api/v2/service_accounts/${account.id}/application_keys`;
    const newKey = await call(accountKeys, {
      method: "POST",
      body: { data: { type: "application_keys", attributes: { name: "contract-rotated", scopes: ["user_access_read"] } } },
    });
    expect(newKey.status).toBe(201);
    expect((await call(`${accountKeys}/${newKey.body.data.id}`, { method: "DELETE" })).status).toBe(204);

    const apiKey = sim.org.apiKeys.values()[0];
    expect((await call(`/api/v2/api_keys/${apiKey.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await call(`/api/v2/api_keys/${apiKey.id}`, { method: "DELETE" })).status).toBe(404);
    const appKey = sim.org.appKeys.values().find((k) => k.owner.id !== account.id)!;
    expect((await call(`/api/v2/application_keys/${appKey.id}`, { method: "DELETE" })).status).toBe(204);

    // The Audit Trail recorded those writes: both listings, a cursor followed, and a bad cursor's 400 validate.
    const audit = `/api/v2/audit/events?filter[query]=${encodeURIComponent('@evt.name:("Access Management" OR "Teams Management")')}&sort=timestamp&page[limit]=2`;
    const first = await call(audit);
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(2);
    expect((await call(`${audit}&page[cursor]=${encodeURIComponent(first.body.meta.page.after)}`)).status).toBe(200);
    expect((await call(`${audit}&page[cursor]=not-a-cursor`)).status).toBe(400);
    const search = await call("/api/v2/audit/events/search", { method: "POST", body: { filter: { query: "@action:modified", from: "now-1h" }, sort: "-timestamp", page: { limit: 5 } } });
    expect(search.status).toBe(200);
    expect(search.body.data.length).toBeGreaterThan(0);

    const operations = expectConformant();
    expect(Object.keys(operations).sort()).toEqual(
      [
        "ListAuditLogs",
        "SearchAuditLogs",
        "UpdateUser",
        "AddUserToRole",
        "CreateServiceAccountApplicationKey",
        "CreateTeamMembership",
        "CreateUser",
        "DeleteAPIKey",
        "DeleteApplicationKey",
        "DeleteServiceAccountApplicationKey",
        "DeleteTeamMembership",
        "DisableUser",
        "RemoveUserFromRole",
        "SendInvitations",
        "UpdateTeamMembership",
      ].sort(),
    );
  });

  it("SAML AuthN mappings: both kinds, filtered, sorted and paged", async () => {
    const role = sim.org.roles.values()[0];
    const team = sim.org.teams.values()[0];
    const made = [
      sim.org.addAuthnMapping({ attributeKey: "member-of", attributeValue: "contract-admins", roleId: role.id }),
      sim.org.addAuthnMapping({ attributeKey: "member-of", attributeValue: "contract-team", teamId: team.id }),
    ];
    try {
      const roles = await call("/api/v2/authn_mappings?page[size]=10&page[number]=0");
      expect(roles.body.data.map((m: { id: string }) => m.id)).toEqual([made[0].id]);
      const teams = await call("/api/v2/authn_mappings?resource_type=team&sort=-created_at&filter=contract&page[size]=1&page[number]=0");
      expect(teams.body.data[0].relationships.team.data.id).toBe(team.id);
      expect((await call("/api/v2/authn_mappings?resource_type=role&sort=saml_assertion_attribute.attribute_key")).status).toBe(200);
      expect(expectConformant()).toMatchObject({ ListAuthNMappings: 3 });
    } finally {
      for (const m of made) sim.org.removeAuthnMapping(m.id);
    }
  });

  it("calls outside the v2 spec file are reported apart, not passed silently", async () => {
    expect((await call("/api/v1/validate")).status).toBe(200);
    const report = checkExchanges(spec, proxy.exchanges);
    proxy.clear();
    expect(report.problems).toEqual([]);
    expect(report.allowListed).toEqual([`GET /api/v1/validate: ${UNDOCUMENTED_IN_V2_SPEC[0].reason}`]);
    expect(report.operations).toEqual({});
  });

  it("every route the simulator serves is a documented operation (or allow-listed) and was exercised above", () => {
    const undocumented: string[] = [];
    const untested: string[] = [];
    for (const route of sim.routes()) {
      const name = `${route.method} ${route.template}`;
      const cls = classifyRequest(spec, route.method, route.template);
      if (cls.kind === "allow-listed") continue;
      if (cls.kind === "unknown" || cls.match.pathTemplate !== route.template) undocumented.push(name);
      else if (!exercised.has(name)) untested.push(name);
    }
    expect(undocumented, "simulator routes that are not Datadog operations").toEqual([]);
    expect(untested, "simulator routes this contract test does not call yet: add them to the tests above").toEqual([]);
  });
});

describe("the contract checker catches violations", () => {
  it("an undocumented query parameter", () => {
    expect(checkRequest(spec, { method: "GET", url: "/api/v2/users?page[size]=10" })).toEqual([]);
    const problems = checkRequest(spec, { method: "GET", url: "/api/v2/users?page[size]=10&include=roles" });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('GET /api/v2/users (ListUsers): query parameter "include" is not documented');
    // Names are compared exactly: page[limit] is not page[size].
    expect(checkRequest(spec, { method: "GET", url: "/api/v2/team/t1/memberships?page%5Blimit%5D=5" })[0]).toContain('"page[limit]"');
    expect(checkRequest(spec, { method: "GET", url: "/api/v2/team/t1/memberships?include=users" })[0]).toContain('"include"');
  });

  it("a query value outside its documented schema", () => {
    const problems = checkRequest(spec, { method: "GET", url: "/api/v2/users?sort_dir=sideways" });
    expect(problems.join("\n")).toMatch(/query parameter "sort_dir".*must be equal to one of the allowed values/);
    expect(checkRequest(spec, { method: "GET", url: "/api/v2/users?page[size]=ten" }).join("\n")).toMatch(/"page\[size\]".*must be integer/);
    expect(checkRequest(spec, { method: "GET", url: "/api/v2/users?sort_dir=desc&page[number]=3" })).toEqual([]);
    expect(checkRequest(spec, { method: "GET", url: "/api/v2/users?page[size]=1&page[size]=2" })).toEqual([
      'GET /api/v2/users (ListUsers): query parameter "page[size]" is repeated 2 times',
    ]);
  });

  it("an unknown path, and a known path with an undocumented method", () => {
    expect(checkRequest(spec, { method: "GET", url: "/api/v2/no-such-thing" })).toEqual([
      "GET /api/v2/no-such-thing: no documented operation (no path template matches)",
    ]);
    expect(checkRequest(spec, { method: "PUT", url: "http://127.0.0.1:1/api/v2/users?x=1" })).toEqual([
      "PUT /api/v2/users: no documented operation (path matches /api/v2/users, which documents GET, POST)",
    ]);
    expect(checkResponse(spec, { method: "GET", url: "/api/v2/no-such-thing", status: 200, body: {} })).toHaveLength(1);
  });

  it("a request body with a wrong type, a missing body, and a body where none is documented", () => {
    const url = "/api/v2/roles/r1/users";
    expect(checkRequest(spec, { method: "POST", url, body: { data: { id: "u1", type: "users" } } })).toEqual([]);
    const wrongType = checkRequest(spec, { method: "POST", url, body: { data: { id: 123, type: "users" } } });
    expect(wrongType.join("\n")).toContain("POST /api/v2/roles/{role_id}/users (AddUserToRole): request body: /data/id must be string");
    const wrongEnum = checkRequest(spec, { method: "POST", url, body: { data: { id: "u1", type: "user" } } });
    expect(wrongEnum.join("\n")).toMatch(/\/data\/type must be equal to one of the allowed values \("users"\)/);
    expect(checkRequest(spec, { method: "POST", url })).toEqual(["POST /api/v2/roles/{role_id}/users (AddUserToRole): request body is required"]);
    expect(checkRequest(spec, { method: "POST", url, bodyText: "{not json" })[0]).toContain("request body is not valid JSON");
    expect(checkRequest(spec, { method: "GET", url: "/api/v2/permissions", body: { a: 1 } })[0]).toContain("the operation documents none");
    const patch = "/api/v2/team/t1/memberships/u1";
    expect(checkRequest(spec, { method: "PATCH", url: patch, body: { data: { type: "team_memberships", attributes: { role: null } } } })).toEqual([]);
    expect(
      checkRequest(spec, { method: "PATCH", url: patch, body: { data: { type: "team_memberships", attributes: { role: "owner" } } } }).join("\n"),
    ).toContain("/data/attributes/role must be equal to one of the allowed values");
  });

  it("a response missing a required field, and answers of the wrong kind", async () => {
    const team = sim.org.teams.values()[0];
    const url = `/api/v2/team/${team.id}/memberships?page[size]=100`;
    const real = await call(url);
    proxy.clear();
    expect(checkResponse(spec, { method: "GET", url, status: 200, body: real.body })).toEqual([]);

    const broken = structuredClone(real.body);
    delete broken.data[0].type;
    const problems = checkResponse(spec, { method: "GET", url, status: 200, body: broken });
    expect(problems.join("\n")).toContain(
      "GET /api/v2/team/{team_id}/memberships (GetTeamMemberships) → 200: response body: /data/0 must have required property 'type'",
    );
    // The schema path names where in the spec the rule is, for whoever fixes the server.
    expect(problems.join("\n")).toContain("[schema #/components/schemas/UserTeam/required]");

    expect(checkResponse(spec, { method: "GET", url, status: 418, body: {} })[0]).toContain("status 418 is not documented");
    expect(checkResponse(spec, { method: "GET", url, status: 200, bodyText: "" })[0]).toContain("response body is empty");
    expect(checkResponse(spec, { method: "GET", url, status: 200, bodyText: "<html>" })[0]).toContain("response body is not valid JSON");
    expect(checkResponse(spec, { method: "DELETE", url: `/api/v2/team/${team.id}/memberships/u1`, status: 204, body: { ok: true } })[0]).toContain(
      "documents no response body",
    );
    // Error statuses use their documented (referenced) error schema.
    expect(checkResponse(spec, { method: "GET", url, status: 404, body: { errors: ["Not found"] } })).toEqual([]);
    expect(checkResponse(spec, { method: "GET", url, status: 404, body: { errors: "Not found" } }).join("\n")).toContain("/errors must be array");
  });

  it("nullable beside $ref is honoured (Datadog's generators read it as 'or null')", () => {
    const url = "/api/v2/on-call/teams/t1/routing-rules";
    const rules = (policyData: unknown) => ({
      data: { type: "team_routing_rules", id: "t1", relationships: { rules: { data: [{ id: "r1", type: "team_routing_rules" }] } } },
      included: [{ type: "team_routing_rules", id: "r1", attributes: {}, relationships: { policy: { data: policyData } } }],
    });
    expect(checkResponse(spec, { method: "GET", url, status: 200, body: rules(null) })).toEqual([]);
    expect(checkResponse(spec, { method: "GET", url, status: 200, body: rules({ id: "p1", type: "policies" }) })).toEqual([]);
    expect(checkResponse(spec, { method: "GET", url, status: 200, body: rules("p1") })).not.toEqual([]);
  });

  it("path templates prefer literal segments over parameters", () => {
    expect(matchOperation(spec, "GET", "/api/v2/team/connections")).toEqual({ operationId: "ListTeamConnections", pathTemplate: "/api/v2/team/connections" });
    expect(matchOperation(spec, "GET", "/api/v2/team/abc")).toEqual({ operationId: "GetTeam", pathTemplate: "/api/v2/team/{team_id}" });
    expect(matchOperation(spec, "GET", "/api/v2/roles/templates")?.operationId).toBe("ListRoleTemplates");
    // Parameters of different names at the same place (the spec has both): each template keeps its own tail.
    const teams = new Spec({
      openapi: "3.0.0",
      paths: {
        "/api/v2/team/{super_team_id}/member_teams": { get: { operationId: "ListMemberTeams", responses: {} } },
        "/api/v2/team/{team_id}/links": { get: { operationId: "GetTeamLinks", responses: {} } },
      },
      components: {},
    });
    expect(matchOperation(teams, "GET", "/api/v2/team/abc/member_teams")?.pathTemplate).toBe("/api/v2/team/{super_team_id}/member_teams");
    expect(matchOperation(teams, "GET", "/api/v2/team/abc/links")?.pathTemplate).toBe("/api/v2/team/{team_id}/links");
    expect(matchOperation(spec, "PATCH", "http://h/api/v2/team/abc/memberships/u%201?x=1")).toEqual({
      operationId: "UpdateTeamMembership",
      pathTemplate: "/api/v2/team/{team_id}/memberships/{user_id}",
    });
    expect(matchOperation(spec, "GET", "/api/v2/team//memberships")).toBeUndefined();
    expect(matchOperation(spec, "GET", "/api/v2/users/")).toBeUndefined();
  });

  it("an operation Datadog documents but the committed contract leaves out is a problem, with the fix", () => {
    expect(classifyRequest(spec, "GET", "/api/v2/team/connections")).toMatchObject({ kind: "documented", match: { operationId: "ListTeamConnections" } });
    const [problem, ...rest] = checkRequest(spec, { method: "GET", url: "/api/v2/team/connections" });
    expect(rest).toEqual([]);
    expect(problem).toMatch(/^GET \/api\/v2\/team\/connections \(ListTeamConnections\): documented by Datadog but not in the committed contract .*run `npm run contracts`$/);
    expect(checkResponse(spec, { method: "PATCH", url: "/api/v2/team/t1", status: 200, body: {} })[0]).toContain("(UpdateTeam): documented by Datadog but not in the committed contract");
    expect(checkRequest(spec, { method: "PUT", url: "/api/v2/roles/r1" })).toEqual([
      "PUT /api/v2/roles/r1: no documented operation (path matches /api/v2/roles/{role_id}, which documents GET, DELETE, PATCH)",
    ]);
  });

  it("the allow-list holds exactly the two operations missing from the spec file", () => {
    expect(UNDOCUMENTED_IN_V2_SPEC.map((e) => `${e.method} ${e.pathTemplate}`)).toEqual(["GET /api/v1/validate", "POST /api/v2/delegated-token"]);
    for (const entry of UNDOCUMENTED_IN_V2_SPEC) {
      // Still true of the spec: if Datadog documents one of them, this fails and the entry should go.
      expect(matchOperation(spec, entry.method, entry.pathTemplate)).toBeUndefined();
      expect(classifyRequest(spec, entry.method, entry.pathTemplate)).toEqual({ kind: "allow-listed", entry });
      expect(checkRequest(spec, { method: entry.method, url: entry.pathTemplate })).toEqual([]);
    }
    expect(classifyRequest(spec, "GET", "/api/v1/users").kind).toBe("unknown");
    expect(classifyRequest(spec, "GET", "/api/v2/delegated-token").kind).toBe("unknown");
  });

  it("the recorder captures failed exchanges and the report counts repeats", async () => {
    sim.injectFaults([{ kind: "status", status: 500, count: 2 }]);
    await call("/api/v2/permissions");
    await call("/api/v2/permissions");
    const exchanges: readonly RecordedExchange[] = [...proxy.exchanges];
    proxy.clear();
    expect(exchanges.map((e) => [e.method, e.url, e.status])).toEqual([
      ["GET", "/api/v2/permissions", 500],
      ["GET", "/api/v2/permissions", 500],
    ]);
    expect(exchanges.map((e) => e.seq)).toEqual([exchanges[0].seq, exchanges[0].seq + 1]);
    expect(exchanges.every((e) => !JSON.stringify(e).includes(sim.apiKey) && !JSON.stringify(e).includes(sim.appKey))).toBe(true);
    const report = checkExchanges(spec, exchanges);
    expect(report.operations).toEqual({ ListPermissions: 2 });
    expect(report.problems).toEqual(["GET /api/v2/permissions (ListPermissions) → 500: status 500 is not documented (documented: 200, 400, 403, 429) (×2)"]);
  });

  it("the simulator's wrong-shape faults are caught; unknown fields are allowed, as the spec allows them", async () => {
    const team = sim.org.teams.values()[0];
    const url = `/api/v2/team/${team.id}/memberships?page[size]=100`;
    const problemsWith = async (variant: "drop-required" | "wrong-type" | "nulls" | "unknown-fields"): Promise<string[]> => {
      sim.injectFaults([{ kind: "wrong-shape", variant, count: 1 }]);
      await call(url);
      const report = checkExchanges(spec, proxy.exchanges);
      proxy.clear();
      return report.problems;
    };
    expect((await problemsWith("drop-required")).join("\n")).toContain("/data/0 must have required property 'id'");
    const wrongType = (await problemsWith("wrong-type")).join("\n");
    expect(wrongType).toContain("/data/0/id must be string [schema #/components/schemas/UserTeam/properties/id/type]");
    expect(wrongType).toContain("/data/0/attributes must be object [schema #/components/schemas/UserTeamAttributes/type]");
    expect((await problemsWith("nulls")).join("\n")).toContain("/data/0/id must be string");
    expect(await problemsWith("unknown-fields")).toEqual([]);
  });

  it("the recorder records a connection reset as a failed exchange", async () => {
    sim.injectFaults([{ kind: "reset", count: 1 }]);
    await expect(call("/api/v2/roles?page[size]=5")).rejects.toThrow();
    await expect.poll(() => proxy.exchanges.length).toBe(1);
    const [exchange] = proxy.exchanges;
    proxy.clear();
    expect(exchange.method).toBe("GET");
    expect(exchange.error).toBeDefined();
    expect(checkExchanges(spec, [exchange]).problems).toEqual([`GET /api/v2/roles: ${exchange.error}`]);
  });
});
