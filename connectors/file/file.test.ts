/**
 * The file connector end to end, built only on the SDK's public API: a sample export synced to a real c1z (by
 * the CLI runner in-process and by a child process) and read back, and hostile inputs refused with one line
 * naming the entry, a non-zero exit and no c1z written.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, openSync, closeSync, ftruncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import { Code, ConnectorError, createConnectorService, runConnectorCli, sessionStoreFor, SyncStore } from "../../src/index.ts";
import { ResourceSchema } from "../../src/messages.ts";
import { fileConnector } from "./connector.ts";
import { loadInput, MAX_INPUT_BYTES } from "./input.ts";
import { fileCli } from "./main.ts";

const ROOT = join(import.meta.dirname, "../..");
const SAMPLE = join(import.meta.dirname, "testdata/sample.json");

async function runCli(argv: string[], cwd: string) {
  let stdout = "";
  let stderr = "";
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        append(String(chunk));
        cb();
      },
    });
  const code = await runConnectorCli(
    fileCli,
    argv,
    { stdout: sink((s) => (stdout += s)) as never, stderr: sink((s) => (stderr += s)) as never, env: {}, cwd },
    { handleSignals: false },
  );
  const error = stderr.split("\n").filter((l) => l.startsWith("baton-file: error:"));
  return { code, stdout, stderr, error };
}

async function readBack(file: string) {
  const store = await SyncStore.openReadOnly(file);
  try {
    const run = store.latestFinishedSync();
    expect(run).toBeDefined();
    const id = run!.syncId;
    return {
      resources: [...store.iterateResources(id)].map((r) => `${r.resource.id!.resourceType}:${r.resource.id!.resource} ${r.resource.displayName}`).sort(),
      entitlements: [...store.iterateEntitlements(id)].map((e) => e.entitlement.id).sort(),
      grants: [...store.iterateGrants(id)].map((g) => g.grant.id).sort(),
    };
  } finally {
    store.close();
  }
}

const EXPECTED = {
  resources: [
    "group:alumni alumni",
    "group:eng Engineering",
    "role:admin Administrator",
    "user:u1 Ada Lovelace",
    "user:u2 Grace Hopper",
    "user:u3 former@example.com",
  ],
  entitlements: ["group:alumni:member", "group:eng:member", "role:admin:member"],
  grants: [
    "group:alumni:member:user:u3",
    "group:eng:member:user:u1",
    "group:eng:member:user:u2",
    "role:admin:member:user:u1",
  ],
};

const tmp = () => mkdtempSync(join(tmpdir(), "file-connector-"));

describe("file connector: sync a sample export", () => {
  it("syncs through runConnectorCli to a c1z holding its resources, entitlements and grants", async () => {
    const dir = tmp();
    const out = join(dir, "sync.c1z");
    const run = await runCli(["--input-file", SAMPLE, "-f", out], dir);
    expect(run.error).toEqual([]);
    expect(run.code).toBe(0);
    expect(await readBack(out)).toEqual(EXPECTED);
  });

  it("syncs as a child process (npx node connectors/file/main.ts) with the input file from BATON_INPUT_FILE", async () => {
    const dir = tmp();
    const out = join(dir, "child.c1z");
    const { stdout } = await promisify(execFile)("npx", ["node", join(ROOT, "connectors/file/main.ts"), "-f", out], {
      cwd: ROOT,
      env: { ...process.env, BATON_INPUT_FILE: SAMPLE },
    });
    expect(stdout).toMatch(/total\s+6\s+3\s+4/);
    expect(await readBack(out)).toEqual(EXPECTED);
  });

  it("pages long lists: 250 users and a group of all of them arrive whole", async () => {
    const dir = tmp();
    const input = join(dir, "many.json");
    const users = Array.from({ length: 250 }, (_, i) => ({ id: `u${i}` }));
    writeFileSync(input, JSON.stringify({ users, groups: [{ id: "all", members: users.map((u) => u.id) }] }));
    const out = join(dir, "many.c1z");
    expect((await runCli(["--input-file", input, "-f", out], dir)).code).toBe(0);
    const back = await readBack(out);
    expect(back.resources).toHaveLength(251);
    expect(back.grants).toHaveLength(250);
  });

  it("capabilities need no input file", async () => {
    const run = await runCli(["capabilities"], tmp());
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("CAPABILITY_SYNC");
  });
});

describe("file connector: hostile input", () => {
  const refused = async (content: string | undefined, expected: string) => {
    const dir = tmp();
    const input = join(dir, "input.json");
    if (content !== undefined) writeFileSync(input, content);
    const out = join(dir, "sync.c1z");
    const run = await runCli(["--input-file", input, "-f", out], dir);
    expect(run.code).not.toBe(0);
    expect(run.error).toHaveLength(1);
    expect(run.error[0]).toContain(expected);
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(out)).toBe(false);
    return run.error[0]!;
  };

  it("a bad row names its entry and field", async () => {
    await refused(JSON.stringify({ users: [{ id: "a" }, { id: "b", email: "not-an-email" }] }), "users[1].email: Invalid email");
    await refused(JSON.stringify({ users: [{ id: "a", admin: true }] }), 'users[0]: Unrecognized key: "admin"');
    await refused(JSON.stringify({ users: [{ id: "" }] }), "users[0].id: must not be empty");
    await refused(JSON.stringify({ users: [{ id: "a\nb" }] }), "users[0].id: must not contain control characters");
    await refused(JSON.stringify({ users: [{ id: "x".repeat(1025) }] }), "users[0].id: must be at most 1024 bytes");
    await refused(JSON.stringify({ groups: [] }), "users: ");
    await refused("[1, 2", "not valid JSON");
  });

  it("duplicate ids, unknown members and repeated members are refused", async () => {
    const msg = await refused(
      JSON.stringify({
        users: [{ id: "a" }, { id: "b" }, { id: "a" }],
        groups: [{ id: "g", members: ["a", "ghost", "b", "b"] }, { id: "g" }],
        roles: [{ id: "r", members: ["nobody"] }],
      }),
      'users[2].id "a" duplicates users[0]',
    );
    expect(msg).toContain('groups[0].members[1]: no user has id "ghost"');
    expect(msg).toContain('groups[0].members[3]: "b" is listed twice');
    expect(msg).toContain('groups[1].id "g" duplicates groups[0]');
    expect(msg).toContain('roles[0].members[0]: no user has id "nobody"');
  });

  it("a thousand bad rows give one line listing the first five", async () => {
    const users = Array.from({ length: 1000 }, () => ({ id: "same" }));
    const msg = await refused(JSON.stringify({ users }), "(and 994 more)");
    expect(msg.length).toBeLessThan(500);
  });

  it("a missing file, a directory and a huge file are refused before parsing", async () => {
    await refused(undefined, "does not exist");
    const dir = tmp();
    const run = await runCli(["--input-file", dir, "-f", join(dir, "x.c1z")], dir);
    expect(run.error[0]).toMatch(/is a directory|is not a regular file/);
    // A sparse file: its size is over the cap but no byte of it is read or allocated.
    const huge = join(dir, "huge.json");
    const fd = openSync(huge, "w");
    ftruncateSync(fd, MAX_INPUT_BYTES + 1);
    closeSync(fd);
    const big = await runCli(["--input-file", huge, "-f", join(dir, "huge.c1z")], dir);
    expect(big.code).not.toBe(0);
    expect(big.error[0]).toContain(`is larger than ${MAX_INPUT_BYTES} bytes`);
    expect(existsSync(join(dir, "huge.c1z"))).toBe(false);
  });

  it("a lower cap is honoured (the cap is what bounds the read, not the file)", async () => {
    const dir = tmp();
    const input = join(dir, "input.json");
    writeFileSync(input, JSON.stringify({ users: [{ id: "a" }] }));
    await expect(loadInput(input, 10)).rejects.toThrow("is larger than 10 bytes");
  });

  it("a page token the connector never gave out is INVALID_ARGUMENT", async () => {
    const users = fileConnector(await loadInput(SAMPLE)).syncers[0]!;
    const ctx = { signal: new AbortController().signal, logger: undefined as never, session: sessionStoreFor(undefined, undefined) };
    for (const token of ["abc", "-1", "99999", "1e3"]) {
      const err = await users.list(ctx, undefined, token).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectorError);
      expect((err as ConnectorError).code).toBe(Code.INVALID_ARGUMENT);
    }
    expect((await users.list(ctx, undefined, "2")).items).toHaveLength(1);
  });

  it("users write no entitlements or grants methods; asked anyway, the SDK answers empty pages, while a group lists its members", async () => {
    const connector = fileConnector(await loadInput(SAMPLE));
    const users = connector.syncers.find((s) => s.resourceType.id === "user")!;
    expect([users.entitlements, users.grants]).toEqual([undefined, undefined]);
    const rpc = createConnectorService(connector, { logger: pino({ level: "silent" }), provisioning: false });
    const user = create(ResourceSchema, { id: { resourceType: "user", resource: "u1" } });
    const [ents, grants] = await Promise.all([rpc.listEntitlements({ resource: user }), rpc.listGrants({ resource: user })]);
    expect([ents.list, ents.nextPageToken, grants.list, grants.nextPageToken]).toEqual([[], "", [], ""]);
    const group = create(ResourceSchema, { id: { resourceType: "group", resource: "eng" } });
    const members = await rpc.listGrants({ resource: group });
    expect(members.list.map((g) => g.id).sort()).toEqual(["group:eng:member:user:u1", "group:eng:member:user:u2"]);
  });
});
