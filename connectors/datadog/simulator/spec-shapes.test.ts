/**
 * The simulator's own check that its answers fit Datadog's published response schemas (the project-wide
 * contract test drives the real connector; this one drives every endpoint directly, writes and errors included).
 * The schemas come from the committed contract (test/contract/datadog-contract.json, the operations the client
 * and the simulator use, generated from Datadog's openapi-v2.yaml by `npm run contracts` and checked fresh
 * against it when it is beside the repository).
 */
import { readFileSync } from "node:fs";
import { openapiSchemaToJsonSchema } from "@openapi-contrib/openapi-schema-to-json-schema";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OBSERVED_ERROR_OBJECTS } from "../../../test/contract/openapi.ts";
import { startSimulator, type Simulator } from "./index.ts";
import { call, type Answer } from "./test-support.ts";

const CONTRACT_URL = new URL("../../../test/contract/datadog-contract.json", import.meta.url);

type Spec = {
  paths: Record<string, Record<string, { responses: Record<string, any> }>>;
  components: { schemas: Record<string, any>; responses: Record<string, any> };
};

function strip(schema: any): any {
  if (Array.isArray(schema)) return schema.map(strip);
  if (!schema || typeof schema !== "object") return schema;
  const out: any = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === "$schema" || k === "example" || k === "examples" || k.startsWith("x-")) continue;
    out[k] = strip(v);
  }
  return out;
}

