/**
 * Hosted mode end to end with the real Datadog connector and the simulator: the connector's c1.connector.v2
 * services over TLS with client certificates. A client with a certificate from the CA lists resource types,
 * resources, entitlements and grants, and a full sync through it equals an in-process sync row for row; a
 * client without a certificate (or with one from another CA) is refused. The `serve` subcommand runs once as a
 * real child process, the way the platform would start it, and SIGTERM stops it with exit code 0.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { Code, ConnectorError } from "../../src/connector/errors.ts";
import type { ConnectorRpc } from "../../src/connector/rpc.ts";
import { connectorClient } from "../../src/grpc/connector-client.ts";
import { serveHosted, type HostedServer } from "../../src/grpc/serve.ts";
import { runSync } from "../../src/sync/engine.ts";
import type { BuiltDatadog } from "../../connectors/datadog/build.ts";
import { expectedCounts, startSimulator, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { c1zRows } from "../helpers/c1z-rows.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { makeTestPki, type CertPair, type TestPki } from "../platform/index.ts";
import { capturedLogger } from "../service/helpers.ts";
import { datadogFor, E2E_ORG, E2E_SEED } from "./datadog.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "baton-datadog.js");
const logs = capturedLogger();
const tempDir = tempDirs("all");

let dir: string;
let pki: TestPki;
let sim: Simulator;
let built: BuiltDatadog;
let inProcessRpc: ConnectorRpc;
/** Rows of a sync of the simulator with the connector in process: what every transport must reproduce. */
let referenceRows: string[];

beforeAll(async () => {
  dir = tempDir("e2e-hosted-");
  pki = makeTestPki(join(dir, "pki"));
  sim = await startSimulator({ seed: E2E_SEED, counts: E2E_ORG });
  ({ built, rpc: inProcessRpc } = await datadogFor(sim, logs.logger, false));
  const file = join(dir, "in-process.c1z");
  await runSync({ connector: inProcessRpc, file, logger: logs.logger });
  referenceRows = (await c1zRows(file)).rows;
});
afterAll(async () => {
  await built?.close();
  await sim?.close();
  for (const secret of [sim.apiKey, sim.appKey]) expect(logs.text()).not.toContain(secret);
});

function client(port: number, cert?: CertPair) {
  const credentials = grpc.credentials.createSsl(
    Buffer.from(pki.caPem),
    cert ? Buffer.from(cert.keyPem) : null,
    cert ? Buffer.from(cert.certPem) : null,
  );
  return connectorClient(`127.0.0.1:${port}`, credentials, { defaultTimeoutMs: 20_000 });
}

let syncs = 0;
async function syncThrough(rpc: ConnectorRpc): Promise<string[]> {
  const file = join(dir, `through-grpc-${++syncs}.c1z`);
  await runSync({ connector: rpc, file, logger: logs.logger });
  return (await c1zRows(file)).rows;
}

async function refused(port: number, cert?: CertPair): Promise<void> {
  const c = client(port, cert);
  try {
    const err = await c.listResourceTypes({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe(Code.UNAVAILABLE);
  } finally {
    c.close();
  }
}

describe("hosted mode serving the Datadog connector over TLS with client certificates", () => {
  let server: HostedServer;
  beforeAll(async () => {
    server = await serveHosted({
      rpc: inProcessRpc,
      listen: "127.0.0.1:0",
      tlsCert: pki.server.cert,
      tlsKey: pki.server.key,
      tlsClientCa: pki.caFile,
      logger: logs.logger,
    });
  });
  afterAll(() => server?.close());

  it("lists the simulator's resource types, resources, entitlements and grants to a client with a certificate", async () => {
    const c = client(server.port, pki.client);
    try {
      const expected = expectedCounts(sim.org);
      const types = await c.listResourceTypes({});
      expect(types.list.map((t) => t.id).sort()).toEqual(["api-key", "application-key", "role", "schedule", "team", "user"]);

      const users: string[] = [];
      let pageToken = "";
      do {
        const page = await c.listResources({ resourceTypeId: "user", pageToken, pageSize: 25 });
        users.push(...page.list.map((u) => u.id!.resource));
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(users.sort()).toEqual(sim.org.users.values().map((u) => u.id).sort());
      expect(users).toHaveLength(expected.users);

      const role = sim.org.roles.values().find((r) => r.users.size > 0)!;
      const roles = await c.listResources({ resourceTypeId: "role" });
      const roleResource = roles.list.find((r) => r.id?.resource === role.id);
      expect(roleResource, `role ${role.id} is listed`).toBeDefined();
      const entitlements = await c.listEntitlements({ resource: roleResource });
      expect(entitlements.list.map((e) => e.id)).toEqual([`role:${role.id}:member`]);

      const holders: string[] = [];
      pageToken = "";
      do {
        const page = await c.listGrants({ resource: roleResource, pageToken });
        holders.push(...page.list.map((g) => g.principal!.id!.resource));
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(holders.sort()).toEqual(role.users.values().map((u) => u.id).sort());
    } finally {
      c.close();
    }
  });

  it("a full sync through the gRPC client equals the in-process sync, row for row", async () => {
    const c = client(server.port, pki.client);
    try {
      const rows = await syncThrough(c);
      expect(rows.length).toBe(referenceRows.length);
      expect(rows).toEqual(referenceRows);
    } finally {
      c.close();
    }
  });

  it("refuses a client without a certificate, and one with a certificate from another CA", async () => {
    await refused(server.port);
    await refused(server.port, pki.rogueClient);
  });
});

describe("`baton-datadog serve` as a child process", () => {
  it("serves over TLS with client certificates until SIGTERM, then exits 0", async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      [BIN, "serve", "--listen", "127.0.0.1:0", "--tls-cert", pki.server.cert, "--tls-key", pki.server.key, "--tls-client-ca", pki.caFile],
      {
        cwd: dir,
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          BATON_API_KEY: sim.apiKey,
          BATON_APP_KEY: sim.appKey,
          BATON_BASE_URL: sim.baseUrl,
          BATON_SYNC_SCHEDULES: "true",
          BATON_SYNC_SECRETS: "true",
          BATON_LOG_FORMAT: "json",
        },
      },
    );
    let stderr = "";
    let stdout = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      // The CLI reports the address it bound (port 0 picks a free one) on stderr.
      const port = await new Promise<number>((resolve, reject) => {
        child.stderr!.setEncoding("utf8").on("data", (d: string) => {
          stderr += d;
          const m = /serving on 127\.0\.0\.1:(\d+) \(TLS\)/.exec(stderr);
          if (m) resolve(Number(m[1]));
        });
        exited.then(([code, signal]) => reject(new Error(`serve exited early (${code ?? signal}): ${stderr}`)));
      });

      const c = client(port, pki.client);
      try {
        const types = await c.listResourceTypes({});
        expect(types.list.map((t) => t.id).sort()).toEqual(["api-key", "application-key", "role", "schedule", "team", "user"]);
        expect(await syncThrough(c)).toEqual(referenceRows);
      } finally {
        c.close();
      }
      await refused(port);

      child.kill("SIGTERM");
      const [code, signal] = await exited;
      expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
      for (const secret of [sim.apiKey, sim.appKey]) expect(stdout + stderr).not.toContain(secret);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });
});
