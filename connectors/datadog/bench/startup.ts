/**
 * The start-up part of `npm run bench` (issue 14), each a real process of bin/baton-datadog.js as a user runs it
 * (dist/ when it is built; `npm run bench` builds it):
 *   versionMs / versionRssMb: `--version`, spawn to exit, and its peak RSS; helpMs / helpRssMb the same for `--help`;
 *   firstRequestMs: spawn of a one-shot sync to the arrival of its first request at a loopback server (which
 *   answers 503 and the sync is then stopped): module loading, config, logger and connector set-up.
 * Each is run `runs` times; the line gets the median, the min and max beside it (the machine may be shared).
 * Every command runs with its own empty cache directory (XDG_CACHE_HOME), as on a machine that never ran it: the
 * first run fills Node's compile cache (bin/baton-datadog.js) and the later ones use it, as a user's runs do. The
 * first-request runs start with one that is answered 401, so that the sync exits and writes the cache (a stopped
 * one does not); its time is firstRequestMsCold.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = new URL("../../../bin/baton-datadog.js", import.meta.url).pathname;
const RSS_RECORDER = new URL("./rss-recorder.mjs", import.meta.url).pathname;

/** The environment of a user's shell: no test switches, no BATON_* settings of the bench's caller. */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("BATON_") && k !== "RUN_SOURCES" && k !== "NODE_OPTIONS") env[k] = v;
  return { ...env, ...extra };
}

function once(args: string[], dir: string, i: number): Promise<{ ms: number; rssMb: number }> {
  const rssFile = join(dir, `rss-${i}`);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    // The bin's own shebang flags (bin/baton-datadog.js) as `npx baton-datadog` would run it.
    const child = spawn(process.execPath, ["--max-semi-space-size=2", "--import", RSS_RECORDER, BIN, ...args], {
      cwd: dir,
      env: userEnv({ BENCH_RSS_FILE: rssFile, MALLOC_ARENA_MAX: "2", XDG_CACHE_HOME: dir }),
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = performance.now() - t0;
      if (code !== 0) return reject(new Error(`baton-datadog ${args.join(" ")} exited with ${code}: ${stderr.trim()}`));
      resolve({ ms, rssMb: Number(readFileSync(rssFile, "utf8")) / 1024 });
    });
  });
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

function spread(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s.at(-1)! };
}

/** Wall time and peak RSS of `baton-datadog <args>`, `runs` times in a row. */
export async function measureCommand(args: string[], runs: number): Promise<{ ms: Spread; rssMb: Spread }> {
  const dir = mkdtempSync(join(tmpdir(), "bench-startup-"));
  try {
    const ms: number[] = [];
    const rss: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await once(args, dir, i);
      ms.push(r.ms);
      rss.push(r.rssMb);
    }
    return { ms: spread(ms), rssMb: spread(rss) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Milliseconds from spawning a one-shot sync to its first request: a cold run, then `runs` more. */
export async function measureFirstRequest(runs: number): Promise<Spread & { cold: number }> {
  const dir = mkdtempSync(join(tmpdir(), "bench-first-request-"));
  let arrived: (() => void) | undefined;
  let refuse = true;
  const server = createServer((req, res) => {
    arrived?.();
    req.resume();
    // The cold run is refused (401: the sync stops and exits, writing the compile cache); the others see a 503.
    if (refuse) res.writeHead(401, { "content-type": "application/json" }).end('{"errors":["Unauthorized"]}');
    else res.writeHead(503, { "content-type": "application/json" }).end('{"errors":["bench: start-up measured"]}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const times: number[] = [];
    let cold = 0;
    for (let i = 0; i <= runs; i++) {
      refuse = i === 0;
      const first = new Promise<void>((resolve) => (arrived = resolve));
      const t0 = performance.now();
      const child = spawn(
        process.execPath,
        ["--max-semi-space-size=2", BIN, "--base-url", baseUrl, "--api-key", "0".repeat(32), "--app-key", "0".repeat(40), "-f", join(dir, `first-${i}.c1z`)],
        { cwd: dir, env: userEnv({ MALLOC_ARENA_MAX: "2", XDG_CACHE_HOME: dir }), stdio: "ignore" },
      );
      const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
      const winner = await Promise.race([first.then(() => "request" as const), exited.then(() => "exit" as const)]);
      const ms = performance.now() - t0;
      arrived = undefined;
      if (winner !== "request") throw new Error("bench: the one-shot sync exited before sending a request");
      if (i === 0) {
        cold = ms;
        // Refused, it exits by itself (1); it is stopped only if it hangs.
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
        continue;
      }
      child.kill("SIGKILL");
      await exited;
      times.push(ms);
    }
    return { ...spread(times), cold };
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
}
