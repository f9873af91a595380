import { fromJson } from "@bufbuild/protobuf";
import { anyUnpack, AnySchema } from "@bufbuild/protobuf/wkt";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { protoRegistry } from "../../src/cli/index.ts";
import { ConnectorCapabilitiesSchema } from "../../src/gen/c1/connector/v2/connector_pb.js";
import { ResourceSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { GrantSchema } from "../../src/gen/c1/connector/v2/grant_pb.js";
import { clearSecretsForTests } from "../../src/log/index.ts";
import { RUNTIME_TOKEN } from "./fixtures/connector.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { runInProcess } from "./harness.ts";

const API_KEY = "fixture-api-key-2c7d91";
const tempDir = tempDirs("all");
let dir: string;

beforeAll(() => {
  dir = tempDir("cli-test-");
});
afterEach(() => clearSecretsForTests());

const run = (argv: string[], env: Record<string, string> = {}, cwd = dir) => runInProcess(argv, { cwd, env });

function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  return lines[lines.length - 1]!;
}

describe("help and version", () => {
  it("--version prints the name and version", async () => {
    expect(await run(["--version"])).toEqual({ code: 0, stdout: "baton-fixture 1.2.3\n", stderr: "" });
  });

  it("--help lists commands, flags and env vars without needing config", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    for (const text of ["capabilities", "resource-types", "echo", "--api-key string", "[$BATON_API_KEY]", "-f, --file", "(default sync.c1z)"]) {
      expect(r.stdout).toContain(text);
    }
    expect(r.stdout).not.toContain("--fail-with"); // hidden
  });

  it("help without a command is the main help; help for an unknown command is a usage error", async () => {
    expect((await run(["help"])).stdout).toBe((await run(["-h"])).stdout);
    const unknown = await run(["help", "nope"]);
    expect(unknown.code).toBe(2);
  });

  it("help <command> and <command> --help show the command's own flags", async () => {
    const a = await run(["help", "echo"]);
    const b = await run(["echo", "--help"]);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).toContain("-s, --seed string");
  });
});

describe("config and capabilities", () => {
  it("config prints the connector's own fields as protojson, secrets marked, no SDK fields", async () => {
    const r = await run(["config"]);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as { fields: { name: string; isSecret?: boolean; isRequired?: boolean }[]; displayName: string };
    expect(json.displayName).toBe("Fixture");
    expect(json.fields.map((f) => f.name)).toEqual(["api-key", "site", "base-url", "sync-groups", "users", "tags"]);
    expect(json.fields[0]).toMatchObject({ name: "api-key", isSecret: true, isRequired: true });
    expect(json.fields.filter((f) => f.isSecret)).toHaveLength(1);
    for (const sdkField of ["file", "client-id", "client-secret", "log-level", "provisioning"]) {
      expect(r.stdout).not.toContain(`"${sdkField}"`);
    }
  });

  it("capabilities prints Any(ConnectorCapabilities) with @type first", async () => {
    const r = await run(["capabilities"]);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('{\n  "@type": "type.googleapis.com/c1.connector.v2.ConnectorCapabilities",\n')).toBe(true);
    const any = fromJson(AnySchema, JSON.parse(r.stdout), { registry: protoRegistry });
    const caps = anyUnpack(any, ConnectorCapabilitiesSchema)!;
    expect(caps.resourceTypeCapabilities.map((c) => c.resourceType?.id)).toEqual(["user", "group"]);
  });
});

