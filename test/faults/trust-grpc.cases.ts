/**
 * Trust (grpc): cases of issue 12 for this area. Each case reproduces one defect against the real parts on loopback
 * and records its measured outcome in the "Trust" section of the fault matrix (record({ section: "Trust", … })).
 *
 * - Defect 1: `serve` off loopback with TLS but no `--tls-client-ca` served every RPC, provisioning included, to
 *   anyone. Now a usage error unless `--allow-unauthenticated-clients`, which warns.
 * - Defect 6: the gRPC server had no limits: a flood of ListResources took its RSS past the manifests' 512 Mi, and
 *   sockets that never spoke stayed open. Now a call cap with a bounded queue, and a handshake timeout.
 *
 * `baton-datadog serve` runs as a child process (so RSS is its own), bound to 0.0.0.0:0 where the case is about a
 * non-loopback address; every byte the cases send goes to 127.0.0.1.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { Code, codeName, ConnectorError } from "../../src/connector/errors.ts";
import { EntitlementSchema } from "../../src/gen/c1/connector/v2/entitlement_pb.js";
import { ResourceSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { connectorClient } from "../../src/grpc/connector-client.ts";
import { DEFAULT_LIMITS } from "../../src/grpc/limits.ts";
import type { Simulator } from "../../connectors/datadog/simulator/index.ts";
import { makeTestPki, type CertPair, type TestPki } from "../platform/index.ts";
import { collector } from "./collect.ts";
import { record } from "./matrix.ts";
import { childEnv, CLI, HEAVY, onCleanup, sleep, startSim, tempDir } from "./support.ts";

interface ServeChild {
  pid: number;
  /** Resolves with the bound port once the CLI says "serving on …", or rejects when it exits first. */
  port: Promise<number>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  /** The CLI's one-line reason ("baton-datadog: error: …"), if it printed one. */
  error(): string | undefined;
  /** Parsed JSON log lines. */
  logs(): Record<string, unknown>[];
  kill(signal?: NodeJS.Signals): void;
}

let serveCount = 0;