describe("simulator responses validate against Datadog's OpenAPI v2 spec", () => {
  let spec: Spec;
  let ajv: Ajv;
  let sim: Simulator;
  const cache = new Map<string, ValidateFunction>();
  let errorObjects: ValidateFunction;

  beforeAll(async () => {
    spec = JSON.parse(readFileSync(CONTRACT_URL, "utf8")) as Spec;
    const schemas: Record<string, unknown> = {};
    for (const [name, schema] of Object.entries(spec.components.schemas)) {
      schemas[name] = strip(openapiSchemaToJsonSchema(schema, { cloneSchema: true }));
    }
    ajv = new Ajv({ strict: false, allErrors: true });
    const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;
    (addFormats as unknown as (a: Ajv) => void)(ajv);
    ajv.addFormat("int32", true);
    ajv.addFormat("int64", true);
    ajv.addFormat("double", true);
    ajv.addSchema({ $id: "dd.json", components: { schemas } });
    errorObjects = ajv.compile(OBSERVED_ERROR_OBJECTS.schema);
    sim = await startSimulator({ seed: 11, counts: { users: 60, teams: 6, roles: 6, schedules: 5, apiKeys: 8, appKeys: 6, serviceAccounts: 3 } });
  }, 60_000);

  afterAll(async () => {
    await sim?.close();
  });

  /** Validates an answer against the spec's schema for (path template, method, status). */
  function check(template: string, method: string, answer: Answer): void {
    const op = spec.paths[template]?.[method.toLowerCase()];
    expect(op, `${method} ${template} is a documented operation`).toBeDefined();
    let response = op!.responses[String(answer.status)];
    expect(response, `${method} ${template} documents status ${answer.status}: ${answer.text.slice(0, 200)}`).toBeDefined();
    if (response.$ref) response = spec.components.responses[response.$ref.split("/").pop()];
    const schema = response.content?.["application/json"]?.schema;
    if (!schema) {
      expect(answer.text).toBe("");
      return;
    }
    const ref = schema.$ref as string;
    const key = ref ?? JSON.stringify(schema);
    let validate = cache.get(key);
    if (!validate) {
      validate = ref
        ? ajv.compile({ $ref: `dd.json${ref}` })
        : ajv.compile({ $id: `inline-${cache.size}`, ...strip(openapiSchemaToJsonSchema(schema)) });
      cache.set(key, validate);
    }
    // Team and on-call errors are JSON:API error objects in real answers, not the spec's strings (see
    // OBSERVED_ERROR_OBJECTS): those are checked against that shape instead.
    const observed = answer.status >= 400 && OBSERVED_ERROR_OBJECTS.paths.test(template);
    const ok = observed ? errorObjects(answer.body) : validate(answer.body);
    expect(ok, `${method} ${template} ${answer.status}: ${ajv.errorsText(observed ? errorObjects.errors : validate.errors)}`).toBe(true);
  }

  async function get(template: string, path: string): Promise<Answer> {
    const answer = await call(sim, path);
    check(template, "GET", answer);
    return answer;
  }

  it("read endpoints", async () => {
    const users = await get("/api/v2/users", "/api/v2/users?page[size]=100");
    expect(users.body.data).toHaveLength(60);
    const user = users.body.data[0];
    await get("/api/v2/users/{user_id}", `/api/v2/users/${user.id}`);
    await get("/api/v2/users/{user_id}", "/api/v2/users/nope");
    const roles = await get("/api/v2/roles", "/api/v2/roles?page[size]=100");
    const role = roles.body.data[0];
    await get("/api/v2/roles/{role_id}", `/api/v2/roles/${role.id}`);
    await get("/api/v2/roles/{role_id}/users", `/api/v2/roles/${role.id}/users?page[size]=5&page[number]=1`);
    await get("/api/v2/permissions", "/api/v2/permissions");
    const teams = await get("/api/v2/team", "/api/v2/team?page[size]=4&page[number]=1");
    for (const team of sim.org.teams) {
      await get("/api/v2/team/{team_id}", `/api/v2/team/${team.id}`);
      await get("/api/v2/team/{team_id}/memberships", `/api/v2/team/${team.id}/memberships?page[size]=100`);
      await get("/api/v2/on-call/teams/{team_id}/routing-rules", `/api/v2/on-call/teams/${team.id}/routing-rules?include=rules`);
      await get("/api/v2/on-call/teams/{team_id}/routing-rules", `/api/v2/on-call/teams/${team.id}/routing-rules`);
    }
    expect(teams.body.data).toHaveLength(2);
    for (const policy of sim.org.policies.values()) {
      await get("/api/v2/on-call/escalation-policies/{policy_id}", `/api/v2/on-call/escalation-policies/${policy.id}?include=steps.targets,teams`);
      await get("/api/v2/on-call/escalation-policies/{policy_id}", `/api/v2/on-call/escalation-policies/${policy.id}`);
    }
    for (const schedule of sim.org.schedules) {
      await get(
        "/api/v2/on-call/schedules/{schedule_id}",
        `/api/v2/on-call/schedules/${schedule.id}?include=layers,layers.members,layers.members.user,teams`,
      );
    }
    await get("/api/v2/on-call/schedules/{schedule_id}", "/api/v2/on-call/schedules/zzz-zzz-zzz");
    const apiKeys = await get("/api/v2/api_keys", "/api/v2/api_keys?page[size]=100&include=created_by");
    await get("/api/v2/api_keys/{api_key_id}", `/api/v2/api_keys/${apiKeys.body.data[0].id}?include=created_by`);
    const appKeys = await get("/api/v2/application_keys", "/api/v2/application_keys?page[size]=100&include=owned_by");
    await get("/api/v2/application_keys/{app_key_id}", `/api/v2/application_keys/${appKeys.body.data[0].id}?include=owned_by`);
    const account = sim.org.users.values().find((u) => u.serviceAccount)!;
    await get(
      "/api/v2/service_accounts/{service_account_id}/application_keys",
      `/api/v2/service_accounts/${account.id}/application_keys?page[size]=100`,
    );
  });

  it("write endpoints and their documented errors", async () => {
    const roleId = sim.org.roles.values()[1].id;
    const user = sim.org.users.values().find((u) => !sim.org.roles.get(roleId)!.users.has(u.id))!;
    const rel = { data: { id: user.id, type: "users" } };
    check("/api/v2/roles/{role_id}/users", "POST", await call(sim, `/api/v2/roles/${roleId}/users`, { method: "POST", body: rel }));
    check("/api/v2/roles/{role_id}/users", "DELETE", await call(sim, `/api/v2/roles/${roleId}/users`, { method: "DELETE", body: rel }));
    check("/api/v2/roles/{role_id}/users", "POST", await call(sim, `/api/v2/roles/${roleId}/users`, { method: "POST", body: { data: {} } }));

    const team = sim.org.teams.values()[0];
    const outsider = sim.org.users.values().find((u) => !team.members.has(u.id))!;
    const membership = {
      data: { type: "team_memberships", attributes: { role: "admin" }, relationships: { user: { data: { id: outsider.id, type: "users" } } } },
    };
    const path = `/api/v2/team/${team.id}/memberships`;
    check("/api/v2/team/{team_id}/memberships", "POST", await call(sim, path, { method: "POST", body: membership }));
    check("/api/v2/team/{team_id}/memberships", "POST", await call(sim, path, { method: "POST", body: membership }));
    const patch = { data: { type: "team_memberships", attributes: { role: null } } };
    check("/api/v2/team/{team_id}/memberships/{user_id}", "PATCH", await call(sim, `${path}/${outsider.id}`, { method: "PATCH", body: patch }));
    check("/api/v2/team/{team_id}/memberships/{user_id}", "DELETE", await call(sim, `${path}/${outsider.id}`, { method: "DELETE" }));
    check("/api/v2/team/{team_id}/memberships/{user_id}", "DELETE", await call(sim, `${path}/${outsider.id}`, { method: "DELETE" }));

    const created = await call(sim, "/api/v2/users", {
      method: "POST",
      body: { data: { type: "users", attributes: { email: "new.person@example.com", name: "New Person" } } },
    });
    check("/api/v2/users", "POST", created);
    check("/api/v2/users", "POST", await call(sim, "/api/v2/users", { method: "POST", body: { data: { type: "users", attributes: {} } } }));
    const invitation = await call(sim, "/api/v2/user_invitations", {
      method: "POST",
      body: { data: [{ type: "user_invitations", relationships: { user: { data: { id: created.body.data.id, type: "users" } } } }] },
    });
    check("/api/v2/user_invitations", "POST", invitation);
    check("/api/v2/users/{user_id}", "DELETE", await call(sim, `/api/v2/users/${created.body.data.id}`, { method: "DELETE" }));

    const account = sim.org.users.values().find((u) => u.serviceAccount)!;
    const keyPath = `/api/v2/service_accounts/${account.id}/application_keys`;
    const key = await call(sim, keyPath, {
      method: "POST",
      body: { data: { type: "application_keys", attributes: { name: "rotated", scopes: ["user_access_read"] } } },
    });
    check("/api/v2/service_accounts/{service_account_id}/application_keys", "POST", key);
    check(
      "/api/v2/service_accounts/{service_account_id}/application_keys/{app_key_id}",
      "DELETE",
      await call(sim, `${keyPath}/${key.body.data.id}`, { method: "DELETE" }),
    );
    const apiKey = sim.org.apiKeys.values()[0];
    check("/api/v2/api_keys/{api_key_id}", "DELETE", await call(sim, `/api/v2/api_keys/${apiKey.id}`, { method: "DELETE" }));
    check("/api/v2/api_keys/{api_key_id}", "DELETE", await call(sim, `/api/v2/api_keys/${apiKey.id}`, { method: "DELETE" }));
    const appKey = sim.org.appKeys.values()[0];
    check("/api/v2/application_keys/{app_key_id}", "DELETE", await call(sim, `/api/v2/application_keys/${appKey.id}`, { method: "DELETE" }));
  });

  it("the validator is live: a wrong-type answer is rejected", async () => {
    sim.injectFaults([{ kind: "wrong-shape", variant: "wrong-type", count: 1 }]);
    const broken = await call(sim, "/api/v2/users?page[size]=3");
    expect(() => check("/api/v2/users", "GET", broken)).toThrow(/must be/);
  });

  it("auth errors use the documented error body", async () => {
    check("/api/v2/users", "GET", await call(sim, "/api/v2/users", { headers: { "DD-API-KEY": "wrong" } }));
  });
});
