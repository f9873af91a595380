// The production entrypoint as a test (no container engine runs here): the exact command of the image's
// ENTRYPOINT (+ CMD), read from the Dockerfile, with /app paths mapped to this checkout; the environment the
// image and the Deployment set (rendered from k8s/), plus the Secret's keys with real values from the test
// platform and the Datadog simulator; run as the image's UID with no passwd entry, no HOME, and one writable
// directory. The platform queues a sync: it must complete and upload a valid c1z of the simulator's org, /ready
// must answer 200, SIGTERM must exit 0, and nothing may be written outside the writable directory.
import type { ChildProcess } from "node:child_process";
import { chmodSync, readdirSync, watch, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDirs } from "../helpers/temp-dir.ts";
import { expectedCounts, startSimulator, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { startTestPlatform, type TestPlatform } from "../platform/index.ts";
import { uploadedSync } from "../service/helpers.ts";
import { imageFilesFromContext, instructionsOf, readDockerfile } from "./dockerfile-model.ts";
import { type K8sObject, readYamlDocuments, renderKustomization } from "./kustomize.ts";
import { canDropPrivileges, runUnprivileged, type UnprivilegedRun } from "./unprivileged.ts";

const ROOT = join(import.meta.dirname, "..", "..");
// The PATH of the official Node image (the base of ours); the entrypoint's `node` is found on it there.
const IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const isolated = canDropPrivileges();
if (!isolated) console.warn("entrypoint.test.ts: not root or no setpriv: running as the current user, stray writes NOT checked");

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const tempDir = tempDirs();

// ---- the image ------------------------------------------------------------------------------------------------

const dockerfile = readDockerfile(ROOT);

function execForm(keyword: "ENTRYPOINT" | "CMD"): string[] {
  const instruction = instructionsOf(dockerfile.final, keyword).at(-1);
  if (!instruction) return [];
  const content = instruction.getArgumentsContent() ?? "";
  const parsed = JSON.parse(content) as unknown;
  if (!Array.isArray(parsed)) throw new Error(`${keyword} must be in exec form (a JSON array), got ${content}`);
  return parsed as string[];
}

/** ENV of the final stage, in order ("K=V" pairs). */
function imageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of instructionsOf(dockerfile.final, "ENV")) {
    for (const arg of i.getArguments().map((a) => a.getValue())) {
      const eq = arg.indexOf("=");
      if (eq <= 0) throw new Error(`ENV ${arg}: only the KEY=VALUE form is understood here`);
      env[arg.slice(0, eq)] = arg.slice(eq + 1).replace(/^"(.*)"$/s, "$1");
    }
  }
  return env;
}

function lastWorkdir(): string {
  return instructionsOf(dockerfile.final, "WORKDIR").at(-1)?.getArgumentsContent() ?? "/";
}

/** The image's command with its /app paths mapped to this checkout, and `node` mapped to the Node running us. */
function entrypointCommand(): { command: string; args: string[]; imageArgv: string[] } {
  const imageArgv = [...execForm("ENTRYPOINT"), ...execForm("CMD")];
  const files = imageFilesFromContext(ROOT, dockerfile);
  const [program, ...rest] = imageArgv;
  if (program !== "node") throw new Error(`the ENTRYPOINT runs ${program}; this test knows how to run "node" only`);
  const args = rest.map((a) => (files.has(a) ? join(ROOT, files.get(a)!) : a));
  return { command: process.execPath, args, imageArgv };
}

// ---- the Deployment and the Secret ---------------------------------------------------------------------------

type Container = {
  name: string;
  env?: { name: string; value?: string }[];
  envFrom?: { secretRef?: { name: string } }[];
  volumeMounts?: { name: string; mountPath: string }[];
};

function serviceContainer(): Container {
  const deployments = renderKustomization(join(ROOT, "k8s")).filter((o: K8sObject) => o.kind === "Deployment");
  expect(deployments.map((d) => d.metadata.name)).toEqual(["baton-datadog"]);
  const spec = (deployments[0] as unknown as { spec: { template: { spec: { containers: Container[] } } } }).spec.template.spec;
  expect(spec.containers).toHaveLength(1);
  return spec.containers[0];
}

