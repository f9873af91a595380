/**
 * IssueCredential (PROTOCOL-2 §5.1) of a connector built on the public API, over real gRPC on loopback: a
 * credential issued and returned as a JWE the requester decrypts to the very key the "target system" holds;
 * every request check refused with the contract's code before the issuer runs (nothing issued); every output
 * check refused with INTERNAL (and the plaintext not returned); the §8 declaration checks; capabilities.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { compactDecrypt, exportJWK, generateKeyPair } from "jose";
import { createConnectorService } from "../../src/connector/service.ts";
import { connectorCapabilities } from "../../src/connector/capabilities.ts";
import { Code } from "../../src/connector/errors.ts";
import type { ConnectorRpc } from "../../src/connector/rpc.ts";
import { JWK_PROVIDER } from "../../src/connector/encryption.ts";
import type { Connector, CredentialIssuer } from "../../src/index.ts";
import { serveConnector, type ServedConnector } from "../../src/grpc/connector-server.ts";
import { connectorClient } from "../../src/grpc/connector-client.ts";
import { Capability, CapabilityDetailCredentialOption } from "../../src/gen/c1/connector/v2/connector_pb.js";
import {
  CredentialResourceMode,
  EncryptionConfig_JWKPublicKeyConfigSchema,
  EncryptionConfigSchema,
  type EncryptionConfig,
} from "../../src/gen/c1/connector/v2/resource_pb.js";
import { silentLogger } from "../helpers/logger.ts";
import { testConnector, testState, type TestState } from "../actions/test-connector.ts";

let state: TestState;
let on: ConnectorRpc;
let off: ConnectorRpc;
let config: EncryptionConfig;
let privateKey: CryptoKey;
const servers: ServedConnector[] = [];
const clients: (ConnectorRpc & { close(): void })[] = [];

async function served(connector: Connector, provisioning: boolean): Promise<ConnectorRpc> {
  const rpc = createConnectorService(connector, { logger: silentLogger(), provisioning });
  const s = await serveConnector(rpc, { address: "127.0.0.1:0", credentials: grpc.ServerCredentials.createInsecure(), logger: silentLogger() });
  servers.push(s);
  const client = connectorClient(`127.0.0.1:${s.port}`, grpc.credentials.createInsecure());
  clients.push(client);
  return client;
}

const sa = { resourceType: "service_account", resource: "sa1" };
/** The test issuer's one option, as a plain init to vary. */
const apiKeyOption = () => ({
  option: CapabilityDetailCredentialOption.API_KEY,
  scopes: ["read", "write"],
  resourceMode: CredentialResourceMode.DISCOVERABLE,
  secretResourceTypeId: "api_key",
});
const apiKey = (scopes: string[]) => ({ options: { case: "apiKey" as const, value: { scopes } } });

beforeAll(async () => {
  state = testState();
  on = await served(testConnector(state), true);
  off = await served(testConnector(state), false);
  const pair = await generateKeyPair("ECDH-ES+A256KW", { crv: "P-256", extractable: true });
  privateKey = pair.privateKey as CryptoKey;
  config = create(EncryptionConfigSchema, {
    provider: JWK_PROVIDER,
    config: { case: "jwkPublicKeyConfig", value: create(EncryptionConfig_JWKPublicKeyConfigSchema, { pubKey: new TextEncoder().encode(JSON.stringify(await exportJWK(pair.publicKey))) }) },
  });
});
afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
});

describe("issuing", () => {
  it("issues an API key, encrypted for the requester; the decrypted value is the key the system holds", async () => {
    const r = await on.issueCredential({ identityId: sa, credentialOptions: apiKey(["read"]), encryptionConfigs: [config], requestId: "req-1" });
    expect(r.requestId).toBe("req-1");
    expect(r.resourceMode).toBe(CredentialResourceMode.DISCOVERABLE);
    expect(r.secret?.id).toMatchObject({ resourceType: "api_key", resource: "key-req-1" });
    expect(r.encryptedData).toHaveLength(1);
    const jwe = new TextDecoder().decode(r.encryptedData[0]!.encryptedBytes);
    expect(jwe.split(".")).toHaveLength(5);
    const { plaintext } = await compactDecrypt(jwe, privateKey);
    const held = state.keys.get("key-req-1")!;
    expect(new TextDecoder().decode(plaintext)).toBe(held.secret);
    expect(held).toMatchObject({ owner: "sa1", scopes: ["read"] });
    expect(r.encryptedData[0]!.name).toBe("api_key");
    expect(r.annotations).toHaveLength(1);
  });

  it("without provisioning: FAILED_PRECONDITION, nothing issued", async () => {
    const before = state.keys.size;
    await expect(off.issueCredential({ identityId: sa, credentialOptions: apiKey([]), encryptionConfigs: [config], requestId: "r" })).rejects.toMatchObject({
      code: Code.FAILED_PRECONDITION,
    });
    expect(state.keys.size).toBe(before);
  });
});

