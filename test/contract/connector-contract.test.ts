/**
 * Issue 3 §7: during a full sync of the simulator (schedules and secrets on), every request the Datadog
 * connector sends is a documented operation of Datadog's OpenAPI v2 spec (method, path template, documented
 * query parameters) and every simulator answer validates against that operation's response schema.
 * Issue 4: every provisioning request (grant, revoke, account creation, deletion, key rotation, run the way the
 * one-shot CLI runs them) carries a body that validates against the operation's requestBody schema.
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildDatadog } from "../../connectors/datadog/build.ts";
import { datadogConfig } from "../../connectors/datadog/config.ts";
import { createConnectorService } from "../../src/connector/service.ts";
import { resolveConfig } from "../../src/config/index.ts";
import { runOneShot, type OneShotOperation } from "../../src/provision/oneshot.ts";
import { runSync, type SyncResult } from "../../src/sync/engine.ts";
import { silentLogger } from "../helpers/logger.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { checkExchanges, type ContractReport } from "./check-exchanges.ts";
import { loadSpec, type Spec } from "./openapi.ts";
import { CONTRACT_ORG, recordFullSync } from "./full-sync.ts";
import type { Simulator } from "../../connectors/datadog/simulator/index.ts";

const logger = silentLogger();
const tempDir = tempDirs("all");
let spec: Spec;
let dir: string;
let report: ContractReport;
let result: SyncResult;
let provisioningReport: ContractReport;
let provisioningSummaries: string[];

async function buildRpc(sim: Simulator, baseUrl: string, provisioning: boolean) {
  const { values: config } = resolveConfig(datadogConfig, {
    env: {},
    // Every optional part on, security insights and SAML mappings in profiles included, so their requests are checked too.
    overrides: { apiKey: sim.apiKey, appKey: sim.appKey, baseUrl, syncSchedules: true, syncSecrets: true, syncSecurityInsights: true, syncSsoMappings: true },
  });
  const built = await buildDatadog(config, logger);
  return { built, rpc: createConnectorService(built.connector, { logger, provisioning }) };
}

/** One of each provisioning operation, on objects of the simulated org (ids as the connector names them). */
function provisioningOperations(sim: Simulator): OneShotOperation[] {
  const users = sim.org.users.values().filter((u) => !u.serviceAccount && u.status === "Active");
  const role = sim.org.roles.values()[0];
  const roleUser = users.find((u) => !role.users.has(u.id))!;
  const team = sim.org.teams.values()[0];
  const [newMember, promoted] = users.filter((u) => !team.members.has(u.id));
  const account = sim.org.users.values().find((u) => u.serviceAccount && sim.org.appKeysOwnedBy(u.id).length > 0)!;
  const ops: OneShotOperation[] = [
    { kind: "grant", entitlementId: `role:${role.id}:member`, principalId: roleUser.id, principalType: "user" },
    { kind: "revoke", grantId: `role:${role.id}:member:user:${role.users.values()[0].id}` },
    { kind: "grant", entitlementId: `team:${team.id}:member`, principalId: newMember.id, principalType: "user" },
    { kind: "grant", entitlementId: `team:${team.id}:admin`, principalId: promoted.id, principalType: "user" },
  ];
  const admin = team.members.values().find((m) => m.role === "admin");
  if (admin) ops.push({ kind: "revoke", grantId: `team:${team.id}:admin:user:${admin.user.id}` });
  const plain = team.members.values().find((m) => m.role !== "admin");
  if (plain) ops.push({ kind: "revoke", grantId: `team:${team.id}:member:user:${plain.user.id}` });
  ops.push(
    { kind: "create-account", email: "contract.account@example.com", login: "contract.account", profile: { name: "Contract Account", title: "QA" } },
    { kind: "delete-resource", resourceType: "user", resourceId: users[users.length - 1].id },
    { kind: "delete-resource", resourceType: "api-key", resourceId: sim.org.apiKeys.values()[0].id },
    { kind: "rotate-credentials", resourceType: "application-key", resourceId: sim.org.appKeysOwnedBy(account.id)[0].id },
    { kind: "delete-resource", resourceType: "application-key", resourceId: sim.org.appKeys.values().find((k) => !k.owner.serviceAccount)!.id },
  );
  return ops;
}

