/**
 * The hosted server's limits and its client-certificate rule, in process against real sockets on loopback:
 * the guarded listener closes sockets that do not finish TLS and the HTTP/2 preface in time, that send something
 * else, or that come beyond the connection cap; the call limiter runs a few calls, queues a few more (a cancelled
 * one leaves the queue) and refuses the rest with RESOURCE_EXHAUSTED; off loopback, TLS without client
 * certificates takes the opt-in flag and warns.
 */
import { connect, type Socket } from "node:net";
import * as tls from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectorError } from "../../src/connector/errors.ts";
import { ConfigError } from "../../src/config/errors.ts";
import { connectorClient } from "../../src/grpc/connector-client.ts";
import { serveHosted, type HostedServer } from "../../src/grpc/serve.ts";
import { fixtureConnector } from "../fixtures/fixture-connector.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { makeTestPki, type TestPki } from "../platform/index.ts";
import { capturedLogger, inProcess, observedRpc } from "../service/helpers.ts";

const tempDir = tempDirs("all");
let dir: string;
let pki: TestPki;
const servers: HostedServer[] = [];
const sockets: Socket[] = [];

beforeAll(() => {
  dir = tempDir("hosted-limits-");
  pki = makeTestPki(dir);
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => s.close()));
});

async function serve(options: Partial<Parameters<typeof serveHosted>[0]> = {}) {
  const logs = capturedLogger();
  const server = await serveHosted({ rpc: inProcess(fixtureConnector()), listen: "127.0.0.1:0", logger: logs.logger, ...options });
  servers.push(server);
  return { server, logs };
}

/** Opens a TCP socket to `port`; resolves with how long after connecting the server closed it (or null by `waitMs`). */
function silentSocket(port: number, waitMs: number, send?: Buffer): Promise<number | null> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    sockets.push(s);
    let connectedAt = Date.now();
    s.on("error", () => {});
    s.on("connect", () => {
      connectedAt = Date.now();
      if (send) s.write(send);
    });
    s.on("close", () => resolve(Date.now() - connectedAt));
    setTimeout(() => resolve(null), waitMs).unref();
  });
}

const mtls = (port: number) =>
  connectorClient(`127.0.0.1:${port}`, grpc.credentials.createSsl(Buffer.from(pki.caPem), Buffer.from(pki.client.keyPem), Buffer.from(pki.client.certPem)), {
    defaultTimeoutMs: 10_000,
  });

describe("the guarded listener", () => {
  it("closes a plaintext socket that never sends the HTTP/2 preface once the handshake timeout passes", async () => {
    const { server } = await serve({ limits: { handshakeTimeoutMs: 300 } });
    const closedAfter = await silentSocket(server.port, 5000);
    expect(closedAfter).not.toBeNull();
    expect(server.stats().connections.timedOut).toBe(1);
    // A real client is still served.
    const client = connectorClient(server.address, grpc.credentials.createInsecure());
    try {
      expect((await client.listResourceTypes({})).list).toHaveLength(5);
    } finally {
      client.close();
    }
  });

  it("closes a TLS socket that never sends a ClientHello, and one that finishes TLS but never speaks HTTP/2", async () => {
    const { server } = await serve({ tlsCert: pki.server.cert, tlsKey: pki.server.key, tlsClientCa: pki.caFile, limits: { handshakeTimeoutMs: 300 } });
    expect(await silentSocket(server.port, 5000)).not.toBeNull();

    const afterTls = await new Promise<number | null>((resolve) => {
      const s = tls.connect({
        host: "127.0.0.1",
        port: server.port,
        ca: pki.caPem,
        cert: pki.client.certPem,
        key: pki.client.keyPem,
        ALPNProtocols: ["h2"],
      });
      s.on("error", () => {});
      let secureAt = 0;
      s.on("secureConnect", () => (secureAt = Date.now()));
      s.on("close", () => resolve(secureAt ? Date.now() - secureAt : null));
      setTimeout(() => resolve(null), 5000).unref();
    });
    expect(afterTls, "closed after the TLS handshake").not.toBeNull();
    expect(server.stats().connections.timedOut).toBe(2);
    const client = mtls(server.port);
    try {
      expect((await client.listResourceTypes({})).list).toHaveLength(5);
    } finally {
      client.close();
    }
  });

  it("closes at once a socket that sends something other than the HTTP/2 preface, and a TLS client that does not negotiate h2", async () => {
    const { server } = await serve({ limits: { handshakeTimeoutMs: 60_000 } });
    expect(await silentSocket(server.port, 5000, Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))).not.toBeNull();
    expect(server.stats().connections).toMatchObject({ rejected: 1, timedOut: 0 });

    const { server: tlsServer } = await serve({ tlsCert: pki.server.cert, tlsKey: pki.server.key, limits: { handshakeTimeoutMs: 60_000 } });
    const closed = await new Promise<boolean>((resolve) => {
      const s = tls.connect({ host: "127.0.0.1", port: tlsServer.port, ca: pki.caPem, servername: "localhost" }); // no ALPN
      s.on("error", () => {});
      s.on("close", () => resolve(true));
      setTimeout(() => resolve(false), 5000).unref();
    });
    expect(closed).toBe(true);
    expect(tlsServer.stats().connections.rejected).toBe(1);
  });

  it("closes connections beyond the cap at once and serves again when they are gone", async () => {
    const { server, logs } = await serve({ limits: { maxConnections: 3, handshakeTimeoutMs: 60_000 } });
    const held = [0, 1, 2].map(() => silentSocket(server.port, 60_000));
    await new Promise((r) => setTimeout(r, 200));
    expect(await silentSocket(server.port, 5000)).not.toBeNull(); // the fourth
    expect(server.stats().connections.refusedAtCap).toBe(1);
    expect(logs.entries().find((e) => e.level === "warn")?.msg).toMatch(/connection limit is reached/);
    for (const s of sockets.splice(0)) s.destroy();
    await Promise.all(held);
    const client = connectorClient(server.address, grpc.credentials.createInsecure());
    try {
      expect((await client.listResourceTypes({})).list).toHaveLength(5);
    } finally {
      client.close();
    }
  });
});

