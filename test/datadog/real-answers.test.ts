/**
 * The connector against answers shaped like the ones recorded from the real Datadog API (issue 17), where they
 * differ from the spec or from what the simulator used to send. Each case serves the real shape from the
 * simulator (a route added over the built-in one, or the simulator's own answer where it now matches Datadog),
 * syncs or provisions through the connector, and checks what reaches the c1z or the caller.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { findAnnotation, hasAnnotation } from "../../src/connector/annotations.ts";
import { GrantAlreadyRevokedSchema, GrantMetadataSchema } from "../../src/gen/c1/connector/v2/annotation_grant_pb.js";
import { SecretTraitSchema, UserTraitSchema } from "../../src/gen/c1/connector/v2/annotation_trait_pb.js";
import { ResourceIdSchema, type Resource } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { runOneShot } from "../../src/provision/oneshot.ts";
import { expectedCounts, type RouteHandler } from "../../connectors/datadog/simulator/index.ts";
import { readSync, startHarness, type Harness } from "./harness.ts";

const trait = <T>(r: Resource, schema: Parameters<typeof findAnnotation>[1]) => findAnnotation(r.annotations, schema) as T;
const resourceId = (resourceType: string, resource: string) => create(ResourceIdSchema, { resourceType, resource });

const UUID_A = "2f9b1c1e-5d7a-4c1e-9a51-000000000a01";
const UUID_B = "2f9b1c1e-5d7a-4c1e-9a51-000000000b02";
const ORG = "6a1e7f52-0000-4000-8000-00000000c0de";

/** One page of a listing whose entries are `data`; the envelope is what real key and user listings send. */
const listing = (data: unknown[], extra: Record<string, unknown> = {}): RouteHandler => () => ({
  status: 200,
  body: { data, meta: { page: { total_count: data.length, total_filtered_count: data.length } }, ...extra },
});

