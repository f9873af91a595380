import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../../src/index.ts";
import { defineConfig } from "../../../src/index.ts";
import { SIMULATE_FLAGS, simulatorOptions } from "./cli.ts";

const BIN = fileURLToPath(new URL("../../../bin/baton-datadog.js", import.meta.url));

describe("simulate command", () => {
  it("prints one JSON line with the base URL and keys first, serves, and stops on SIGTERM", async () => {
    const child = spawn(
      process.execPath,
      [BIN, "simulate", "--users", "12", "--teams", "3", "--seed", "5", "--rate-limit", "50/10", "--latency-ms", "1"],
      { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH, HOME: process.env.HOME } },
    );
    try {
      const lines = createInterface({ input: child.stdout! });
      const [first] = (await once(lines, "line")) as [string];
      const info = JSON.parse(first);
      expect(Object.keys(info)).toEqual(["baseUrl", "apiKey", "appKey"]);
      expect(info.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const headers = { "DD-API-KEY": info.apiKey, "DD-APPLICATION-KEY": info.appKey };
      const users = await fetch(`${info.baseUrl}/api/v2/users?page[size]=100`, { headers });
      expect(users.headers.get("x-ratelimit-limit")).toBe("50");
      expect(((await users.json()) as { data: unknown[] }).data).toHaveLength(12);
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const [code] = (await exited) as [number | null];
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("maps every flag to the simulator's options", () => {
    const { values } = resolveConfig(
      defineConfig(SIMULATE_FLAGS),
      {
        flags: {
          port: "0", seed: "9", users: "100", teams: "4", roles: "5", schedules: "2",
          apiKeys: "7", appKeys: "3", serviceAccounts: "2", latencyMs: "15", rateLimit: "30/5",
        },
      },
      { cliOnly: true },
    );
    expect(simulatorOptions(values)).toMatchObject({
      port: 0,
      host: "127.0.0.1",
      seed: 9,
      latencyMs: 15,
      rateLimit: { limit: 30, periodSeconds: 5 },
      counts: { users: 100, teams: 4, roles: 5, schedules: 2, apiKeys: 7, appKeys: 3, serviceAccounts: 2 },
    });
  });
});
