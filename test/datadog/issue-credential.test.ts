/**
 * IssueCredential of the Datadog connector over real gRPC against the simulator, through the generated-proto
 * client: a scoped application key issued for a service account, returned as a JWE the requester decrypts to a
 * key the simulator accepts (within its scopes only), found by the next sync (DISCOVERABLE); the capability
 * declared with Datadog's scopes; invalid requests refused with the contract's codes and nothing created.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { compactDecrypt, exportJWK, generateKeyPair } from "jose";
import { Code } from "../../src/connector/errors.ts";
import type { ConnectorRpc } from "../../src/connector/rpc.ts";
import { Capability, CapabilityDetailCredentialOption } from "../../src/gen/c1/connector/v2/connector_pb.js";
import { CredentialResourceMode, type EncryptionConfig } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { APPLICATION_KEY_SCOPES, issuedKeyName } from "../../connectors/datadog/resources/service-account-credentials.ts";
import type { SimUser } from "../../connectors/datadog/simulator/index.ts";
import { servedOverGrpc } from "./served-connector.ts";
import { jwkEncryptionConfig, readSync, startHarness, type Harness } from "./harness.ts";

let h: Harness;
let on: ConnectorRpc;
let off: ConnectorRpc;
let config: EncryptionConfig;
let privateKey: CryptoKey;
const servers: { close(): Promise<void> }[] = [];

async function served(provisioning: boolean): Promise<ConnectorRpc> {
  const server = await servedOverGrpc(h.connector, h.logs.logger, provisioning);
  servers.push(server);
  return server.rpc;
}

const apiKey = (scopes: string[]) => ({ options: { case: "apiKey" as const, value: { scopes } } });
const identity = (user: SimUser) => ({ resourceType: "user", resource: user.id });
let account: SimUser;

/** GET `path` on the simulator with the simulator's API key and `appKey`; the status. */
async function statusWith(appKey: string, path: string): Promise<number> {
  const res = await fetch(h.sim.baseUrl + path, { headers: { "DD-API-KEY": h.sim.apiKey, "DD-APPLICATION-KEY": appKey } });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  h = await startHarness({ provisioning: true });
  on = await served(true);
  off = await served(false);
  const pair = await generateKeyPair("ECDH-ES+A256KW", { crv: "P-256", extractable: true });
  privateKey = pair.privateKey as CryptoKey;
  config = jwkEncryptionConfig(await exportJWK(pair.publicKey));
  account = h.sim.org.users.values().find((u) => u.serviceAccount && !u.disabled)!;
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await h?.close();
});

describe("issuing an application key for a service account", () => {
  it("returns it encrypted; the decrypted key works on the simulator within its scopes only; the sync finds it", async () => {
    const keysBefore = h.sim.org.appKeys.size;
    const r = await on.issueCredential({
      identityId: identity(account),
      credentialOptions: apiKey(["user_access_read"]),
      encryptionConfigs: [config],
      requestId: "issue-1",
    });
    expect(r.requestId).toBe("issue-1");
    expect(r.resourceMode).toBe(CredentialResourceMode.DISCOVERABLE);
    expect(r.secret?.id?.resourceType).toBe("application-key");
    const created = h.sim.org.appKey(r.secret!.id!.resource);
    expect(created).toMatchObject({ name: issuedKeyName("issue-1"), scopes: ["user_access_read"] });
    expect(created.owner.id).toBe(account.id);
    expect(h.sim.org.appKeys.size).toBe(keysBefore + 1);

    expect(r.encryptedData).toHaveLength(1);
    expect(r.encryptedData[0]!.name).toBe("application_key");
    const jwe = new TextDecoder().decode(r.encryptedData[0]!.encryptedBytes);
    const { plaintext } = await compactDecrypt(jwe, privateKey);
    const key = new TextDecoder().decode(plaintext);
    expect(key.slice(-4)).toBe(created.last4);
    expect(await statusWith(key, "/api/v2/users?page[size]=1")).toBe(200);
    expect(await statusWith(key, "/api/v2/team?page[size]=1")).toBe(403);
    expect(h.logs.text()).not.toContain(key);

    // A use of the key is a Request event in the Audit Trail: the usage feed reports the key used by its owner
    // (the simulator records the request the key was allowed to make; the refused one reached no handler).
    const usage = await on.listEvents({ eventFeedId: "datadog_audit_usage", startAt: timestampFromDate(new Date(Date.now() - 60_000)), pageSize: 100 });
    const uses = usage.events.filter((e) => e.event.case === "usageEvent" && e.event.value.targetResource?.id?.resource === created.id);
    expect(uses).toHaveLength(1);
    for (const e of uses) if (e.event.case === "usageEvent") expect(e.event.value.actorResource?.id).toMatchObject({ resourceType: "user", resource: account.id });

    // DISCOVERABLE: the next sync lists the key, owned by the service account.
    const { file } = await h.sync();
    const synced = await readSync(file, (s, id) => s.getResource(id, "application-key", created.id));
    expect(synced?.displayName).toBe(issuedKeyName("issue-1"));
  });

  it("the same request id again is ALREADY_EXISTS and creates no second key", async () => {
    const before = h.sim.org.appKeys.size;
    await expect(
      on.issueCredential({ identityId: identity(account), credentialOptions: apiKey(["user_access_read"]), encryptionConfigs: [config], requestId: "issue-1" }),
    ).rejects.toMatchObject({ code: Code.ALREADY_EXISTS, message: expect.stringContaining("already issued application key") });
    expect(h.sim.org.appKeys.size).toBe(before);
  });
});