describe("one-shot sync and inspection", () => {
  const file = () => join(dir, "fixture.c1z");

  beforeAll(async () => {
    const r = await run(["--sync-groups", "-f", "fixture.c1z", "--users", "4"], { BATON_API_KEY: API_KEY });
    expect(r.stderr).not.toContain(API_KEY);
    expect(r.code).toBe(0);
  });

  it("writes the c1z and prints a summary by resource type", async () => {
    expect(existsSync(file())).toBe(true);
    const r = await run(["-f", file()], { BATON_API_KEY: API_KEY });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Sync finished in .*, 7 requests, 2 connector calls\n/);
    expect(r.stdout).toMatch(/user\s+3\s+0\s+0\n/);
    expect(r.stdout).toMatch(/total\s+3\s+0\s+0\n/);
    expect(r.stdout).toContain(`File:    ${file()}`);
  });

  it("never lets the config secret or a runtime secret into the logs", async () => {
    const r = await run(["-f", join(dir, "other.c1z"), "--log-level", "debug"], { BATON_API_KEY: API_KEY });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("connecting with [REDACTED]");
    expect(r.stderr).not.toContain(API_KEY);
    expect(r.stderr).not.toContain(RUNTIME_TOKEN);
    // not a TTY: JSON lines
    for (const line of r.stderr.trim().split("\n")) expect(() => JSON.parse(line)).not.toThrow();
  });

  it("shows live progress on a TTY stderr only, and always ends with the summary", async () => {
    const tty = await runInProcess(["-f", join(dir, "tty.c1z"), "--sync-groups"], { cwd: dir, env: { BATON_API_KEY: API_KEY }, stderrTTY: true });
    expect(tty.code).toBe(0);
    expect(tty.stderr).toContain("\r\x1b[2Ksyncing resources · 3 resources");
    expect(tty.stderr.endsWith("\r\x1b[2K")).toBe(true); // the status line is removed at the end
    expect(tty.stderr).toMatch(/INFO.*connecting with \[REDACTED\]/); // console logs on a terminal
    expect(tty.stdout).toMatch(/^Sync finished in /);
    const pipe = await run(["-f", join(dir, "pipe.c1z"), "--sync-groups"], { BATON_API_KEY: API_KEY });
    expect(pipe.stderr).not.toContain("\x1b");
    expect(pipe.stdout).toMatch(/^Sync finished in /);
  });

  it("resources: console table and protojson, with a type filter", async () => {
    // the previous test re-synced without groups into another file; fixture.c1z's latest sync has 3 users
    await run(["--sync-groups", "-f", file(), "--users", "4"], { BATON_API_KEY: API_KEY });
    const table = await run(["resources", "-f", file()]);
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^RESOURCE TYPE\s+ID\s+DISPLAY NAME\s+PARENT$/);
    expect(table.stdout).toMatch(/user\s+u4\s+User 4/);

    const json = await run(["resources", "-f", file(), "-o", "json"]);
    const doc = JSON.parse(json.stdout) as { resources: unknown[] };
    expect(doc.resources).toHaveLength(5);
    const first = fromJson(ResourceSchema, doc.resources[0] as never, { registry: protoRegistry });
    expect(first.id?.resource).toBe("u1");

    const groups = JSON.parse((await run(["resources", "-f", file(), "-o", "json", "--resource-type", "group"])).stdout) as { resources: unknown[] };
    expect(groups.resources).toHaveLength(1);
    // A type the sync does not have is an error naming the types it has, not an empty listing.
    const none = await run(["resources", "-f", file(), "--resource-type", "nothing"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--resource-type: unknown resource type "nothing"; sync \S+ of \S+ has: /);
  });

  it("entitlements, grants, resource-types, syncs, stats", async () => {
    const ents = await run(["entitlements", "-f", file()]);
    expect(ents.stdout).toMatch(/group:g1:member\s+Admins member\s+assignment\s+user/);

    const grants = JSON.parse((await run(["grants", "-f", file(), "-o", "json", "--entitlement", "group:g1:member"])).stdout) as { grants: unknown[] };
    expect(grants.grants).toHaveLength(4);
    expect(fromJson(GrantSchema, grants.grants[3] as never, { registry: protoRegistry }).principal?.id?.resource).toBe("u4");
    const noGrants = JSON.parse((await run(["grants", "-f", file(), "-o", "json", "--entitlement", "x"])).stdout) as { grants: unknown[] };
    expect(noGrants.grants).toEqual([]);

    const types = await run(["resource-types", "-f", file()]);
    expect(types.stdout).toMatch(/user\s+User\s+user/);
    expect(types.stdout).toMatch(/group\s+Group\s+group/);

    const syncs = JSON.parse((await run(["syncs", "-f", file(), "-o", "json"])).stdout) as { syncs: { id: string; type: string; endedAt: string | null }[] };
    expect(syncs.syncs.length).toBeGreaterThanOrEqual(2);
    expect(syncs.syncs.every((s) => s.type === "full" && s.endedAt !== null)).toBe(true);

    const stats = JSON.parse((await run(["stats", "-f", file(), "-o", "json"])).stdout) as Record<string, unknown>;
    expect(stats).toMatchObject({ syncId: syncs.syncs.at(-1)!.id, resources: 5, entitlements: 1, grants: 4, byResourceType: { group: { resources: 1, entitlements: 1, grants: 4 }, user: { resources: 4 } } });
    const statsText = await run(["stats", "-f", file(), "--sync-id", syncs.syncs.at(-1)!.id]);
    expect(statsText.stdout).toMatch(/total\s+5\s+1\s+4/);
  });

  it("a missing file or sync id fails with exit 1 and one line", async () => {
    const missing = await run(["resources", "-f", join(dir, "nope.c1z")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`baton-fixture: error: c1z file not found: ${join(dir, "nope.c1z")}\n`);
    const badSync = await run(["grants", "-f", file(), "--sync-id", "nope"]);
    expect(badSync.code).toBe(1);
    expect(oneLine(badSync.stderr)).toContain("sync nope is not in");
  });

  it("a failing sync exits 1 with one redacted line", async () => {
    const r = await run(["-f", join(dir, "fail.c1z"), "--fail-with", "upstream said no\nsecond line"], { BATON_API_KEY: API_KEY });
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe("baton-fixture: error: service refused key [REDACTED] and token [REDACTED]: upstream said no second line");
    expect(r.stderr).not.toContain(API_KEY);
    expect(r.stderr).not.toContain(RUNTIME_TOKEN);
    expect(r.stdout).toBe("");
  });

  it("a registered command can run the sync with config overrides", async () => {
    const r = await run(["demo", "-f", join(dir, "demo.c1z")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/group\s+1\s+1\s+3/);
  });
});

describe("dispatch of the default command", () => {
  it("runs a provisioning operation when its flags are given", async () => {
    const r = await run(["--grant-entitlement", "group:g1:member", "--grant-principal", "u1", "--grant-principal-type", "user", "-p"], { BATON_API_KEY: API_KEY });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'provision {"kind":"grant","entitlementId":"group:g1:member","principalId":"u1","principalType":"user","provisioning":true}\n',
    );
    const create = await run(["--create-account-email", "a@b.test", "--create-account-profile", '{"name":"Ada"}'], { BATON_API_KEY: API_KEY });
    expect(create.stdout).toContain('"kind":"createAccount"');
    expect(create.stdout).toContain('"profile":{"name":"Ada"}');
    const rotate = await run(["--rotate-credentials", "k1", "--rotate-credentials-type", "application-key"], { BATON_API_KEY: API_KEY });
    expect(rotate.stdout).toContain('"printPlaintext":false');
    const plaintextToPipe = await run(["--rotate-credentials", "k1", "--rotate-credentials-type", "application-key", "--rotate-credentials-print-plaintext"], {
      BATON_API_KEY: API_KEY,
    });
    expect(plaintextToPipe.code).toBe(2);
    expect(oneLine(plaintextToPipe.stderr)).toContain("only works when stdout is a terminal");
    const plaintextToTty = await runInProcess(["--rotate-credentials", "k1", "--rotate-credentials-type", "application-key", "--rotate-credentials-print-plaintext"], {
      cwd: dir,
      env: { BATON_API_KEY: API_KEY },
      stdoutTTY: true,
    });
    expect(plaintextToTty.stdout).toContain('"printPlaintext":true');
  });

  it("rejects incomplete or conflicting provisioning flags with exit 2", async () => {
    const partial = await run(["--grant-entitlement", "e1"], { BATON_API_KEY: API_KEY });
    expect(partial.code).toBe(2);
    expect(oneLine(partial.stderr)).toBe(
      "baton-fixture: error: --grant-entitlement / BATON_GRANT_ENTITLEMENT also needs --grant-principal / BATON_GRANT_PRINCIPAL, --grant-principal-type / BATON_GRANT_PRINCIPAL_TYPE",
    );
    const two = await run(["--revoke-grant", "g1", "--delete-resource", "r1", "--delete-resource-type", "user"], { BATON_API_KEY: API_KEY });
    expect(two.code).toBe(2);
    expect(oneLine(two.stderr)).toContain("one provisioning operation at a time (got revoke, deleteResource)");
    const badProfile = await run(["--create-account-email", "a@b.test", "--create-account-profile", "{nope"], { BATON_API_KEY: API_KEY });
    expect(badProfile.code).toBe(2);
    expect(oneLine(badProfile.stderr)).toContain("--create-account-profile / BATON_CREATE_ACCOUNT_PROFILE: must be a JSON object");
  });

  it("runs service mode when client id and secret are set, never printing the secret", async () => {
    const secret = "v1:client-secret-abcdef0123";
    const r = await run(["--task-concurrency", "5"], { BATON_API_KEY: API_KEY, BATON_CLIENT_ID: "cid", BATON_CLIENT_SECRET: secret });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("service cid concurrency=5\n");
    expect(r.stderr).toContain("secret is [REDACTED]");
    expect(r.stderr).not.toContain(secret);
    const half = await run([], { BATON_API_KEY: API_KEY, BATON_CLIENT_ID: "cid" });
    expect(half.code).toBe(2);
    expect(oneLine(half.stderr)).toContain("--client-id / BATON_CLIENT_ID also needs --client-secret / BATON_CLIENT_SECRET");
  });
});