describe("request checks, before the issuer runs", () => {
  const base = () => ({ identityId: sa, credentialOptions: apiKey(["read"]), encryptionConfigs: [config], requestId: "ok-id" });
  const cases: [string, () => object, number, RegExp][] = [
    ["a type without an issuer", () => ({ ...base(), identityId: { resourceType: "user", resource: "u1" } }), Code.UNIMPLEMENTED, /does not issue credentials/],
    ["no identity", () => ({ ...base(), identityId: undefined }), Code.INVALID_ARGUMENT, /identity_id is required/],
    ["no encryption config", () => ({ ...base(), encryptionConfigs: [] }), Code.INVALID_ARGUMENT, /never returned in plaintext/],
    ["a config we cannot encrypt to", () => ({ ...base(), encryptionConfigs: [{ provider: "pgp" }] }), Code.INVALID_ARGUMENT, /unsupported provider/],
    ["an empty request id", () => ({ ...base(), requestId: "" }), Code.INVALID_ARGUMENT, /request_id/],
    ["a request id with other characters", () => ({ ...base(), requestId: "a b" }), Code.INVALID_ARGUMENT, /request_id/],
    ["a request id over 128", () => ({ ...base(), requestId: "a".repeat(129) }), Code.INVALID_ARGUMENT, /request_id/],
    ["no option", () => ({ ...base(), credentialOptions: {} }), Code.INVALID_ARGUMENT, /must set one of/],
    ["an option not offered", () => ({ ...base(), credentialOptions: { options: { case: "clientSecret", value: {} } } }), Code.INVALID_ARGUMENT, /does not issue CLIENT_SECRET/],
    ["a scope not offered", () => ({ ...base(), credentialOptions: apiKey(["admin"]) }), Code.INVALID_ARGUMENT, /scope "admin" is not offered/],
    ["a duplicate scope", () => ({ ...base(), credentialOptions: apiKey(["read", "read"]) }), Code.INVALID_ARGUMENT, /requested twice/],
    ["an empty scope", () => ({ ...base(), credentialOptions: apiKey([""]) }), Code.INVALID_ARGUMENT, /empty scope/],
    ["expires_at without advertised expiry", () => ({ ...base(), expiresAt: timestampFromDate(new Date(Date.now() + 3_600_000)) }), Code.INVALID_ARGUMENT, /advertises no expiry/],
  ];
  for (const [name, request, code, message] of cases) {
    it(`${name}: ${Object.entries(Code).find(([, v]) => v === code)![0]}`, async () => {
      const before = state.keys.size;
      const err = await on.issueCredential(request() as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code, message: expect.stringMatching(message) });
      expect(state.keys.size).toBe(before);
    });
  }

  it("expiry bounds when one is advertised: past, too soon, too late refused", async () => {
    const s = testState();
    const c = testConnector(s);
    const issuer = c.syncers.find((x) => x.credentialIssuer)!.credentialIssuer!;
    const withExpiry: CredentialIssuer = {
      ...issuer,
      options: [{ ...apiKeyOption(), expiry: { min: { seconds: 3600n }, max: { seconds: 86_400n } } }],
    };
    const rpc = await served({ ...c, syncers: c.syncers.map((x) => (x.credentialIssuer ? { ...x, credentialIssuer: withExpiry } : x)) }, true);
    const at = (ms: number) => ({ identityId: sa, credentialOptions: apiKey([]), encryptionConfigs: [config], requestId: "e1", expiresAt: timestampFromDate(new Date(Date.now() + ms)) });
    await expect(rpc.issueCredential(at(-1000))).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining("not in the future") });
    await expect(rpc.issueCredential(at(60_000))).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining("shortest") });
    await expect(rpc.issueCredential(at(2 * 86_400_000))).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining("longest") });
    // Within bounds the request passes, and then the answer is checked: this issuer sets no expires_at on its SecretTrait.
    await expect(rpc.issueCredential(at(7_200_000))).rejects.toMatchObject({ code: Code.INTERNAL, message: expect.stringContaining("no expires_at") });
    expect(s.keys.size).toBe(1);
  });
});

describe("output checks, after the issuer ran", () => {
  const cases: [TestState["brokenIssue"], RegExp][] = [
    ["no-trait", /no SecretTrait/],
    ["wrong-identity", /identity_id is not the identity/],
    ["empty-value", /is empty/],
    ["wrong-type", /not the advertised "api_key"/],
  ];
  for (const [broken, message] of cases) {
    it(`${broken}: INTERNAL, no encrypted data returned`, async () => {
      state.brokenIssue = broken;
      try {
        await expect(on.issueCredential({ identityId: sa, credentialOptions: apiKey([]), encryptionConfigs: [config], requestId: `b-${broken}` })).rejects.toMatchObject({
          code: Code.INTERNAL,
          message: expect.stringMatching(message),
        });
      } finally {
        state.brokenIssue = undefined;
      }
    });
  }
});

