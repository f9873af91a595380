/**
 * Hosted mode: the connector's c1.connector.v2 services over gRPC with TLS and client certificates, against
 * real TLS clients. A client with a certificate from the configured CA lists resource types, resources,
 * entitlements and grants; a client without one, or with one from another CA, is refused; plaintext is
 * allowed on loopback only.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { Code, ConnectorError } from "../../src/connector/errors.ts";
import { ConfigError } from "../../src/config/errors.ts";
import { connectorClient } from "../../src/grpc/connector-client.ts";
import { isLoopbackHost, parseListenAddress, serveHosted, type HostedServer } from "../../src/grpc/serve.ts";
import { createLogger } from "../../src/log/index.ts";
import type { ConnectorRpc } from "../../src/connector/rpc.ts";
import { fixtureConnector } from "../fixtures/fixture-connector.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { makeTestPki, type TestPki } from "../platform/index.ts";
import { inProcess } from "./helpers.ts";

const logger = createLogger({ level: "error", destination: { write: () => {} } });
const tempDir = tempDirs("all");
let dir: string;
let pki: TestPki;

beforeAll(() => {
  dir = tempDir("hosted-test-");
  pki = makeTestPki(dir);
});

async function listEverything(client: ConnectorRpc) {
  const types = await client.listResourceTypes({});
  const users = await client.listResources({ resourceTypeId: "user", pageSize: 50 });
  const groups = await client.listResources({ resourceTypeId: "group" });
  const g1 = groups.list.find((g) => g.id?.resource === "g1")!;
  const entitlements = await client.listEntitlements({ resource: g1 });
  const grants = await client.listGrants({ resource: g1 });
  return { types, users, groups, entitlements, grants };
}

function mtlsClient(server: HostedServer, cert?: { certPem: string; keyPem: string }) {
  const credentials = grpc.credentials.createSsl(
    Buffer.from(pki.caPem),
    cert ? Buffer.from(cert.keyPem) : null,
    cert ? Buffer.from(cert.certPem) : null,
  );
  return connectorClient(`127.0.0.1:${server.port}`, credentials, { defaultTimeoutMs: 10_000 });
}

describe("hosted mode with TLS and client certificates", () => {
  let server: HostedServer;

  beforeAll(async () => {
    server = await serveHosted({
      rpc: inProcess(fixtureConnector()),
      listen: "127.0.0.1:0",
      tlsCert: pki.server.cert,
      tlsKey: pki.server.key,
      tlsClientCa: pki.caFile,
      logger,
    });
  });
  afterAll(() => server.close());

  it("serves resource types, resources, entitlements and grants to a client with a certificate from the CA", async () => {
    const client = mtlsClient(server, pki.client);
    try {
      const { types, users, groups, entitlements, grants } = await listEverything(client);
      expect(types.list.map((t) => t.id).sort()).toEqual(["group", "org", "project", "role", "user"]);
      expect(users.list.map((u) => u.id?.resource)).toEqual(["u0", "u1", "u2"]); // the fixture's page size
      expect(users.nextPageToken).toBe("3");
      expect(groups.list.map((g) => g.id?.resource)).toEqual(["g1", "g2"]);
      expect(entitlements.list.map((e) => e.id)).toEqual(["group:g1:member"]);
      expect(grants.list.map((g) => g.id)).toEqual(["group:g1:member:user:u0", "group:g1:member:user:u1"]);
      expect(server.tls).toBe(true);
    } finally {
      client.close();
    }
  });

  it("refuses a client without a certificate, and one whose certificate another CA signed", async () => {
    for (const cert of [undefined, pki.rogueClient]) {
      const client = mtlsClient(server, cert);
      try {
        const err = await client.listResourceTypes({}).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConnectorError);
        expect((err as ConnectorError).code).toBe(Code.UNAVAILABLE);
      } finally {
        client.close();
      }
    }
  });

  it("refuses a plaintext client", async () => {
    const client = connectorClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), { defaultTimeoutMs: 5000 });
    try {
      const err = await client.listResourceTypes({}).catch((e: unknown) => e);
      expect((err as ConnectorError).code).toBe(Code.UNAVAILABLE);
    } finally {
      client.close();
    }
  });
});

describe("hosted mode configuration", () => {
  it("serves TLS without client certificates when no client CA is given", async () => {
    const server = await serveHosted({ rpc: inProcess(fixtureConnector()), listen: "127.0.0.1:0", tlsCert: pki.server.cert, tlsKey: pki.server.key, logger });
    const client = mtlsClient(server);
    try {
      expect((await client.listResourceTypes({})).list).toHaveLength(5);
    } finally {
      client.close();
      await server.close();
    }
  });

  it("serves plaintext on a loopback address", async () => {
    const server = await serveHosted({ rpc: inProcess(fixtureConnector()), listen: "127.0.0.1:0", logger });
    const client = connectorClient(server.address, grpc.credentials.createInsecure());
    try {
      expect(server.tls).toBe(false);
      expect((await client.listResourceTypes({})).list).toHaveLength(5);
    } finally {
      client.close();
      await server.close();
    }
  });

  it("refuses plaintext on an address that is not loopback, naming the flags to pass", async () => {
    for (const listen of ["0.0.0.0:0", "[::]:0", "10.1.2.3:50051", "connector.internal:50051"]) {
      const err = await serveHosted({ rpc: inProcess(fixtureConnector()), listen, logger }).catch((e: unknown) => e);
      expect(err, listen).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/--listen: refusing to serve without TLS on .* not a loopback address: pass --tls-cert and --tls-key/);
    }
  });

  it("explains bad TLS flags and listen addresses", async () => {
    const rpc = inProcess(fixtureConnector());
    const attempt = (o: Partial<Parameters<typeof serveHosted>[0]>) =>
      serveHosted({ rpc, listen: "127.0.0.1:0", logger, ...o }).catch((e: unknown) => (e as Error).message);
    expect(await attempt({ tlsCert: pki.server.cert })).toMatch(/--tls-key: --tls-cert and --tls-key go together/);
    expect(await attempt({ tlsKey: pki.server.key })).toMatch(/--tls-cert: --tls-cert and --tls-key go together/);
    expect(await attempt({ tlsClientCa: pki.caFile })).toMatch(/--tls-client-ca: client certificates need TLS/);
    expect(await attempt({ tlsCert: join(dir, "missing.pem"), tlsKey: pki.server.key })).toMatch(/--tls-cert: cannot read .*missing\.pem: no such file/);
    expect(await attempt({ tlsCert: pki.server.cert, tlsKey: join(dir, "server.ext") })).toMatch(/--tls-key: cannot read .*not PEM/);
    expect(await attempt({ tlsCert: pki.server.cert, tlsKey: pki.client.key })).toMatch(/--tls-cert: the certificate and the --tls-key key cannot be used together: .*key values mismatch/);
    expect(await attempt({ listen: "50051" })).toMatch(/--listen: must be HOST:PORT/);
    expect(await attempt({ listen: "127.0.0.1:70000" })).toMatch(/--listen: must be HOST:PORT/);
  });

  it("knows loopback addresses", () => {
    for (const h of ["127.0.0.1", "127.3.4.5", "::1", "localhost", "LOCALHOST", "api.localhost"]) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "example.com", "localhost.example.com"]) expect(isLoopbackHost(h), h).toBe(false);
    expect(parseListenAddress("[::1]:50051")).toEqual({ host: "::1", port: 50051 });
    expect(parseListenAddress("0.0.0.0:0")).toEqual({ host: "0.0.0.0", port: 0 });
  });
});