describe("idle connections", () => {
  it("are closed by the server after the idle timeout, and the client reconnects for its next call", async () => {
    const { server } = await serve({ limits: { idleTimeoutMs: 300 } });
    const client = connectorClient(server.address, grpc.credentials.createInsecure(), { defaultTimeoutMs: 10_000 });
    try {
      await client.listResourceTypes({});
      expect(server.stats().connections.open).toBe(1);
      await until(() => server.stats().connections.open === 0, 5000);
      expect((await client.listResourceTypes({})).list).toHaveLength(5);
      expect(server.stats().connections.handedOver).toBe(2);
    } finally {
      client.close();
    }
  });
});

describe("the call limiter", () => {
  it("runs the cap, queues a few, refuses the rest with RESOURCE_EXHAUSTED, and a cancelled waiter leaves the queue", async () => {
    const observed = observedRpc(inProcess(fixtureConnector()));
    const hold = Promise.withResolvers<void>();
    observed.hold = hold.promise;
    const { server, logs } = await serve({ rpc: observed.rpc, limits: { maxConcurrentCalls: 2, maxQueuedCalls: 2 } });
    const client = connectorClient(server.address, grpc.credentials.createInsecure(), { defaultTimeoutMs: 20_000 });
    try {
      const outcome = (p: Promise<unknown>) => p.then(() => "OK", (e: unknown) => (e instanceof ConnectorError ? e.code : String(e)));
      const running = [0, 1].map(() => outcome(client.listResourceTypes({})));
      await observed.held.promise;
      await until(() => server.stats().calls.running === 2);
      const queued = [0, 1].map(() => outcome(client.listResourceTypes({})));
      await until(() => server.stats().calls.queued === 2);
      const refused = await outcome(client.listResourceTypes({}));
      expect(refused).toBe(Code.RESOURCE_EXHAUSTED);
      expect(observed.calls.get("listResourceTypes")).toBe(2); // the waiting and refused calls never reached the connector

      hold.resolve();
      observed.hold = undefined;
      expect(await Promise.all([...running, ...queued])).toEqual(["OK", "OK", "OK", "OK"]);
      await until(() => server.stats().calls.running === 0);

      // A waiter whose client gives up leaves the queue.
      const again = Promise.withResolvers<void>();
      observed.hold = again.promise;
      observed.held = Promise.withResolvers<string>();
      const busy = [0, 1].map(() => outcome(client.listResourceTypes({})));
      await until(() => server.stats().calls.running === 2);
      const giveUp = new AbortController();
      const waiter = outcome(client.listResourceTypes({}, { signal: giveUp.signal }));
      await until(() => server.stats().calls.queued === 1);
      giveUp.abort();
      expect(await waiter).toBe(Code.CANCELLED);
      await until(() => server.stats().calls.queued === 0);
      again.resolve();
      expect(await Promise.all(busy)).toEqual(["OK", "OK"]);
      expect(server.stats().calls.refused).toBe(1);
      expect(logs.entries().find((e) => e.level === "warn")?.msg).toMatch(/RESOURCE_EXHAUSTED/);
    } finally {
      client.close();
    }
  });
});

describe("client certificates off loopback", () => {
  it("refuses TLS without --tls-client-ca on 0.0.0.0 unless allowed, and warns when allowed", async () => {
    const tlsOptions = { listen: "0.0.0.0:0", tlsCert: pki.server.cert, tlsKey: pki.server.key };
    for (const listen of ["0.0.0.0:0", "[::]:0", "10.1.2.3:50051"]) {
      const err = await serve({ ...tlsOptions, listen, provisioning: true }).catch((e: unknown) => e);
      expect(err, listen).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/--tls-client-ca: refusing to serve on .* without client certificates: anyone who can reach the port could call every RPC, provisioning included\. Pass --tls-client-ca .* or --allow-unauthenticated-clients/);
    }
    // The opt-in does not make plaintext acceptable off loopback.
    const plain = await serve({ listen: "0.0.0.0:0", allowUnauthenticatedClients: true }).catch((e: unknown) => e);
    expect((plain as Error).message).toMatch(/--listen: refusing to serve without TLS/);

    const { server, logs } = await serve({ ...tlsOptions, allowUnauthenticatedClients: true, provisioning: true });
    const warning = logs.entries().find((e) => e.level === "warn");
    expect(warning?.msg).toMatch(/--allow-unauthenticated-clients.*anyone who can reach 0\.0\.0\.0:\d+ can call every RPC, provisioning included/);
    expect(server.clientCertificates).toBe(false);

    const { server: withCa, logs: quiet } = await serve({ ...tlsOptions, tlsClientCa: pki.caFile });
    expect(withCa.clientCertificates).toBe(true);
    expect(quiet.entries().filter((e) => e.level === "warn")).toEqual([]);
  });
});

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
