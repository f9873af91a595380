/** DatadogClient against small node:http servers that answer like Datadog (shapes from the spec). */
import { inspect } from "node:util";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { HttpError, HttpErrorCode } from "../../../src/index.ts";
import { json, startHttpServer } from "../../../test/http/servers.ts";
import { StaticKeyProvider } from "./credentials.ts";
import { DatadogClient } from "./datadog-client.ts";
import { rejection } from "../../../test/helpers/rejection.ts";

const API_KEY = "api-key-VALUE-0123456789abcdef";
const APP_KEY = "app-key-VALUE-fedcba9876543210abcdef";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

/** Warnings the client logged, as parsed JSON lines. */
const warnings: Record<string, unknown>[] = [];
const logger = pino({ level: "warn" }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
afterEach(() => {
  warnings.length = 0;
});

async function fake(handler: (req: Seen, res: import("node:http").ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = await startHttpServer((req, res, body) => {
    const url = new URL(req.url!, "http://x");
    const s = { method: req.method!, path: url.pathname, query: url.searchParams, body: body ? JSON.parse(body) : undefined };
    seen.push(s);
    if (req.headers["dd-api-key"] !== API_KEY || req.headers["dd-application-key"] !== APP_KEY) return json(res, 403, { errors: ["Forbidden"] });
    handler(s, res);
  });
  cleanups.push(server.close);
  const client = new DatadogClient({
    baseUrl: server.url,
    credentials: new StaticKeyProvider(API_KEY, APP_KEY),
    logger,
    http: { backoff: { baseMs: 5, maxMs: 20 }, proxy: { httpProxy: "", httpsProxy: "", noProxy: "" }, maxRetries: 2 },
  });
  cleanups.push(() => client.close());
  return { seen, client, server };
}

function user(i: number, extra: Record<string, unknown> = {}) {
  return {
    type: "users",
    id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    attributes: { email: `user${i}@example.com`, handle: `user${i}@example.com`, name: `User ${i}`, status: "Active", disabled: false, ...extra },
    relationships: { roles: { data: [{ id: "10000000-0000-4000-8000-000000000001", type: "roles" }] }, org: { data: { id: "o-1", type: "orgs" } } },
  };
}

function usersPage(q: URLSearchParams, total: number, withTotal = true) {
  const size = Number(q.get("page[size]"));
  const number = Number(q.get("page[number]"));
  const data = [];
  for (let i = number * size; i < Math.min(total, (number + 1) * size); i++) data.push(user(i));
  return { data, included: [], meta: withTotal ? { page: { total_count: total, total_filtered_count: total } } : {} };
}

const failure = (p: Promise<unknown>) => rejection(p, HttpError);

async function collect<T>(gen: AsyncGenerator<T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const page of gen) out.push(...page);
  return out;
}

describe("pagination", () => {
  it("asks for page[size]=100 and stops on a full last page thanks to meta.page.total_count (no extra request)", async () => {
    const { seen, client } = await fake((s, res) => json(res, 200, usersPage(s.query, 300)));
    const users = await collect(client.allUsers());
    expect(users).toHaveLength(300);
    expect(seen.map((s) => s.query.get("page[number]"))).toEqual(["0", "1", "2"]);
    expect(seen.every((s) => s.query.get("page[size]") === "100")).toBe(true);
  });

  it("stops on a short page when there is no total", async () => {
    const { seen, client } = await fake((s, res) => json(res, 200, usersPage(s.query, 250, false)));
    expect(await collect(client.allUsers())).toHaveLength(250);
    expect(seen).toHaveLength(3);
  });

  it("needs one extra (empty) request only when nothing says the full page was the last", async () => {
    const { seen, client } = await fake((s, res) => json(res, 200, usersPage(s.query, 200, false)));
    expect(await collect(client.allUsers())).toHaveLength(200);
    expect(seen).toHaveLength(3);
  });

  it("offers page-at-a-time access with the next page number", async () => {
    const { client } = await fake((s, res) => json(res, 200, usersPage(s.query, 150)));
    const p0 = await client.listUsersPage(0);
    expect(p0).toMatchObject({ nextPage: 1, total: 150 });
    const p1 = await client.listUsersPage(1);
    expect(p1.items).toHaveLength(50);
    expect(p1.nextPage).toBeUndefined();
    await expect(client.listUsersPage(-1)).rejects.toThrow(/page number must be an integer >= 0/);
  });

  it("pages teams by meta.pagination.total", async () => {
    const { seen, client } = await fake((s, res) => {
      const n = Number(s.query.get("page[number]"));
      const data = Array.from({ length: n === 0 ? 100 : 100 }, (_, i) => ({
        type: "team",
        id: `20000000-0000-4000-8${n}00-${String(i).padStart(12, "0")}`,
        attributes: { name: `Team ${i}`, handle: `team-${n}-${i}`, user_count: 3 },
      }));
      json(res, 200, { data, links: { self: "x" }, meta: { pagination: { total: 200, limit: 100, offset: n * 100 } } });
    });
    expect(await collect(client.allTeams())).toHaveLength(200);
    expect(seen).toHaveLength(2);
    expect(seen[0].path).toBe("/api/v2/team");
  });
});

describe("response validation", () => {
  it("names the operation and the field path of a malformed answer", async () => {
    const { client } = await fake((s, res) => {
      const page = usersPage(s.query, 10);
      (page.data[3].attributes as Record<string, unknown>).email = 42;
      json(res, 200, page);
    });
    const err = await failure(client.listUsersPage(0));
    expect(err.code).toBe(HttpErrorCode.INVALID_RESPONSE);
    expect(err.message).toBe("ListUsers: response field data[3].attributes.email: expected string, received number");
  });

  it("skips entries it cannot use (a field the spec leaves optional is missing, an id of the wrong shape), in one warning", async () => {
    let mode = "sparse";
    const { client } = await fake((s, res) => {
      const page = usersPage(s.query, 6);
      if (mode === "sparse") {
        delete (page.data[1].attributes as Record<string, unknown>).email;
        delete (page.data[2] as Record<string, unknown>).id;
        delete (page.data[3] as Record<string, unknown>).attributes;
        (page.data[4] as Record<string, unknown>).id = "..";
      } else {
        (page.data[0] as Record<string, unknown>).brand_new_field = { nested: true };
        (page.data[0].attributes as Record<string, unknown>).title = null;
        (page.data[0].attributes as Record<string, unknown>).last_login_time = null;
      }
      json(res, 200, page);
    });
    const sparse = await client.listUsersPage(0);
    expect(sparse.items.map((u) => u.attributes.email)).toEqual(["user0@example.com", "user5@example.com"]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ operation: "ListUsers", skipped: 4, seen: 6 });
    expect(warnings[0].msg).toBe(
      "ListUsers: skipped 4 of 6 entries of GET /api/v2/users (page 0) that the connector cannot use " +
        "(1 without attributes.email, 1 without id, 1 without attributes, 1 with an id that is not a UUID (not a user id))",
    );
    mode = "extra";
    const ok = await client.listUsersPage(0);
    expect(ok.items[0].attributes.title).toBeNull();
    expect(warnings).toHaveLength(1);
  });

  it("rejects a wrong resource type and a body that is not an object", async () => {
    let body: unknown = { data: [{ ...user(0), type: "roles" }] };
    const { client } = await fake((_s, res) => json(res, 200, body));
    expect((await failure(client.listUsersPage(0))).message).toBe('ListUsers: response field data[0].type: expected "users"');
    body = [1, 2];
    expect((await failure(client.listUsersPage(0))).message).toBe("ListUsers: response body: expected object, received array");
  });

  it("does not look at `included` objects it never reads: one without an id does not fail the team listing", async () => {
    // Issue 12, defect 7: this answer (valid under the spec: TeamIncluded's User requires no id) failed the sync
    // with "ListTeams: response field included[0].id: expected string, but it is missing".
    const { client } = await fake((_s, res) =>
      json(res, 200, {
        data: [{ type: "team", id: "20000000-0000-4000-8000-000000000001", attributes: { name: "Ops", handle: "ops" } }],
        included: [{ type: "users", attributes: { email: "" } }, { attributes: {} }, { type: "team_links", id: 7 }],
        meta: { pagination: { total: 1 } },
      }),
    );
    const page = await client.listTeamsPage(0);
    expect(page.items.map((t) => t.attributes.handle)).toEqual(["ops"]);
    expect(warnings).toEqual([]);
  });

  it("checks a role's members for who they are only (one without an id is skipped); their attributes are the users listing's business", async () => {
    let mode = "odd attributes";
    const { client } = await fake((s, res) => {
      const page = usersPage(s.query, 4);
      if (mode === "odd attributes") (page.data[2].attributes as Record<string, unknown>).email = 42;
      else delete (page.data[1] as Record<string, unknown>).id;
      json(res, 200, page);
    });
    expect((await client.listRoleUsersPage("10000000-0000-4000-8000-000000000001", 0)).items.map((u) => u.id)).toHaveLength(4);
    mode = "no id";
    // The spec's User requires no id: such a member is skipped and counted, not fatal. A wrong type still is.
    expect((await client.listRoleUsersPage("10000000-0000-4000-8000-000000000001", 0)).items).toHaveLength(3);
    expect(warnings.at(-1)).toMatchObject({ operation: "ListRoleUsers", skipped: 1, reasons: { "without id": 1 } });
  });

  it("validates included users of a membership page with their own path", async () => {
    const { client } = await fake((_s, res) =>
      json(res, 200, {
        data: [
          {
            type: "team_memberships",
            id: "m-1",
            attributes: { role: "admin" },
            relationships: { user: { data: { id: "00000000-0000-4000-8000-000000000001", type: "users" } }, team: { data: { id: "20000000-0000-4000-8000-000000000001", type: "team" } } },
          },
        ],
        included: [{ type: "team_links", id: "l-1" }, { type: "users", id: "00000000-0000-4000-8000-000000000001", attributes: { email: null } }],
        meta: { pagination: { total: 1 } },
      }),
    );
    // A sync needs only the memberships; the included users are validated when first read.
    const page = await client.listTeamMembershipsPage("20000000-0000-4000-8000-000000000001", 0);
    expect(page.items).toHaveLength(1);
    const err = await failure(Promise.resolve().then(() => page.users));
    expect(err.message).toBe("GetTeamMemberships: response field included[1].attributes.email: expected string, received null");
  });
});