/** The example Secret's keys and values (k8s/secret.example.yaml), as `kubectl create secret` would store them. */
function exampleSecret(): { name: string; data: Record<string, string> } {
  const [secret] = readYamlDocuments(join(ROOT, "k8s", "secret.example.yaml")) as { kind: string; metadata: { name: string }; stringData: Record<string, string> }[];
  expect(secret.kind).toBe("Secret");
  return { name: secret.metadata.name, data: secret.stringData };
}

// ---- plumbing -------------------------------------------------------------------------------------------------

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** GETs `url` until it answers `status` (the probe server starts with the process, readiness after Hello). */
async function untilStatus(url: string, status: number, exited: () => boolean): Promise<number> {
  let last = 0;
  for (let i = 0; i < 600; i++) {
    if (exited()) throw new Error(`the process exited while waiting for ${url} to answer ${status} (last ${last})`);
    last = await fetch(url, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0);
    if (last === status) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} never answered ${status} (last ${last})`);
}

describe("the production entrypoint", () => {
  it("runs unprivileged with the Deployment's environment: syncs for the platform, reports ready, exits 0 on SIGTERM, writes only its directory", async () => {
    const sim: Simulator = await startSimulator({ seed: 5, counts: { users: 30, teams: 4, roles: 4, schedules: 2, apiKeys: 4, appKeys: 3 } });
    cleanups.push(() => sim.close());
    // The client id names a host that does not resolve: only BATON_C1_API_HOST leads to the platform.
    const platform: TestPlatform = await startTestPlatform({ clientIdHost: "platform.invalid", nextPollMs: 20, nextHeartbeatMs: 200 });
    cleanups.push(() => platform.close());

    const writable = tempDir("baton-entrypoint-work-");
    // The CA lives outside the writable directory, readable by the image's UID (the PKI's own dir is 0700).
    const caDir = tempDir("baton-entrypoint-ca-");
    chmodSync(caDir, 0o755);
    const caFile = join(caDir, "platform-ca.pem");
    writeFileSync(caFile, platform.caPem, { mode: 0o644 });

    // The image: its command, ENV and WORKDIR; /var/lib/baton (its one writable dir) becomes our temp dir.
    const { command, args, imageArgv } = entrypointCommand();
    expect(imageArgv).toEqual(["node", "/app/bin/baton-datadog.js"]);
    expect(process.versions.node, "the image's Node version runs this test").toBe(dockerfile.final.base.getImageTag()?.split("-")[0]);
    const container = serviceContainer();
    const writableMounts = new Set((container.volumeMounts ?? []).map((m) => m.mountPath));
    const imageWorkdir = lastWorkdir();
    expect(writableMounts.has(imageWorkdir), `WORKDIR ${imageWorkdir} is the mounted writable directory`).toBe(true);
    const toLocal = (value: string) => (writableMounts.has(value) ? writable : value);

    const env: Record<string, string> = { PATH: IMAGE_PATH };
    for (const [k, v] of Object.entries(imageEnv())) env[k] = toLocal(v);
    // The issue asks for HOME unset (the UID has no passwd entry; nothing may depend on a home directory).
    delete env.HOME;

    // The Deployment's env, with the health port swapped for a free one.
    const healthPort = await freePort();
    for (const e of container.env ?? []) {
      expect(e.value, `env ${e.name} has a literal value`).toBeDefined();
      env[e.name] = toLocal(e.value!);
    }
    expect(env.BATON_HEALTH_CHECK).toBe("true");
    expect(env.TMPDIR).toBe(writable);
    env.BATON_HEALTH_CHECK_PORT = String(healthPort);

    // envFrom the Secret: every key of the example Secret, filled with this test's values.
    const secret = exampleSecret();
    expect(container.envFrom).toEqual([{ secretRef: { name: secret.name } }]);
    const secretValues: Record<string, string> = {
      BATON_CLIENT_ID: platform.clientId,
      BATON_CLIENT_SECRET: platform.clientSecret,
      BATON_API_KEY: sim.apiKey,
      BATON_APP_KEY: sim.appKey,
      BATON_SITE: secret.data.BATON_SITE,
      BATON_PROVISIONING: secret.data.BATON_PROVISIONING,
      BATON_SYNC_SCHEDULES: secret.data.BATON_SYNC_SCHEDULES,
    };
    expect(Object.keys(secret.data).sort()).toEqual(Object.keys(secretValues).sort());
    Object.assign(env, secretValues);

    // Test-only: where Datadog and the platform are, and the platform's CA (corporate TLS inspection works alike).
    env.BATON_BASE_URL = sim.baseUrl;
    env.BATON_C1_API_HOST = platform.host;
    env.NODE_EXTRA_CA_CERTS = caFile;

    // What appears in the writable directory: the sync's working files must be written there (TMPDIR).
    const appeared = new Set<string>();
    const watcher = watch(writable, (_event, name) => name && appeared.add(name));
    cleanups.push(() => watcher.close());

    let child: ChildProcess | undefined;
    let exited = false;
    const run: Promise<UnprivilegedRun> = runUnprivileged(command, args, {
      env,
      writableDir: writable,
      onSpawn: (c) => {
        child = c;
      },
    }).finally(() => (exited = true));
    cleanups.push(async () => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await run.catch(() => {});
    });
    // Waits for the platform to see something, failing at once (with the process's output) if it exits first.
    const before = <T>(what: Promise<T>): Promise<T> =>
      Promise.race([
        what,
        run.then((r) => {
          throw new Error(`the entrypoint exited early (code ${r.code}, signal ${r.signal}):\n${r.stderr}`);
        }),
      ]);

    try {
      const hello = await before(platform.waitFor(() => platform.hellos[0], "Hello from the entrypoint"));
      expect(hello.buildInfo?.package).toBe("baton-datadog");
      expect(hello.connectorMetadata?.displayName).toBe("Datadog");
      expect(await untilStatus(`http://127.0.0.1:${healthPort}/ready`, 200, () => exited)).toBe(200);
      expect((await fetch(`http://127.0.0.1:${healthPort}/live`)).status).toBe(200);

      const taskId = platform.enqueue({ taskType: { case: "syncFull", value: {} } });
      const finished = await before(platform.waitForFinished(taskId, 60_000));
      expect(finished.finalState.case, JSON.stringify(finished.status)).toBe("success");
      const { counts } = await uploadedSync(platform, taskId);
      const expected = expectedCounts(sim.org);
      // BATON_SYNC_SCHEDULES from the Secret is on; keys are not synced (the Secret has no BATON_SYNC_SECRETS).
      expect(counts.resourcesByType).toEqual({ user: expected.users, role: expected.roles, team: expected.teams, schedule: expected.schedules });
    } finally {
      child?.kill("SIGTERM");
    }

    const result = await run;
    expect({ code: result.code, signal: result.signal }, result.stderr).toEqual({ code: 0, signal: null });
    expect(result.isolated).toBe(isolated);
    expect(result.strayWrites).toEqual([]);
    // The sync worked in the writable directory, and its files went away with the task.
    expect([...appeared].some((n) => n.startsWith("baton-sync-")), `entries seen: ${[...appeared].join(", ")}`).toBe(true);
    expect(readdirSync(writable)).toEqual([]);
    for (const s of [platform.clientSecret.split(":")[3], sim.apiKey, sim.appKey]) expect(result.stdout + result.stderr).not.toContain(s);
    // JSON logs (no TTY), as a log collector would read them: the service reports what it did when it stops.
    const logLines = result.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logLines.find((l) => l.msg === "service stopped")).toMatchObject({ tasksStarted: 1, tasksReported: 1, tasksUnreported: 0 });
  });
});
