/**
 * Service mode as deployed: a separate process configured by environment variables only, trusting the test
 * platform's CA through NODE_EXTRA_CA_CERTS (for the token call and for gRPC), reaching the platform through
 * BATON_C1_API_HOST, and exiting 0 after SIGTERM once its running task is done.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { tempDirs } from "../helpers/temp-dir.ts";
import { startTestPlatform, type TestPlatform } from "../platform/index.ts";

const child = join(import.meta.dirname, "service-child.ts");
const tempDir = tempDirs();
let platform: TestPlatform | undefined;

afterEach(async () => {
  await platform?.close();
});

it("runs with NODE_EXTRA_CA_CERTS and BATON_C1_API_HOST, syncs, and exits 0 on SIGTERM after finishing its task", async () => {
  // The client id names a host that does not resolve: only BATON_C1_API_HOST leads to the platform.
  platform = await startTestPlatform({ clientIdHost: "platform.invalid" });
  const dir = tempDir("service-child-");
  const proc = spawn(process.execPath, [child, dir, "50"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      NODE_EXTRA_CA_CERTS: platform.caFile,
      BATON_C1_API_HOST: platform.host,
      BATON_CLIENT_ID: platform.clientId,
      BATON_CLIENT_SECRET: platform.clientSecret,
      BATON_HOST_ID: "child-host",
    },
  });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = once(proc, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  try {
    const p = platform;
    const hello = await p.waitFor(() => p.hellos[0], "Hello from the child");
    expect(hello.hostId).toBe("child-host");
    expect(hello.buildInfo?.package).toBe("baton-test-child");
    expect(p.tokenRequests[0]).toMatchObject({ ok: true });
    expect(p.tokenRequests[0].claims).toMatchObject({ aud: ["127.0.0.1"], iss: p.clientId });

    const id = p.enqueue({ taskType: { case: "syncFull", value: {} } });
    await p.waitFor(() => p.heartbeats.some((h) => h.taskId === id), "the sync running");
    proc.kill("SIGTERM");
    const finish = await p.waitForFinished(id);
    expect(finish.finalState.case).toBe("success");
    expect(p.uploads.find((u) => u.taskId === id)?.checksumOk).toBe(true);
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(JSON.parse(stdout.trim())).toEqual({ hostId: "child-host", tasksStarted: 1, tasksReported: 1, tasksUnreported: 0 });
    expect(stderr).not.toContain(p.clientSecret.split(":")[3]);
    expect(stderr).toContain("shutting down: letting running tasks finish");
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  }
});