describe("usage and config errors exit 2", () => {
  it("a missing required secret names the flag and the env var", async () => {
    const r = await run([]);
    expect(r).toEqual({ code: 2, stdout: "", stderr: "baton-fixture: error: --api-key / BATON_API_KEY: is required\n" });
  });

  it("an unknown flag is named without its value, with a suggestion", async () => {
    const r = await run([`--api-kye=${API_KEY}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("baton-fixture: error: unknown flag --api-kye (did you mean --api-key?) (see 'baton-fixture --help')\n");
    const owned = await run(["--seed", "1"], { BATON_API_KEY: API_KEY });
    expect(oneLine(owned.stderr)).toContain("unknown flag --seed (it is a flag of: echo)");
  });

  it("an unknown command, a stray argument and a missing value", async () => {
    expect(oneLine((await run(["resourcez"])).stderr)).toContain('unknown command "resourcez" (did you mean resources?)');
    expect((await run(["config", "x"])).code).toBe(2);
    const noValue = await run(["resources", "-o"]);
    expect(noValue.code).toBe(2);
    expect(oneLine(noValue.stderr)).toContain("flag -o needs a value");
  });

  it("a bad command option names the flag only (command flags have no env var)", async () => {
    const r = await run(["echo", "--port", "70000"], { BATON_API_KEY: API_KEY });
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toBe('baton-fixture: error: --port: must be at most 65535 (got "70000" from --port)');
  });
});

describe("registered commands and config sources", () => {
  it("get typed options, positionals and the resolved config; their exit code is kept", async () => {
    const r = await run(["echo", "a", "b", "--port", "5", "-s", "x"], { BATON_API_KEY: API_KEY });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ port: 5, seed: "x", args: ["a", "b"], site: "us1", users: 3 });
    expect((await run(["echo", "--port", "13"], { BATON_API_KEY: API_KEY })).code).toBe(1);
  });

  it("flags beat env, env beats .baton.yaml, YAML beats defaults (end to end)", async () => {
    const cwd = mkdtempSync(join(dir, "yaml-"));
    writeFileSync(join(cwd, ".baton.yaml"), "api-key: yaml-key-123456\nsite: eu1\nusers: 9\nlog-level: warn\n");
    const fromYaml = JSON.parse((await run(["echo"], {}, cwd)).stdout);
    expect(fromYaml).toMatchObject({ site: "eu1", users: 9 });
    const fromEnv = JSON.parse((await run(["echo"], { BATON_USERS: "5", BATON_SITE: "us1" }, cwd)).stdout);
    expect(fromEnv).toMatchObject({ site: "us1", users: 5 });
    const fromFlag = JSON.parse((await run(["echo", "--users", "2"], { BATON_USERS: "5" }, cwd)).stdout);
    expect(fromFlag).toMatchObject({ site: "eu1", users: 2 });
  });

  it("inspection commands do not need the connector's config", async () => {
    const cwd = mkdtempSync(join(dir, "noconfig-"));
    const r = await run(["syncs", "-f", "missing.c1z"], {}, cwd);
    expect(r.code).toBe(1); // the file is missing, but the missing api key did not matter
    expect(r.stderr).toContain("c1z file not found");
  });
});
