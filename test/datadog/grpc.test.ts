/**
 * The Datadog connector served over gRPC: with provisioning off every provisioning RPC answers
 * FAILED_PRECONDITION "provisioning is not enabled" and nothing changes in Datadog; with it on, a grant works
 * over the wire and a Datadog 404 arrives as NOT_FOUND naming the missing principal.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { exportJWK, generateKeyPair } from "jose";
import { createConnectorService } from "../../src/connector/service.ts";
import { resourceId } from "../../src/connector/builders.ts";
import { Code } from "../../src/connector/errors.ts";
import type { ConnectorRpc } from "../../src/connector/rpc.ts";
import { serveConnector, type ServedConnector } from "../../src/grpc/connector-server.ts";
import { connectorClient } from "../../src/grpc/connector-client.ts";
import { GrantSchema } from "../../src/gen/c1/connector/v2/grant_pb.js";
import { ResourceSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { jwkEncryptionConfig, readSync, startHarness, type Harness } from "./harness.ts";

let h: Harness;
let baseline: string;
const servers: ServedConnector[] = [];
const clients: (ConnectorRpc & { close(): void })[] = [];

async function over(provisioning: boolean): Promise<ConnectorRpc> {
  const rpc = createConnectorService(h.connector, { logger: h.logs.logger, provisioning });
  const served = await serveConnector(rpc, { address: "127.0.0.1:0", credentials: grpc.ServerCredentials.createInsecure(), logger: h.logs.logger });
  servers.push(served);
  const client = connectorClient(`127.0.0.1:${served.port}`, grpc.credentials.createInsecure());
  clients.push(client);
  return client;
}

beforeAll(async () => {
  h = await startHarness({ provisioning: false });
  baseline = (await h.sync("baseline.c1z")).file;
});
afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
  await h.close();
});

describe("provisioning over gRPC", () => {
  it("with provisioning off, every provisioning RPC answers FAILED_PRECONDITION and Datadog is untouched", async () => {
    const rpc = await over(false);
    const team = h.sim.org.teams.values()[0];
    const outsider = h.sim.org.users.values().find((u) => !u.serviceAccount && u.status === "Active" && !team.members.has(u.id))!;
    const { entitlement, principal } = await readSync(baseline, (s, id) => ({
      entitlement: s.getEntitlement(id, `team:${team.id}:member`)!,
      principal: s.getResource(id, "user", outsider.id)!,
    }));
    const grantMsg = create(GrantSchema, { id: `${entitlement.id}:user:${outsider.id}`, entitlement, principal });
    const apiKey = h.sim.org.apiKeys.values()[0];
    const appKey = h.sim.org.appKeys.values().find((k) => k.owner.serviceAccount)!;
    const pair = await generateKeyPair("ECDH-ES+A256KW", { crv: "P-256", extractable: true });
    const calls: [string, () => Promise<unknown>][] = [
      ["Grant", () => rpc.grant({ entitlement, principal })],
      ["Revoke", () => rpc.revoke({ grant: grantMsg })],
      ["CreateAccount", () => rpc.createAccount({ accountInfo: { emails: [{ address: "off@example.com", isPrimary: true }] } })],
      ["DeleteResource", () => rpc.deleteResource({ resourceId: resourceId("api-key", apiKey.id) })],
      ["DeleteResourceV2", () => rpc.deleteResourceV2({ resourceId: resourceId("user", outsider.id) })],
      [
        "RotateCredential",
        async () => rpc.rotateCredential({ resourceId: resourceId("application-key", appKey.id), encryptionConfigs: [jwkEncryptionConfig(await exportJWK(pair.publicKey))] }),
      ],
    ];
    h.sim.resetStats();
    for (const [name, fn] of calls) {
      await expect(fn(), name).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION, message: "provisioning is not enabled: start the connector with -p (--provisioning) or set BATON_PROVISIONING=true" });
    }
    // Not one request reached Datadog.
    expect(h.sim.stats.requests).toBe(0);
    expect(team.members.has(outsider.id)).toBe(false);
    expect(h.sim.org.apiKeys.get(apiKey.id)).toBeDefined();
    expect(h.sim.org.appKeys.get(appKey.id)).toBeDefined();
    expect(h.sim.org.userByEmail("off@example.com")).toBeUndefined();
  });

  it("with provisioning on, a grant works over the wire and a missing principal is NOT_FOUND naming it", async () => {
    const rpc = await over(true);
    const team = h.sim.org.teams.values()[0];
    const outsider = h.sim.org.users.values().find((u) => !u.serviceAccount && u.status === "Active" && !team.members.has(u.id))!;
    const { entitlement, principal } = await readSync(baseline, (s, id) => ({
      entitlement: s.getEntitlement(id, `team:${team.id}:member`)!,
      principal: s.getResource(id, "user", outsider.id)!,
    }));
    const res = await rpc.grant({ entitlement, principal });
    expect(res.grants.map((g) => g.id)).toEqual([`team:${team.id}:member:user:${outsider.id}`]);
    expect(team.members.has(outsider.id)).toBe(true);

    const ghost = create(ResourceSchema, { id: resourceId("user", "00000000-0000-4000-8000-0000000006a0") });
    await expect(rpc.grant({ entitlement, principal: ghost })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: expect.stringContaining('user "00000000-0000-4000-8000-0000000006a0" does not exist'),
    });
  });
});