describe("declaration and capabilities (§8)", () => {
  it("derives CREDENTIAL_ISSUE per type and for the connector, with the credential_issue details; ACTIONS and EVENT_FEED_V2 too", () => {
    const caps = connectorCapabilities(testConnector(testState()));
    const saCaps = caps.resourceTypeCapabilities.find((c) => c.resourceType?.id === "service_account")!;
    expect(saCaps.capabilities).toContain(Capability.CREDENTIAL_ISSUE);
    expect(saCaps.credentialIssue).toMatchObject({ preferredOption: CapabilityDetailCredentialOption.API_KEY, options: [{ scopes: ["read", "write"], secretResourceTypeId: "api_key" }] });
    const user = caps.resourceTypeCapabilities.find((c) => c.resourceType?.id === "user")!;
    expect(user.capabilities).not.toContain(Capability.ACTIONS);
    expect(caps.connectorCapabilities).toEqual(expect.arrayContaining([Capability.ACTIONS, Capability.EVENT_FEED_V2, Capability.CREDENTIAL_ISSUE]));
    // Entries sorted by resource type id; within a type, Go's order (SYNC … RESOURCE_DELETE, CREDENTIAL_ROTATION, CREDENTIAL_ISSUE).
    expect(caps.resourceTypeCapabilities.map((c) => c.resourceType?.id)).toEqual(["api_key", "service_account", "user"]);
    const c = testConnector(testState());
    const everything = c.syncers.map((x) =>
      x.credentialIssuer ? { ...x, deleter: { delete: async () => ({}) }, credentialManager: { credentialOptions: [], preferredCredentialOption: 0, rotate: async () => ({ plaintext: [] }) } } : x,
    );
    const ordered = connectorCapabilities({ ...c, syncers: everything }).resourceTypeCapabilities.find((x) => x.resourceType?.id === "service_account")!;
    expect(ordered.capabilities).toEqual([Capability.SYNC, Capability.RESOURCE_DELETE, Capability.CREDENTIAL_ROTATION, Capability.CREDENTIAL_ISSUE]);
    const plain = connectorCapabilities({ ...testConnector(testState()), actions: [], eventFeeds: [], syncers: [] });
    expect(plain.connectorCapabilities).not.toContain(Capability.ACTIONS);
    expect(plain.connectorCapabilities).not.toContain(Capability.EVENT_FEED_V2);
  });

  it("a misdeclared issuer fails capabilities and GetMetadata, naming what is wrong", async () => {
    const c = testConnector(testState());
    const issuer = c.syncers.find((x) => x.credentialIssuer)!.credentialIssuer!;
    const variant = (over: Partial<CredentialIssuer>) => ({ ...c, syncers: c.syncers.map((x) => (x.credentialIssuer ? { ...x, credentialIssuer: { ...issuer, ...over } } : x)) });
    const opt = apiKeyOption();
    expect(() => connectorCapabilities(variant({ preferredOption: CapabilityDetailCredentialOption.TOKEN }))).toThrow(/preferredOption TOKEN is not among/);
    expect(() => connectorCapabilities(variant({ options: [opt, opt] }))).toThrow(/listed twice/);
    expect(() => connectorCapabilities(variant({ options: [{ ...opt, resourceMode: CredentialResourceMode.UNSPECIFIED }] }))).toThrow(/resourceMode/);
    expect(() => connectorCapabilities(variant({ options: [{ ...opt, secretResourceTypeId: "user" }] }))).toThrow(/can delete/);
    expect(() => connectorCapabilities(variant({ options: [{ ...opt, audiences: ["x"] }] }))).toThrow(/scopes and expiry only/);
    expect(() => connectorCapabilities(variant({ options: [{ ...opt, expiry: { min: { seconds: 10n }, max: { seconds: 5n } } }] }))).toThrow(/min is longer than max/);
    expect(() =>
      connectorCapabilities(variant({ preferredOption: CapabilityDetailCredentialOption.KEYPAIR, options: [{ ...opt, option: CapabilityDetailCredentialOption.KEYPAIR, scopes: [], keyProfiles: [{ kty: "RSA", parameters: { case: "rsaModulusBits", value: 1024 } }] }] })),
    ).toThrow(/RSA modulus/);
    const rpc = createConnectorService(variant({ options: [] }), { logger: silentLogger(), provisioning: false });
    await expect(rpc.getMetadata({})).rejects.toThrow(/advertises no options/);
  });
});