describe("mapping of real answers", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ provisioning: true, counts: { users: 12, teams: 2, roles: 3, schedules: 1, apiKeys: 2, appKeys: 2, serviceAccounts: 1 } });
  });
  afterAll(() => h.close());

  it("application keys: only owned_by in the answer, so no creator is claimed; the owner is the identity", async () => {
    h.sim.addRoute(
      "GET",
      "/api/v2/application_keys",
      listing([
        {
          type: "application_keys",
          id: UUID_A,
          attributes: { name: "ci", created_at: "2024-03-01T10:00:00.000000+00:00", last4: "ab12", last_used_at: null, scopes: null },
          relationships: { owned_by: { data: { type: "users", id: UUID_B } } },
        },
      ]),
    );
    const { file } = await h.sync("app-keys.c1z");
    const r = await readSync(file, (s, id) => s.getResource(id, "application-key", UUID_A)!);
    const t = trait<{ createdById?: unknown; identityId?: { resource: string } }>(r, SecretTraitSchema);
    expect(t.identityId?.resource).toBe(UUID_B);
    expect(t.createdById).toBeUndefined();
    expect(r.profile?.owner_id).toBe(UUID_B);
  });

  it("API keys: last use from last_used_date.timestamp when date_last_used is null; used_in_last_24_hours kept", async () => {
    const key = (id: string, attributes: Record<string, unknown>) => ({
      type: "api_keys",
      id,
      attributes: { name: id.slice(-4), created_at: "2023-05-01T00:00:00.000Z", last4: "zz99", category: "default", ...attributes },
      relationships: { created_by: { data: { type: "users", id: UUID_B } } },
    });
    h.sim.addRoute(
      "GET",
      "/api/v2/api_keys",
      listing([
        key(UUID_A, { date_last_used: null, last_used_date: { timestamp: "2025-11-30T08:15:00.000Z" }, used_in_last_24_hours: true }),
        // Epoch seconds: the timestamp's type is not documented, so a number is read too.
        key(UUID_B, { date_last_used: "2025-01-02T03:04:05.000Z", last_used_date: { timestamp: 1764490500 }, used_in_last_24_hours: false }),
      ]),
    );
    const { file } = await h.sync("api-keys.c1z");
    await readSync(file, (s, id) => {
      const a = s.getResource(id, "api-key", UUID_A)!;
      const ta = trait<{ lastUsedAt?: { seconds: bigint } }>(a, SecretTraitSchema);
      expect(Number(ta.lastUsedAt?.seconds) * 1000).toBe(Date.parse("2025-11-30T08:15:00.000Z"));
      expect(a.profile?.used_in_last_24_hours).toBe(true);
      const b = s.getResource(id, "api-key", UUID_B)!;
      // The later of the two dates is the last use.
      expect(Number(trait<{ lastUsedAt?: { seconds: bigint } }>(b, SecretTraitSchema).lastUsedAt?.seconds)).toBe(1764490500);
      expect(b.profile?.used_in_last_24_hours).toBe(false);
    });
  });

  it("users: allowed_login_methods goes to the profile; an older account without mfa_enabled / last_login_time stays unknown", async () => {
    const user = (id: string, attributes: Record<string, unknown>) => ({
      type: "users",
      id,
      attributes: {
        name: null,
        handle: `${id.slice(-4)}@example.com`,
        email: `${id.slice(-4)}@example.com`,
        icon: "https://secure.gravatar.com/avatar/x",
        title: null,
        verified: true,
        service_account: false,
        disabled: false,
        status: "Active",
        created_at: "2019-02-03T04:05:06.000000+00:00",
        modified_at: "2019-02-03T04:05:06.000000+00:00",
        ...attributes,
      },
      relationships: { roles: { data: [] }, org: { data: { type: "orgs", id: ORG } } },
    });
    h.sim.addRoute(
      "GET",
      "/api/v2/users",
      listing([
        user(UUID_A, { allowed_login_methods: [] }),
        user(UUID_B, { allowed_login_methods: ["saml", { type: "google" }, "saml"], mfa_enabled: false, last_login_time: "2025-06-01T00:00:00.000Z" }),
      ]),
    );
    const { file } = await h.sync("users.c1z");
    await readSync(file, (s, id) => {
      const old = s.getResource(id, "user", UUID_A)!;
      const to = trait<{ mfaStatus?: unknown; lastLogin?: unknown }>(old, UserTraitSchema);
      expect([to.mfaStatus, to.lastLogin, old.profile?.mfa_enabled]).toEqual([undefined, undefined, undefined]);
      expect(old.profile?.allowed_login_methods).toEqual([]);
      const recent = s.getResource(id, "user", UUID_B)!;
      const tr = trait<{ mfaStatus?: { mfaEnabled: boolean } }>(recent, UserTraitSchema);
      expect(tr.mfaStatus?.mfaEnabled).toBe(false);
      expect(recent.profile?.allowed_login_methods).toEqual(["google", "saml"]);
    });
  });

  it("team memberships: number-based pages with links.next on the last page end the listing; provisioned_by(_id) is grant metadata", async () => {
    const team = h.sim.org.teams.values()[0];
    const members = [UUID_A, UUID_B];
    let asked = 0;
    h.sim.addRoute("GET", "/api/v2/team/{team_id}/memberships", ({ params, url }) => {
      if (params.team_id !== team.id) return { status: 200, body: { data: [], links: { next: `${url}&x=1` }, meta: { pagination: { total: 0, last_number: 0, number: 0, type: "number_size" } } } };
      asked++;
      const number = Number(url.searchParams.get("page[number]") ?? 0);
      const size = Number(url.searchParams.get("page[size]"));
      const page = members.slice(number * size, number * size + size);
      return {
        status: 200,
        body: {
          data: page.map((userId, i) => ({
            type: "team_memberships",
            // Membership ids are their own, not the user's.
            id: `9d0c${String(i).padStart(4, "0")}-0000-4000-8000-${userId.slice(-12)}`,
            attributes: {
              role: i === 0 ? "admin" : null,
              provisioned_by: i === 0 ? "service_account" : "saml_mapping",
              provisioned_by_id: i === 0 ? UUID_B : null,
            },
            relationships: { user: { data: { type: "users", id: userId } } },
          })),
          included: page.map((userId) => ({
            type: "users",
            id: userId,
            attributes: { name: null, handle: `${userId}@x.example`, email: `${userId}@x.example`, icon: "i", disabled: false, service_account: false },
          })),
          links: { self: url.toString(), next: `${url.origin}${url.pathname}?page[number]=${number + 1}&page[size]=${size}` },
          meta: {
            pagination: { number, next_number: number + 1, last_number: 0, prev_number: 0, size, type: "number_size", total: members.length, offset: 0 },
          },
        },
      };
    });
    const { file } = await h.sync("memberships.c1z");
    expect(asked).toBe(1);
    await readSync(file, (s, id) => {
      const grants = [...s.iterateGrants(id, { resourceTypeId: "team" })].map((g) => g.grant).filter((g) => g.entitlement?.resource?.id?.resource === team.id);
      expect(grants.map((g) => g.id).sort()).toEqual(
        [`team:${team.id}:admin:user:${UUID_A}`, `team:${team.id}:member:user:${UUID_A}`, `team:${team.id}:member:user:${UUID_B}`].sort(),
      );
      const metaOf = (userId: string) => findAnnotation(grants.find((g) => g.id === `team:${team.id}:member:user:${userId}`)!.annotations, GrantMetadataSchema)?.metadata;
      expect(metaOf(UUID_A)).toEqual({ provisioned_by: "service_account", provisioned_by_id: UUID_B });
      expect(metaOf(UUID_B)).toEqual({ provisioned_by: "saml_mapping" });
    });
  });
});