beforeAll(async () => {
  dir = tempDir("connector-contract-");
  spec = await loadSpec();
  const { exchanges } = await recordFullSync(async (baseUrl, sim) => {
    const { built, rpc } = await buildRpc(sim, baseUrl, false);
    try {
      result = await runSync({ connector: rpc, file: join(dir, "sync.c1z"), logger });
    } finally {
      await built.close();
    }
  }, { simulatorOptions: CONTRACT_ORG });
  report = checkExchanges(spec, exchanges);

  // Provisioning: sync first (one-shot operations read the c1z), then one of each operation; all recorded.
  provisioningSummaries = [];
  const provisioning = await recordFullSync(async (baseUrl, sim) => {
    const { built, rpc } = await buildRpc(sim, baseUrl, true);
    const file = join(dir, "provision.c1z");
    try {
      await runSync({ connector: rpc, file, logger });
      for (const op of provisioningOperations(sim)) provisioningSummaries.push((await runOneShot(op, { rpc, file, logger })).summary);
    } finally {
      await built.close();
    }
  }, { simulatorOptions: CONTRACT_ORG });
  provisioningReport = checkExchanges(spec, provisioning.exchanges);
});

describe("a full sync of the simulator keeps to Datadog's OpenAPI v2 contract", () => {
  it("synced every resource type (so the recording covers a real full sync)", () => {
    expect(Object.keys(result.stats.resourcesByType).sort()).toEqual(["api-key", "application-key", "role", "schedule", "security-insight", "team", "user"]);
    expect(result.stats.resourcesByType.user).toBe(CONTRACT_ORG.counts!.users);
  });

  it("every request is a documented operation with documented parameters, every answer validates", () => {
    expect(report.problems, `contract problems:\n${report.problems.join("\n")}`).toEqual([]);
  });

  it("calls outside the v2 spec file are only the allow-listed ones, and are listed", () => {
    for (const line of report.allowListed) expect(line).toMatch(/^GET \/api\/v1\/validate: /);
  });

  it("the sync used the operations each resource type needs", () => {
    const needed = [
      "ListUsers",
      "ListRoles",
      "ListRoleUsers",
      "ListTeams",
      "GetTeamMemberships",
      "GetOnCallTeamRoutingRules",
      "GetOnCallEscalationPolicy",
      "GetOnCallSchedule",
      "ListAPIKeys",
      "ListApplicationKeys",
      "ListPermissions",
      "ListAuthNMappings",
    ];
    expect(needed.filter((id) => !report.operations[id])).toEqual([]);
  });
});

describe("provisioning through the connector keeps to Datadog's OpenAPI v2 contract", () => {
  it("ran one of each operation", () => {
    expect(provisioningSummaries).toHaveLength(11);
  });

  it("every provisioning request body validates against its operation's requestBody schema, every answer validates", () => {
    expect(provisioningReport.problems, `contract problems:\n${provisioningReport.problems.join("\n")}`).toEqual([]);
  });

  it("the operations include every write provisioning needs", () => {
    const writes = [
      "AddUserToRole",
      "RemoveUserFromRole",
      "CreateTeamMembership",
      "UpdateTeamMembership",
      "DeleteTeamMembership",
      "CreateUser",
      "SendInvitations",
      "DisableUser",
      "DeleteAPIKey",
      "CreateServiceAccountApplicationKey",
    ];
    expect(writes.filter((id) => !provisioningReport.operations[id])).toEqual([]);
    // An application key is deleted through one of its two documented operations.
    expect((provisioningReport.operations.DeleteApplicationKey ?? 0) + (provisioningReport.operations.DeleteServiceAccountApplicationKey ?? 0)).toBeGreaterThanOrEqual(2);
  });
});
