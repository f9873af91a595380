/**
 * The one-shot action and event-feed flags of PROTOCOL-2 §3.4 / §4.3, run in-process through runConnectorCli
 * with the test connector: --list-action-schemas, --invoke-action (with args, resource type, the provisioning
 * switch, a slow action polled until it settles, a failed one exiting 1), --event-feed from a start time or a
 * cursor, and the usage errors.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { runConnectorCli } from "../../src/cli/index.ts";
import { runCliInProcess } from "../helpers/cli-in-process.ts";
import { createConnectorService, defineConfig } from "../../src/index.ts";
import { ConnectorCapabilitiesSchema } from "../../src/messages.ts";
import { EVENT_COUNT, FEED_ID, FIRST_EVENT_AT, testConnector, testState, type TestState } from "./test-connector.ts";

let state: TestState;
beforeEach(() => {
  state = testState();
});

const spec = () => ({
  name: "baton-test",
  version: "0.0.1",
  description: "test",
  config: defineConfig({}),
  run: {
    async sync() {
      throw new Error("no sync in these tests");
    },
    capabilities: () => create(ConnectorCapabilitiesSchema, {}),
    withRpc: <T,>(_config: unknown, logger: never, provisioning: boolean, fn: (rpc: ReturnType<typeof createConnectorService>) => Promise<T>) =>
      fn(createConnectorService(testConnector(state), { logger, provisioning })),
  },
});

async function cli(argv: string[]) {
  const run = await runCliInProcess(spec() as never, argv, { cwd: process.cwd() });
  const lines = run.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code: run.code, lines, stderr: run.stderr };
}

describe("--list-action-schemas", () => {
  it("prints every schema as a JSON line, or one type's", async () => {
    const all = await cli(["--list-action-schemas"]);
    expect(all.code).toBe(0);
    expect(all.lines.map((l) => `${l.resourceTypeId ?? ""}/${l.name}`)).toEqual(["/echo", "/explode", "/remote_job", "/slow_report", "/strict", "user/disable_user", "user/enable_user"]);
    const users = await cli(["--list-action-schemas", "--list-action-schemas-resource-type", "user"]);
    expect(users.lines.map((l) => l.name)).toEqual(["disable_user", "enable_user"]);
    expect(users.lines[0]).toMatchObject({ actionType: ["ACTION_TYPE_ACCOUNT_DISABLE"] });
  });

  it("--list-action-schemas-resource-type alone is a usage error", async () => {
    expect((await cli(["--list-action-schemas-resource-type", "user"])).code).toBe(2);
  });
});

describe("--invoke-action", () => {
  it("invokes with JSON args and prints the settled answer", async () => {
    const r = await cli(["--invoke-action", "echo", "--invoke-action-args", '{"message":"hi"}']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatchObject({ name: "echo", status: "BATON_ACTION_STATUS_COMPLETE", response: { success: true, message: "hi" } });
  });

  it("a resource-scoped action needs -p when it changes the system", async () => {
    const argv = ["--invoke-action", "disable_user", "--invoke-action-resource-type", "user", "--invoke-action-args", '{"user":{"resource_type_id":"user","resource_id":"u2"}}'];
    const refused = await cli(argv);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("provisioning is not enabled");
    expect(state.users.get("u2")!.status).toBe("enabled");
    const done = await cli([...argv, "-p"]);
    expect(done.code, done.stderr).toBe(0);
    expect(state.users.get("u2")!.status).toBe("disabled");
  });

  it("polls a slow action every second until it settles", async () => {
    setTimeout(() => state.slowGate.resolve(), 1500);
    const r = await cli(["--invoke-action", "slow_report"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/action slow_report \(\w{27}\) is running; checking again in 1 s/);
    expect(r.lines).toEqual([expect.objectContaining({ status: "BATON_ACTION_STATUS_COMPLETE", response: { rows: 42 } })]);
  });

  it("a FAILED action prints its answer and exits 1 with the reason", async () => {
    const r = await cli(["--invoke-action", "explode"]);
    expect(r.code).toBe(1);
    expect(r.lines[0]).toMatchObject({ status: "BATON_ACTION_STATUS_FAILED", response: { error: "the target system is down" } });
    expect(r.stderr).toContain("action explode failed: the target system is down");
  });

  it("args that are not a JSON object, and two operations at once, are usage errors", async () => {
    const bad = await cli(["--invoke-action", "echo", "--invoke-action-args", "[1]"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("must be a JSON object");
    expect((await cli(["--invoke-action", "echo", "--list-action-schemas"])).code).toBe(2);
  });
});

describe("--event-feed", () => {
  const at = (i: number) => new Date(FIRST_EVENT_AT.getTime() + i * 60_000).toISOString();

  it("prints the events from --event-feed-start-at over as many pages as it takes, then the cursor to resume from", async () => {
    const r = await cli(["--event-feed", "true", "--event-feed-id", FEED_ID, "--event-feed-start-at", at(20)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines.map((l) => l.id)).toEqual(Array.from({ length: EVENT_COUNT - 20 }, (_, i) => `ev-${20 + i}`));
    expect(r.lines[0]).toHaveProperty("usageEvent");
    expect(r.stderr).toContain(`${EVENT_COUNT - 20} events; resume with --event-feed-cursor "${EVENT_COUNT}"`);
  });

  it("resumes from --event-feed-cursor; by default starts 24 hours ago", async () => {
    const resumed = await cli(["--event-feed=true", "--event-feed-id", FEED_ID, "--event-feed-cursor", "245"]);
    expect(resumed.lines.map((l) => l.id)).toEqual(["ev-245", "ev-246", "ev-247", "ev-248", "ev-249"]);
    // The test feed's events are from early 2026: older than a day unless the clock says otherwise.
    const recent = await cli(["--event-feed", "1", "--event-feed-id", FEED_ID]);
    expect(recent.code).toBe(0);
    const dayAgo = Date.now() - 24 * 3600_000;
    expect(recent.lines.length).toBe(Array.from({ length: EVENT_COUNT }, (_, i) => FIRST_EVENT_AT.getTime() + i * 60_000).filter((t) => t >= dayAgo).length);
  });

  it("a bad start time, an unknown feed, feed flags without --event-feed", async () => {
    const bad = await cli(["--event-feed", "true", "--event-feed-id", FEED_ID, "--event-feed-start-at", "yesterday"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("RFC 3339");
    const unknown = await cli(["--event-feed", "true", "--event-feed-id", "nope"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("event feed id nope not found");
    expect((await cli(["--event-feed-id", FEED_ID])).code).toBe(2);
    expect((await cli(["--event-feed", "maybe"])).code).toBe(2);
  });
});