describe("idempotent deletes as real Datadog answers them", () => {
  let h: Harness;
  let file: string;
  beforeAll(async () => {
    h = await startHarness({ provisioning: true });
    file = (await h.sync("base.c1z")).file;
  });
  afterAll(() => h.close());

  it("a repeated delete of an API key or an application key (404) answers GrantAlreadyRevoked, and the CLI says already gone", async () => {
    const apiKey = h.sim.org.apiKeys.values()[1];
    const appKey = h.sim.org.appKeys.values().find((k) => !k.owner.serviceAccount)!;
    for (const [type, keyId] of [["api-key", apiKey.id], ["application-key", appKey.id]] as const) {
      const first = await h.rpc.deleteResourceV2({ resourceId: resourceId(type, keyId) });
      expect(hasAnnotation(first.annotations, GrantAlreadyRevokedSchema)).toBe(false);
      const again = await h.rpc.deleteResourceV2({ resourceId: resourceId(type, keyId) });
      expect(hasAnnotation(again.annotations, GrantAlreadyRevokedSchema)).toBe(true);
      const shot = await runOneShot({ kind: "delete-resource", resourceType: type, resourceId: keyId }, { rpc: h.rpc, file, logger: h.logs.logger });
      expect(shot.summary).toBe(`${type}:${keyId} was already gone; nothing to do`);
    }
  });

  it("disabling a disabled user: Datadog answers 404 with the id; the delete succeeds and says so", async () => {
    const user = h.sim.org.users.values().find((u) => !u.serviceAccount && u.status === "Active")!;
    expect(hasAnnotation((await h.rpc.deleteResourceV2({ resourceId: resourceId("user", user.id) })).annotations, GrantAlreadyRevokedSchema)).toBe(false);
    const before = h.sim.stats.byStatus[404] ?? 0;
    const again = await h.rpc.deleteResourceV2({ resourceId: resourceId("user", user.id) });
    expect(h.sim.stats.byStatus[404]).toBe(before + 1);
    expect(hasAnnotation(again.annotations, GrantAlreadyRevokedSchema)).toBe(true);
    expect(h.sim.org.user(user.id).disabled).toBe(true);
  });
});

describe("roles without their permission ids in the listing", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ counts: { users: 10, teams: 1, roles: 4, schedules: 0, apiKeys: 0, appKeys: 0, serviceAccounts: 1 } });
  });
  afterAll(() => h.close());

  it("reads each role's permissions from GET /api/v2/roles/{role_id}/permissions", async () => {
    const roles = h.sim.org.roles.values();
    h.sim.addRoute(
      "GET",
      "/api/v2/roles",
      listing(roles.map((r) => ({ type: "roles", id: r.id, attributes: { name: r.name, user_count: r.users.size } }))),
    );
    const { file } = await h.sync("roles.c1z");
    expect(h.sim.stats.byOperation["GET /api/v2/roles/{role_id}/permissions"]).toBe(roles.length);
    await readSync(file, (s, id) => {
      for (const role of roles) {
        expect(s.getResource(id, "role", role.id)!.profile?.permissions).toEqual([...new Set(role.permissions.map((p) => p.name))].sort());
      }
    });
  });
});

describe("escalation policies as real Datadog answers them", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ counts: { users: 30, teams: 4, roles: 3, schedules: 6, apiKeys: 0, appKeys: 0, serviceAccounts: 1 } });
  });
  afterAll(() => h.close());

  it("schedules reached only through `<schedule>_previous` targets, with no target object in `included`, are found", async () => {
    h.sim.addRoute("GET", "/api/v2/on-call/escalation-policies/{policy_id}", ({ org, params }) => {
      const policy = org.policy(params.policy_id);
      const included: Record<string, unknown>[] = [];
      const steps = policy.steps.map((step) => {
        const targets = step.targets.map((t) => {
          if (t.kind === "user") {
            included.push({ type: "users", id: t.user.id, attributes: { email: t.user.email, name: t.user.name ?? "", status: "pending" } });
            return { id: t.user.id, type: "users" };
          }
          if (t.kind === "team") {
            included.push({ type: "teams", id: t.team.id, attributes: { handle: t.team.handle, name: t.team.name } });
            return { id: t.team.id, type: "teams" };
          }
          included.push({ type: "schedules", id: t.schedule.id, attributes: { name: t.schedule.name, time_zone: "UTC" } });
          return { id: `${t.schedule.id}_previous`, type: "schedule_target" };
        });
        return { type: "steps", id: step.id, attributes: { assignment: "default", escalate_after_seconds: 300 }, relationships: { targets: { data: targets } } };
      });
      return {
        status: 200,
        body: {
          data: {
            type: "policies",
            id: policy.id,
            attributes: { name: policy.name },
            relationships: { steps: { data: steps.map((st) => ({ id: st.id, type: "steps" })) }, teams: { data: policy.teams.map((t) => ({ id: t.id, type: "teams" })) } },
          },
          included: [...steps, ...included],
        },
      };
    });
    const { file } = await h.sync("policies.c1z");
    const expected = expectedCounts(h.sim.org).schedules;
    expect(expected).toBeGreaterThan(0);
    const counts = await readSync(file, (s, id) => s.counts(id));
    expect(counts.resourcesByType.schedule).toBe(expected);
  });
});