describe("resources", () => {
  it("returns team memberships with their users from `included`, in one request", async () => {
    const { seen, client } = await fake((_s, res) =>
      json(res, 200, {
        data: [1, 2].map((i) => ({
          type: "team_memberships",
          id: `m-${i}`,
          attributes: { role: i === 1 ? "admin" : null },
          relationships: { user: { data: { id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`, type: "users" } } },
        })),
        included: [user(1), user(2)],
        links: {},
        meta: { pagination: { total: 2 } },
      }),
    );
    const page = await client.listTeamMembershipsPage("20000000-0000-4000-8000-000000000001", 0);
    expect(seen).toHaveLength(1);
    expect(seen[0].path).toBe("/api/v2/team/20000000-0000-4000-8000-000000000001/memberships");
    expect(page.items.map((m) => m.attributes?.role ?? null)).toEqual(["admin", null]);
    expect(page.users.get("00000000-0000-4000-8000-000000000002")?.attributes.email).toBe("user2@example.com");
    expect(page.nextPage).toBeUndefined();
  });

  it("walks routing rules → escalation policy → schedule with the documented includes", async () => {
    const { seen, client } = await fake((s, res) => {
      if (s.path.endsWith("/routing-rules")) {
        return json(res, 200, {
          data: { type: "team_routing_rules", id: "20000000-0000-4000-8000-000000000001", relationships: { rules: { data: [{ id: "rr-1", type: "team_routing_rules" }, { id: "rr-2", type: "team_routing_rules" }] } } },
          included: [
            { type: "team_routing_rules", id: "rr-1", attributes: { query: "" }, relationships: { policy: { data: { id: "30000000-0000-4000-8000-000000000001", type: "policies" } } } },
            { type: "team_routing_rules", id: "rr-2", attributes: {}, relationships: {} },
          ],
        });
      }
      if (s.path.includes("/escalation-policies/")) {
        return json(res, 200, {
          data: {
            type: "policies",
            id: "30000000-0000-4000-8000-000000000001",
            attributes: { name: "Primary" },
            relationships: { steps: { data: [{ id: "st-1", type: "steps" }] }, teams: { data: [{ id: "20000000-0000-4000-8000-000000000001", type: "teams" }] } },
          },
          included: [
            {
              type: "steps",
              id: "st-1",
              relationships: {
                targets: {
                  data: [
                    { id: "40000000-0000-4000-8000-000000000001", type: "schedules" },
                    { id: "s-2_current", type: "schedule_target" },
                    { id: "00000000-0000-4000-8000-000000000009", type: "users" },
                  ],
                },
              },
            },
            { type: "schedule_target", id: "s-2_current", attributes: { position: "current" }, relationships: { schedule: { data: { id: "40000000-0000-4000-8000-000000000002", type: "schedules" } } } },
          ],
        });
      }
      return json(res, 200, {
        data: {
          type: "schedules",
          id: "40000000-0000-4000-8000-000000000001",
          attributes: { name: "Primary rota", time_zone: "Europe/Paris" },
          relationships: { layers: { data: [{ id: "l-1", type: "layers" }] }, teams: { data: [{ id: "20000000-0000-4000-8000-000000000001", type: "teams" }] } },
        },
        included: [
          { type: "layers", id: "l-1", attributes: { name: "Week" }, relationships: { members: { data: [{ id: "mb-1", type: "members" }, { id: "mb-2", type: "members" }] } } },
          { type: "members", id: "mb-1", relationships: { user: { data: { id: "00000000-0000-4000-8000-000000000001", type: "users" } } } },
          { type: "members", id: "mb-2", relationships: { user: { data: { id: "00000000-0000-4000-8000-000000000002", type: "users" } } } },
          { type: "users", id: "00000000-0000-4000-8000-000000000001", attributes: { email: "a@example.com", name: "A", status: "active" } },
          { type: "users", id: "00000000-0000-4000-8000-000000000002", attributes: { email: "b@example.com", status: "pending" } },
          { type: "teams", id: "20000000-0000-4000-8000-000000000001", attributes: { name: "Ops", handle: "ops" } },
        ],
      });
    });
    const rules = await client.getTeamOnCallRoutingRules("20000000-0000-4000-8000-000000000001");
    expect(rules.policyIds).toEqual(["30000000-0000-4000-8000-000000000001"]);
    expect(rules.rules).toEqual([
      { id: "rr-1", policyId: "30000000-0000-4000-8000-000000000001" },
      { id: "rr-2", policyId: undefined },
    ]);
    const policy = await client.getOnCallEscalationPolicy("30000000-0000-4000-8000-000000000001");
    expect(policy.scheduleIds).toEqual(["40000000-0000-4000-8000-000000000001", "40000000-0000-4000-8000-000000000002"]);
    expect(policy.userIds).toEqual(["00000000-0000-4000-8000-000000000009"]);
    const schedule = await client.getOnCallSchedule("40000000-0000-4000-8000-000000000001");
    expect(schedule.layers).toEqual([{ id: "l-1", name: "Week", userIds: ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"] }]);
    expect(schedule.users.map((u) => u.email)).toEqual(["a@example.com", "b@example.com"]);
    expect(schedule.teams).toEqual([{ id: "20000000-0000-4000-8000-000000000001", name: "Ops", handle: "ops" }]);
    expect(seen.map((s) => s.query.get("include"))).toEqual(["rules", "steps.targets", "layers,layers.members,layers.members.user,teams"]);
  });

  it("sends the spec's request bodies for writes", async () => {
    const { seen, client } = await fake((s, res) => {
      if (s.method === "DELETE" && !s.path.includes("/roles/")) {
        res.writeHead(204);
        return res.end();
      }
      if (s.path.startsWith("/api/v2/roles/")) return json(res, 200, { data: [user(1)] });
      if (s.path.startsWith("/api/v2/team/")) {
        return json(res, 200, {
          data: { type: "team_memberships", id: "m", attributes: { role: null }, relationships: { user: { data: { id: "00000000-0000-4000-8000-000000000001", type: "users" } } } },
        });
      }
      if (s.path === "/api/v2/users") return json(res, 201, { data: user(7) });
      if (s.path === "/api/v2/user_invitations") {
        return json(res, 201, {
          data: [{ type: "user_invitations", id: "inv-1", attributes: { expires_at: "2030-01-01T00:00:00Z" }, relationships: { user: { data: { id: "00000000-0000-4000-8000-000000000007", type: "users" } } } }],
        });
      }
      if (s.path.endsWith("/application_keys")) {
        return json(res, 201, {
          data: {
            type: "application_keys",
            id: "60000000-0000-4000-8000-000000000001",
            attributes: { name: "rotated", key: "NEW-SECRET-KEY-VALUE", scopes: ["dashboards_read"], created_at: "2030-01-01T00:00:00Z" },
            relationships: { owned_by: { data: { id: "50000000-0000-4000-8000-000000000001", type: "users" } } },
          },
        });
      }
      json(res, 404, { errors: ["nope"] });
    });
    await client.addUserToRole("10000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000001");
    await client.removeUserFromRole("10000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000001");
    await client.createTeamMembership("20000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000001", null);
    await client.createTeamMembership("20000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000001", "admin");
    await client.updateTeamMembership("20000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000001", null);
    await client.deleteTeamMembership("20000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000001");
    const created = await client.createUser({ email: "new@example.com", name: "New", roleIds: ["10000000-0000-4000-8000-000000000001"] });
    const invitations = await client.sendInvitations([created.id]);
    await client.disableUser("00000000-0000-4000-8000-000000000007");
    const key = await client.createServiceAccountApplicationKey("50000000-0000-4000-8000-000000000001", { name: "rotated", scopes: ["dashboards_read"] });
    await client.deleteServiceAccountApplicationKey("50000000-0000-4000-8000-000000000001", "60000000-0000-4000-8000-000000000000");
    await client.deleteAPIKey("70000000-0000-4000-8000-000000000001");
    await client.deleteApplicationKey("60000000-0000-4000-8000-000000000000");

    expect(invitations[0].attributes?.expires_at).toBe("2030-01-01T00:00:00Z");
    expect(key).toMatchObject({ id: "60000000-0000-4000-8000-000000000001", ownerId: "50000000-0000-4000-8000-000000000001", key: "NEW-SECRET-KEY-VALUE", scopes: ["dashboards_read"] });
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      "POST /api/v2/roles/10000000-0000-4000-8000-000000000001/users",
      "DELETE /api/v2/roles/10000000-0000-4000-8000-000000000001/users",
      "POST /api/v2/team/20000000-0000-4000-8000-000000000001/memberships",
      "POST /api/v2/team/20000000-0000-4000-8000-000000000001/memberships",
      "PATCH /api/v2/team/20000000-0000-4000-8000-000000000001/memberships/00000000-0000-4000-8000-000000000001",
      "DELETE /api/v2/team/20000000-0000-4000-8000-000000000001/memberships/00000000-0000-4000-8000-000000000001",
      "POST /api/v2/users",
      "POST /api/v2/user_invitations",
      "DELETE /api/v2/users/00000000-0000-4000-8000-000000000007",
      "POST /api/v2/service_accounts/50000000-0000-4000-8000-000000000001/application_keys",
      "DELETE /api/v2/service_accounts/50000000-0000-4000-8000-000000000001/application_keys/60000000-0000-4000-8000-000000000000",
      "DELETE /api/v2/api_keys/70000000-0000-4000-8000-000000000001",
      "DELETE /api/v2/application_keys/60000000-0000-4000-8000-000000000000",
    ]);
    expect(seen.map((s) => s.body)).toEqual([
      { data: { id: "00000000-0000-4000-8000-000000000001", type: "users" } },
      { data: { id: "00000000-0000-4000-8000-000000000001", type: "users" } },
      { data: { type: "team_memberships", relationships: { user: { data: { id: "00000000-0000-4000-8000-000000000001", type: "users" } } } } },
      { data: { type: "team_memberships", relationships: { user: { data: { id: "00000000-0000-4000-8000-000000000001", type: "users" } } }, attributes: { role: "admin" } } },
      { data: { type: "team_memberships", attributes: { role: null } } },
      undefined,
      { data: { type: "users", attributes: { email: "new@example.com", name: "New" }, relationships: { roles: { data: [{ id: "10000000-0000-4000-8000-000000000001", type: "roles" }] } } } },
      { data: [{ type: "user_invitations", relationships: { user: { data: { id: "00000000-0000-4000-8000-000000000007", type: "users" } } } }] },
      undefined,
      { data: { type: "application_keys", attributes: { name: "rotated", scopes: ["dashboards_read"] } } },
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("does not retry a key creation after a 503 (it could create two keys)", async () => {
    const { seen, client } = await fake((_s, res) => json(res, 503, { errors: ["unavailable"] }));
    await failure(client.createServiceAccountApplicationKey("50000000-0000-4000-8000-000000000001", { name: "x" }));
    expect(seen).toHaveLength(1);
    seen.length = 0;
    await failure(client.listUsersPage(0));
    expect(seen).toHaveLength(3); // GETs are retried (maxRetries 2)
  });
});

describe("errors", () => {
  it("names the permission the operation needs on 403", async () => {
    const { client } = await fake((_s, res) => json(res, 403, { errors: ["Forbidden"] }));
    const err = await failure(client.listTeamsPage(0));
    expect(err.status).toBe(403);
    expect(err.message).toContain("ListTeams: GET");
    expect(err.message).toContain("needs the teams_read permission");
  });

  it("keeps both keys out of every error, even when the server echoes them", async () => {
    const { client } = await fake((_s, res) => json(res, 400, { errors: [`bad key ${API_KEY} / ${APP_KEY}`] }));
    const err = await failure(client.listUsersPage(0));
    const text = `${err.message} ${inspect(err, { depth: 10 })} ${JSON.stringify(err)} ${inspect(client, { depth: 5 })}`;
    expect(text).not.toContain(API_KEY);
    expect(text).not.toContain(APP_KEY);
  });

  it("rejects ids that are not of their kind's shape before sending anything", async () => {
    const { seen, client } = await fake((_s, res) => json(res, 200, {}));
    await expect(client.getUser("")).rejects.toThrow("invalid Datadog user id: is empty; no request was sent");
    await expect(client.deleteTeamMembership("20000000-0000-4000-8000-000000000001", "..")).rejects.toThrow(/invalid Datadog user id: "\.\."/);
    await expect(client.deleteTeamMembership("a/b", "00000000-0000-4000-8000-000000000001")).rejects.toThrow(/invalid Datadog team id/);
    await expect(client.addUserToRole("10000000-0000-4000-8000-000000000001", "%2e%2e")).rejects.toThrow(/invalid Datadog user id/);
    await expect(client.createUser({ email: "a@example.com", roleIds: ["."] })).rejects.toThrow(/invalid Datadog role id/);
    expect(seen).toHaveLength(0);
  });

  it("refuses empty keys and http to a non-loopback host", () => {
    expect(() => new StaticKeyProvider("", "x")).toThrow(/API key is empty/);
    expect(() => new StaticKeyProvider("x", " ")).toThrow(/application key is empty/);
    expect(
      () => new DatadogClient({ baseUrl: "http://api.datadoghq.com", credentials: new StaticKeyProvider("a", "b") }),
    ).toThrow(/only allowed for loopback/);
    expect(() => new DatadogClient({ site: "XX9", credentials: new StaticKeyProvider("a", "b") })).toThrow(/valid sites: US1/);
  });
});
