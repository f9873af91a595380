/**
 * The CLI on multi-run c1z files: the `diff` command, Go's hidden --diff-syncs and --compact-syncs, and the
 * readers' choice of run (default: the newest finished full run; --sync-id any run). The file comes from real
 * syncs of the Datadog simulator, with access changed in between through the one-shot provisioning path.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { create, fromJson } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { datadogCli } from "../../connectors/datadog/main.ts";
import { runConnectorCli } from "../../src/cli/index.ts";
import { protoRegistry } from "../../src/cli/json.ts";
import { Code } from "../../src/connector/errors.ts";
import { C1ZDiffOutputSchema } from "../../src/gen/c1/c1z/v1/diff_pb.js";
import { ResourceSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { runOneShot } from "../../src/provision/oneshot.ts";
import { SyncStore } from "../../src/store/store.ts";
import { runSync } from "../../src/sync/engine.ts";
import { startHarness, type Harness } from "../datadog/harness.ts";

let h: Harness;
let file = "";
let first = "";
let second = "";
const gained = { grant: "", entitlement: "", entitlementName: "", user: "", userName: "" };
const lost = { grant: "", entitlement: "", entitlementName: "", user: "", userName: "" };

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runConnectorCli(
    datadogCli,
    argv,
    { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s), columns: 200 }, env: {}, cwd: h.dir },
    { handleSignals: false },
  );
  return { code, stdout, stderr };
}

const copy = (name: string) => {
  const to = join(h.dir, name);
  copyFileSync(file, to);
  return to;
};

beforeAll(async () => {
  h = await startHarness({ provisioning: true });
  file = join(h.dir, "sync.c1z");
  await runSync({ connector: h.rpc, file, logger: h.logs.logger });
  const roles = h.sim.org.roles.values();
  const oneShot = (op: Parameters<typeof runOneShot>[0]) => runOneShot(op, { rpc: h.rpc, file, logger: h.logs.logger });
  const role = roles[3]!;
  const target = h.sim.org.users.values().find((u) => !u.serviceAccount && u.status === "Active" && !role.users.has(u.id))!;
  Object.assign(gained, {
    entitlement: `role:${role.id}:member`,
    entitlementName: `${role.name} member`,
    user: target.id,
    userName: target.name,
  });
  gained.grant = `${gained.entitlement}:user:${target.id}`;
  await oneShot({ kind: "grant", entitlementId: gained.entitlement, principalId: target.id, principalType: "user" });
  const other = roles[2]!;
  const member = other.users.values()[0]!;
  Object.assign(lost, { entitlement: `role:${other.id}:member`, entitlementName: `${other.name} member`, user: member.id, userName: member.name });
  lost.grant = `${lost.entitlement}:user:${member.id}`;
  await oneShot({ kind: "revoke", grantId: lost.grant });
  await runSync({ connector: h.rpc, file, logger: h.logs.logger });
  const store = await SyncStore.openReadOnly(file);
  [first, second] = store.syncRuns().map((r) => r.syncId);
  store.close();
});
afterAll(() => h.close());

describe("diff", () => {
  it("console: counts per kind, then the grant gained and the grant lost with entitlement and principal names", async () => {
    const r = await cli(["diff", "-f", file]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`from ${first} (full, ended`);
    expect(r.stdout).toContain(`to   ${second} (full, ended`);
    expect(r.stdout).toMatch(/^resources\s+0\s+0\s+4$/m);
    expect(r.stdout).toMatch(/^entitlements\s+0\s+0\s+2$/m);
    expect(r.stdout).toMatch(/^grants\s+1\s+1\s+0$/m);
    const gainedPart = r.stdout.slice(r.stdout.indexOf("Grants gained (1):"), r.stdout.indexOf("Grants lost"));
    const lostPart = r.stdout.slice(r.stdout.indexOf("Grants lost (1):"));
    const row = (x: typeof gained) => new RegExp(`^${x.entitlement}\\s+${x.entitlementName}\\s+user\\s+${x.user}\\s+${x.userName}\\s*$`, "m");
    expect(gainedPart).toMatch(row(gained));
    expect(lostPart).toMatch(row(lost));
    expect(gainedPart).not.toContain(lost.user);
  });

  it("-o json is protojson of C1ZDiffOutput: grants.created holds the gained grant, grants.deleted the lost one, empty lists left out", async () => {
    const r = await cli(["diff", "-f", file, "-o", "json"]);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    // The two roles and the two users the change touched are modified (member counts, role lists); nothing else.
    expect(Object.keys(json)).toEqual(["resources", "entitlements", "grants"]);
    expect(Object.keys(json.resources)).toEqual(["modified"]);
    expect(Object.keys(json.grants)).toEqual(["created", "deleted"]);
    const ids = (list: { id: { resourceType: string; resource: string } }[]) => list.map((x) => `${x.id.resourceType}:${x.id.resource}`).sort();
    expect(ids(json.resources.modified)).toEqual(
      [`role:${gained.entitlement.split(":")[1]}`, `role:${lost.entitlement.split(":")[1]}`, `user:${gained.user}`, `user:${lost.user}`].sort(),
    );
    expect(json.entitlements.modified.map((e: { id: string }) => e.id).sort()).toEqual([gained.entitlement, lost.entitlement].sort());
    const out = fromJson(C1ZDiffOutputSchema, json, { registry: protoRegistry });
    expect(out.grants?.created.map((g) => g.id)).toEqual([gained.grant]);
    expect(out.grants?.deleted.map((g) => g.id)).toEqual([lost.grant]);
    expect(out.grants?.created[0]?.principal?.id?.resource).toBe(gained.user);
    // Swapping the runs swaps created and deleted.
    const back = JSON.parse((await cli(["diff", "-f", file, "-o", "json", "--base", second, "--new", first])).stdout);
    expect(back.grants.created.map((g: { id: string }) => g.id)).toEqual([lost.grant]);
    expect(back.grants.deleted.map((g: { id: string }) => g.id)).toEqual([gained.grant]);
    expect((await cli(["diff", "-f", file, "-o", "json", "--base", first, "--new", first])).stdout).toBe("{}\n");
  });

  it("one run: Go's message, exit 1; an unknown --base names itself", async () => {
    const single = join(h.dir, "single.c1z");
    await runSync({ connector: h.rpc, file: single, logger: h.logs.logger });
    const r = await cli(["diff", "-f", single]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: cannot diff single sync run/);
    const bad = await cli(["diff", "-f", file, "--base", "nope"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("--base nope: no such sync in");
  });
});

describe("--diff-syncs and the readers of a file with a partial run", () => {
  let diffed = "";
  let partial = "";
  let fullGrants = 0;

  beforeAll(async () => {
    diffed = copy("diffed.c1z");
    const r = await cli(["-f", diffed, "--diff-syncs", "--base-sync-id", first, "--applied-sync-id", second]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    partial = /diff run ([0-9A-Za-z]{27}) \(partial, parent /.exec(r.stdout)![1]!;
    expect(r.stdout).toContain("1 grants");
    const store = await SyncStore.openReadOnly(diffed);
    fullGrants = store.counts(second).grants;
    store.close();
    expect(existsSync(`${diffed}.work`)).toBe(false);
  });

  it("syncs shows every run with its type and parent", async () => {
    const r = await cli(["syncs", "-f", diffed]);
    expect(r.stdout).toMatch(new RegExp(`^${partial}\\s+partial\\s+\\S+ \\S+\\s+\\S+ \\S+\\s+${first}\\s*$`, "m"));
    const json = JSON.parse((await cli(["syncs", "-f", diffed, "-o", "json"])).stdout);
    expect(json.syncs.map((s: { id: string; type: string; parentSyncId?: string }) => [s.id, s.type, s.parentSyncId ?? ""])).toEqual([
      [first, "full", ""],
      [second, "full", ""],
      [partial, "partial", first],
    ]);
  });

  it("grants and stats read the newest full run by default, --sync-id the partial run", async () => {
    const all = JSON.parse((await cli(["grants", "-f", diffed, "-o", "json"])).stdout);
    expect(all.grants.length).toBe(fullGrants);
    expect(fullGrants).toBeGreaterThan(1);
    const only = JSON.parse((await cli(["grants", "-f", diffed, "-o", "json", "--sync-id", partial])).stdout);
    expect(only.grants.map((g: { id: string }) => g.id)).toEqual([gained.grant]);
    expect((await cli(["stats", "-f", diffed])).stdout).toContain(`Sync ${second} (full)`);
    expect(JSON.parse((await cli(["stats", "-f", diffed, "-o", "json", "--sync-id", partial])).stdout)).toMatchObject({ syncType: "partial", grants: 1 });
    const resources = JSON.parse((await cli(["resources", "-f", diffed, "-o", "json"])).stdout);
    expect(resources.resources.length).toBeGreaterThan(0);
  });

  it("the one-shot look-up reads the full run, not the newer partial one", async () => {
    const role = h.sim.org.roles.values()[1]!;
    const user = h.sim.org.users.values().find((u) => !u.serviceAccount && u.status === "Active" && !role.users.has(u.id))!;
    const res = await runOneShot(
      { kind: "grant", entitlementId: `role:${role.id}:member`, principalId: user.id, principalType: "user" },
      { rpc: h.rpc, file: diffed, logger: h.logs.logger },
    );
    expect(res.summary).toBe(`granted role:${role.id}:member to user:${user.id}`);
    await expect(
      runOneShot({ kind: "grant", entitlementId: "role:nope:member", principalId: user.id, principalType: "user" }, { rpc: h.rpc, file: diffed, logger: h.logs.logger }),
    ).rejects.toMatchObject({ code: Code.NOT_FOUND });
  });

  it("bad use: a missing flag is exit 2; an unknown run names it; a working directory that is a link or holds an unfinished sync is refused, the file unchanged", async () => {
    const f = copy("refused.c1z");
    const before = readFileSync(f);
    const missing = await cli(["-f", f, "--diff-syncs", "--base-sync-id", first]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--applied-sync-id/);
    const unknown = await cli(["-f", f, "--diff-syncs", "--base-sync-id", "nope", "--applied-sync-id", second]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("generate-diff: base sync not found: no run nope");
    expect(readFileSync(f).equals(before)).toBe(true);
    // Nothing left that a later sync would take for an unfinished run to resume.
    expect(existsSync(`${f}.work`)).toBe(false);

    const elsewhere = join(h.dir, "elsewhere");
    mkdirSync(elsewhere, { mode: 0o700 });
    symlinkSync(elsewhere, `${f}.work`);
    const linked = await cli(["-f", f, "--diff-syncs", "--base-sync-id", first, "--applied-sync-id", second]);
    expect(linked.code).toBe(1);
    expect(linked.stderr).toMatch(/symbolic link/);
    expect(readdirSync(elsewhere)).toEqual([]);
    expect(readFileSync(f).equals(before)).toBe(true);

    const g = copy("unfinished.c1z");
    const work = await SyncStore.openForSync(g);
    const running = work.startSync("full");
    work.putResources(running, [create(ResourceSchema, { id: { resourceType: "user", resource: "half-synced" }, displayName: "Half Synced" })]);
    work.close(); // a killed sync: the working database stays for resume
    const busy = await cli(["-f", g, "--diff-syncs", "--base-sync-id", first, "--applied-sync-id", second]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/has an unfinished sync in .*unfinished\.c1z\.work: --diff-syncs would save that unfinished run/);
    expect(existsSync(join(`${g}.work`, "sync.sqlite"))).toBe(true);
  });
});

describe("--compact-syncs", () => {
  it("writes DIR/compacted-<id>.c1z with one full run; bad counts are exit 2 with Go's message", async () => {
    const other = join(h.dir, "other.c1z");
    await runSync({ connector: h.rpc, file: other, logger: h.logs.logger });
    const out = join(h.dir, "compacted");
    mkdirSync(out);
    const r = await cli(["--compact-syncs", "--compact-file-paths", `${file},other.c1z`, "--compact-sync-ids", `${second},x`, "--compact-output-path", "compacted"]);
    // Go merges each file's newest compactable run whatever id is given; a wrong one is said, not fatal.
    expect(r.stderr).toContain('"given":"x"');
    expect(r.stderr).toContain("not its newest finished run; merging the newest");
    expect(r.code).toBe(0);
    const [name] = readdirSync(out);
    expect(name).toMatch(/^compacted-[0-9A-Za-z]{27}\.c1z$/);
    expect(r.stdout).toContain(`compacted 2 files into ${join(out, name!)}`);
    const syncs = JSON.parse((await cli(["syncs", "-f", join(out, name!), "-o", "json"])).stdout);
    expect(syncs.syncs.map((s: { type: string }) => s.type)).toEqual(["full"]);

    const bad = await cli(["--compact-syncs", "--compact-file-paths", `${file},other.c1z`, "--compact-sync-ids", second, "--compact-output-path", "compacted"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("sync-compactor: must include exactly one syncID per file");
    expect(readdirSync(out)).toEqual([name]);
  });
});