describe("refused requests: the contract's codes, nothing created", () => {
  const person = () => h.sim.org.users.values().find((u) => !u.serviceAccount && !u.disabled)!;
  const base = () => ({ identityId: identity(account), credentialOptions: apiKey(["teams_read"]), encryptionConfigs: [config], requestId: "refused" });
  const cases: [string, () => object, Code, RegExp][] = [
    ["a person, not a service account", () => ({ ...base(), identityId: identity(person()) }), Code.FAILED_PRECONDITION, /is a person, not a service account/],
    ["a user that does not exist", () => ({ ...base(), identityId: { resourceType: "user", resource: "00000000-0000-4000-8000-000000000000" } }), Code.NOT_FOUND, /does not exist/],
    ["a scope Datadog does not have", () => ({ ...base(), credentialOptions: apiKey(["everything"]) }), Code.INVALID_ARGUMENT, /scope "everything" is not offered/],
    ["no scope at all", () => ({ ...base(), credentialOptions: apiKey([]) }), Code.INVALID_ARGUMENT, /at least one scope/],
    ["an option other than api_key", () => ({ ...base(), credentialOptions: { options: { case: "clientSecret", value: {} } } }), Code.INVALID_ARGUMENT, /CLIENT_SECRET/],
    ["expires_at (no expiry is advertised)", () => ({ ...base(), expiresAt: timestampFromDate(new Date(Date.now() + 3_600_000)) }), Code.INVALID_ARGUMENT, /expiry/],
    ["no encryption config", () => ({ ...base(), encryptionConfigs: [] }), Code.INVALID_ARGUMENT, /plaintext/],
    ["a bad request id", () => ({ ...base(), requestId: "no spaces" }), Code.INVALID_ARGUMENT, /request_id/],
    ["a type without an issuer", () => ({ ...base(), identityId: { resourceType: "team", resource: h.sim.org.teams.values()[0].id } }), Code.UNIMPLEMENTED, /.+/],
  ];
  for (const [name, request, code, message] of cases) {
    it(name, async () => {
      const before = h.sim.org.appKeys.size;
      await expect(on.issueCredential(request() as never)).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
      expect(h.sim.org.appKeys.size).toBe(before);
    });
  }

  it("without --provisioning: FAILED_PRECONDITION", async () => {
    const before = h.sim.org.appKeys.size;
    await expect(off.issueCredential(base() as never)).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
    expect(h.sim.org.appKeys.size).toBe(before);
  });

  it("a disabled service account: FAILED_PRECONDITION", async () => {
    const disabled = h.sim.org.users.values().filter((u) => u.serviceAccount)[1]!;
    h.sim.org.setUserDisabled(disabled.id, true);
    try {
      await expect(on.issueCredential({ ...base(), identityId: identity(disabled) } as never)).rejects.toMatchObject({
        code: Code.FAILED_PRECONDITION,
        message: expect.stringContaining("is disabled"),
      });
    } finally {
      h.sim.org.setUserDisabled(disabled.id, false);
    }
  });
});

describe("the capability", () => {
  it("user declares CREDENTIAL_ISSUE: API_KEY, Datadog's scopes, DISCOVERABLE application keys, no expiry", async () => {
    const { metadata } = await on.getMetadata({});
    const caps = metadata!.capabilities!;
    expect(caps.connectorCapabilities).toContain(Capability.CREDENTIAL_ISSUE);
    const user = caps.resourceTypeCapabilities.find((c) => c.resourceType?.id === "user")!;
    expect(user.capabilities).toContain(Capability.CREDENTIAL_ISSUE);
    const details = user.credentialIssue!;
    expect(details.preferredOption).toBe(CapabilityDetailCredentialOption.API_KEY);
    expect(details.options).toHaveLength(1);
    expect(details.options[0]).toMatchObject({
      option: CapabilityDetailCredentialOption.API_KEY,
      resourceMode: CredentialResourceMode.DISCOVERABLE,
      secretResourceTypeId: "application-key",
      customScopesAllowed: false,
    });
    expect(details.options[0]!.scopes).toEqual([...APPLICATION_KEY_SCOPES]);
    expect(details.options[0]!.expiry).toBeUndefined();
  });

  const spec = join(import.meta.dirname, "../../../shared/datadog/openapi-v2.yaml");
  it.skipIf(!existsSync(spec))("advertises exactly the authorization scopes of Datadog's spec (skipped without ../shared)", () => {
    const text = readFileSync(spec, "utf8");
    const start = text.indexOf("    AuthZ:");
    const block = text.slice(text.indexOf("          scopes:\n", start), text.indexOf("          tokenUrl:", start));
    const scopes = [...block.matchAll(/^ {12}([a-z0-9_]+):/gm)].map((m) => m[1]);
    expect(scopes.length).toBeGreaterThan(50);
    expect([...APPLICATION_KEY_SCOPES]).toEqual(scopes);
  });
});