function startServe(sim: Simulator, args: string[], source: string): ServeChild {
  const child = spawn(process.execPath, [CLI, "serve", ...args], {
    cwd: tempDir("serve-cwd"),
    env: childEnv({ BATON_API_KEY: sim.apiKey, BATON_APP_KEY: sim.appKey, BATON_BASE_URL: sim.baseUrl, BATON_LOG_FORMAT: "json" }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  collector.attach(`${source}#${++serveCount}`, child);
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  const port = new Promise<number>((resolve, reject) => {
    child.stderr!.on("data", (d: string) => {
      stderr += d;
      const m = /serving on (?:\S+):(\d+)/.exec(stderr);
      if (m) resolve(Number(m[1]));
    });
    exited.then(({ code, signal }) => reject(new Error(`serve exited (${code ?? signal}): ${stderr.slice(-800)}`)));
  });
  port.catch(() => {});
  onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return {
    pid: child.pid!,
    port,
    exited,
    stderr: () => stderr,
    error: () => stderr.split("\n").filter((l) => l.startsWith("baton-datadog: error:")).at(-1),
    logs: () =>
      stderr
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    kill: (signal = "SIGTERM") => child.kill(signal),
  };
}

/** Waits for the child to exit or to say it is serving, whichever comes first (at most `ms`). */
async function exitOrServing(serve: ServeChild, ms: number): Promise<"exited" | "serving" | "neither"> {
  return Promise.race([
    serve.exited.then(() => "exited" as const),
    serve.port.then(() => "serving" as const, () => "exited" as const),
    sleep(ms).then(() => "neither" as const),
  ]);
}

function tlsClient(pki: TestPki, port: number, cert?: CertPair) {
  const credentials = grpc.credentials.createSsl(
    Buffer.from(pki.caPem),
    cert ? Buffer.from(cert.keyPem) : null,
    cert ? Buffer.from(cert.certPem) : null,
  );
  const client = connectorClient(`127.0.0.1:${port}`, credentials, { defaultTimeoutMs: 15_000 });
  onCleanup(() => client.close());
  return client;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "OK";
  } catch (err) {
    return err instanceof ConnectorError ? codeName(err.code) : `not a ConnectorError: ${String(err)}`;
  }
}

/** Resident set size of `pid` in MB, from /proc. */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

const mb = (n: number) => `${n.toFixed(1)} MB`;

export function trustGrpcCases(): void {
  describe("Trust: grpc", () => {
    it("serve off loopback with TLS but no --tls-client-ca: refused (exit 2) unless --allow-unauthenticated-clients, which warns; with a client CA, no certificate, no Grant or DeleteResource", async () => {
      const sim = await startSim();
      const pki = makeTestPki(join(tempDir("trust-grpc-pki"), "pki"));
      const tlsArgs = ["--listen", "0.0.0.0:0", "--tls-cert", pki.server.cert, "--tls-key", pki.server.key];

      // 1. TLS without client certificates on a reachable address: a usage error naming both ways out.
      const refused = startServe(sim, ["-p", ...tlsArgs], "trust grpc: serve without client CA");
      const first = await exitOrServing(refused, 20_000);
      if (first !== "exited") refused.kill("SIGKILL");
      const { code } = await refused.exited;
      const message = refused.error();
      expect(first, "serve must refuse to start, not serve").toBe("exited");
      expect(code).toBe(2);
      expect(message).toMatch(/--tls-client-ca/);
      expect(message).toMatch(/--allow-unauthenticated-clients/);

      // 2. The opt-in: it serves, says at warn level that anyone can call every RPC, and anyone can.
      const optIn = startServe(sim, ["-p", ...tlsArgs, "--allow-unauthenticated-clients"], "trust grpc: serve opted in");
      const optInPort = await optIn.port;
      const anyone = tlsClient(pki, optInPort);
      const optInCall = await codeOf(anyone.listResourceTypes({}));
      anyone.close();
      optIn.kill("SIGTERM");
      const optInExit = await optIn.exited;
      const warning = optIn.logs().find((l) => l.level === "warn" && /anyone who can reach/.test(String(l.msg)));
      expect(warning?.msg, optIn.stderr()).toMatch(/anyone who can reach .* can call every RPC, provisioning included/);
      expect(optIn.stderr()).toMatch(/WARNING: --allow-unauthenticated-clients/);
      expect(optInCall).toBe("OK");
      expect(optInExit.code).toBe(0);

      // 3. With a client CA on the same address: no certificate (or one from another CA), no provisioning.
      const mtls = startServe(sim, ["-p", ...tlsArgs, "--tls-client-ca", pki.caFile], "trust grpc: serve with client CA");
      const port = await mtls.port;
      const role = sim.org.roles.values()[0]!;
      const user = sim.org.users.values().at(-1)!;
      const roleResource = create(ResourceSchema, { id: { resourceType: "role", resource: role.id } });
      const grant = (c: ReturnType<typeof tlsClient>) =>
        c.grant({
          entitlement: create(EntitlementSchema, { id: `role:${role.id}:member`, resource: roleResource }),
          principal: create(ResourceSchema, { id: { resourceType: "user", resource: user.id } }),
        });
      const del = (c: ReturnType<typeof tlsClient>) => c.deleteResource({ resourceId: { resourceType: "user", resource: user.id } });
      sim.resetStats();
      const outcomes: Record<string, string> = {};
      for (const [who, cert] of [["no certificate", undefined], ["a certificate from another CA", pki.rogueClient]] as const) {
        const c = tlsClient(pki, port, cert);
        outcomes[`Grant, ${who}`] = await codeOf(grant(c));
        outcomes[`DeleteResource, ${who}`] = await codeOf(del(c));
        c.close();
      }
      const datadogRequests = sim.stats.requests;
      const good = tlsClient(pki, port, pki.client);
      const withCert = await codeOf(good.listResourceTypes({}));
      good.close();
      mtls.kill("SIGTERM");
      await mtls.exited;

      record({
        section: "Trust",
        case: "serve off loopback: TLS without client certificates",
        how:
          "`baton-datadog serve -p --listen 0.0.0.0:0 --tls-cert … --tls-key …` as a child process (simulator behind it); then with " +
          "--allow-unauthenticated-clients; then with --tls-client-ca, TLS clients on 127.0.0.1 without a certificate and with one from another CA",
        outcome:
          `refused at start, exit 2 (before: it started and served every RPC to any TLS client); opted in: started, warned at warn level and on stderr, a client without a certificate ` +
          `got ${optInCall} for ListResourceTypes; with --tls-client-ca: ${Object.entries(outcomes).map(([k, v]) => `${k} → ${v}`).join("; ")}; ` +
          `${datadogRequests} Datadog requests made for them; a client with a certificate → ${withCert}`,
        exitCode: code ?? undefined,
        message: message?.replace(/^baton-datadog: error: /, ""),
      });
      for (const [what, outcome] of Object.entries(outcomes)) expect(outcome, what).toBe("UNAVAILABLE");
      expect(datadogRequests).toBe(0);
      expect(withCert).toBe("OK");
    }, 90_000);

    it("a flood of 3,000 concurrent ListResources and 300 sockets that never speak: RSS bounded, excess calls RESOURCE_EXHAUSTED, silent sockets closed", async () => {
      const sim = await startSim();
      const serve = startServe(sim, ["--listen", "127.0.0.1:0"], "trust grpc: flood");
      const port = await serve.port;
      const target = `127.0.0.1:${port}`;

      // Warm up (the connector's first call builds its client), then the baseline.
      const warm = connectorClient(target, grpc.credentials.createInsecure(), { defaultTimeoutMs: 30_000 });
      onCleanup(() => warm.close());
      await warm.listResources({ resourceTypeId: "user", pageSize: 100 });
      await sleep(500);
      const before = rssMb(serve.pid);

      // Many connections, as a hostile client would use: one connection alone is throttled by its stream limit.
      const calls = HEAVY ? 10_000 : 3000;
      const connections = 30;
      const clients = Array.from({ length: connections }, () => {
        const c = connectorClient(target, grpc.credentials.createInsecure(), {
          defaultTimeoutMs: 120_000,
          channelOptions: { "grpc.use_local_subchannel_pool": 1 },
        });
        onCleanup(() => c.close());
        return c;
      });
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMb(serve.pid))), 25);
      const started = Date.now();
      const codes = await Promise.all(
        Array.from({ length: calls }, (_, i) => codeOf(clients[i % connections]!.listResources({ resourceTypeId: "user", pageSize: 100 }))),
      );
      const floodMs = Date.now() - started;
      clearInterval(sampler);
      peak = Math.max(peak, rssMb(serve.pid));
      for (const c of clients) c.close();
      const count = (code: string) => codes.filter((c) => c === code).length;
      const ok = count("OK");
      const exhausted = count("RESOURCE_EXHAUSTED");
      const other = [...new Set(codes.filter((c) => c !== "OK" && c !== "RESOURCE_EXHAUSTED"))];
      const afterCall = await codeOf(warm.listResources({ resourceTypeId: "user", pageSize: 100 }));
      await sleep(2000);
      const after = rssMb(serve.pid);
      warm.close();

      // 300 sockets that connect and never send a byte.
      await sleep(500); // the flood's connections close
      const silentCount = 300;
      const opened = Date.now();
      const closedAt: number[] = [];
      const sockets: Socket[] = [];
      await Promise.all(
        Array.from(
          { length: silentCount },
          () =>
            new Promise<void>((resolve) => {
              const s = connect({ host: "127.0.0.1", port });
              sockets.push(s);
              s.on("error", () => {});
              s.on("close", () => {
                closedAt.push(Date.now() - opened);
                resolve();
              });
              s.on("connect", () => resolve());
            }),
        ),
      );
      const waitUntil = Date.now() + DEFAULT_LIMITS.handshakeTimeoutMs * 2 + 5000;
      while (closedAt.length < silentCount && Date.now() < waitUntil) await sleep(100);
      const stillOpen = silentCount - closedAt.length;
      for (const s of sockets) s.destroy();
      closedAt.sort((a, b) => a - b);
      const atOnce = closedAt.filter((t) => t < DEFAULT_LIMITS.handshakeTimeoutMs / 2).length;
      const late = closedAt.filter((t) => t >= DEFAULT_LIMITS.handshakeTimeoutMs / 2);
      const servesAfter = connectorClient(target, grpc.credentials.createInsecure(), { defaultTimeoutMs: 30_000 });
      onCleanup(() => servesAfter.close());
      const afterSockets = await codeOf(servesAfter.listResourceTypes({}));
      servesAfter.close();

      serve.kill("SIGTERM");
      const exit = await serve.exited;
      record({
        section: "Trust",
        case: "gRPC server limits under a flood",
        how:
          `\`baton-datadog serve --listen 127.0.0.1:0\` as a child process (defaults: ${DEFAULT_LIMITS.maxConcurrentCalls} calls running, ` +
          `${DEFAULT_LIMITS.maxQueuedCalls} waiting, ${DEFAULT_LIMITS.maxStreamsPerConnection} streams per connection, ${DEFAULT_LIMITS.maxConnections} connections, ` +
          `${DEFAULT_LIMITS.handshakeTimeoutMs / 1000} s handshake timeout); ${calls} concurrent ListResources (users, page size 100, simulator behind it) ` +
          `over ${connections} connections, RSS of the child sampled every 25 ms; then ${silentCount} TCP sockets that never send a byte`,
        outcome:
          `RSS ${mb(before)} before, peak ${mb(peak)} during (${(floodMs / 1000).toFixed(1)} s), ${mb(after)} 2 s after; ${ok} calls answered, ` +
          `${exhausted} RESOURCE_EXHAUSTED at once${other.length ? `, others: ${other.join(", ")}` : ""}; a call afterwards → ${afterCall}. ` +
          `Silent sockets: ${atOnce} closed at once (connection cap), ${late.length} closed after ${late.length ? `${(late[0]! / 1000).toFixed(1)}-${(late.at(-1)! / 1000).toFixed(1)} s` : "-"} ` +
          `(handshake timeout), ${stillOpen} still open; the server answered afterwards (${afterSockets})`,
      });
      expect(other).toEqual([]);
      expect(exhausted).toBeGreaterThan(0);
      expect(ok).toBeGreaterThan(0);
      // Well under the manifests' 512 Mi limit; before the limits the same flood reached ~640 MB.
      expect(peak).toBeLessThan(400);
      expect(afterCall).toBe("OK");
      expect(stillOpen).toBe(0);
      expect(afterSockets).toBe("OK");
      expect(exit.code).toBe(0);
    }, 180_000);
  });
}
