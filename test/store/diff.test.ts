/**
 * Diff, compaction and retention of multi-run c1z files (PROTOCOL-2.md §1.7, §2.2, §2.4), on files written by
 * real syncs of the Datadog simulator; the one-shot CLI path changes access between syncs.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runOneShot } from "../../src/provision/oneshot.ts";
import { compactSyncFiles } from "../../src/store/compact.ts";
import { diffObjects, generateSyncDiff } from "../../src/store/diff.ts";
import { defaultViewRun, selectSyncsToDelete } from "../../src/store/runs.ts";
import { SyncStore, type SyncRunRow } from "../../src/store/store.ts";
import { expandGrants } from "../../src/sync/expand.ts";
import { runSync } from "../../src/sync/engine.ts";
import { startHarness, type Harness } from "../datadog/harness.ts";
import { grant, hasCommand, membership, team, tempDir, user } from "./fixtures.ts";
import { GrantExpandableSchema } from "../../src/gen/c1/connector/v2/annotation_grant_pb.js";
import { anyIs, anyUnpack } from "@bufbuild/protobuf/wkt";

const tools = ["zstd", "sqlite3"].every(hasCommand);

/** The standard tools read the file whole (cli-interop.test.ts's pipeline); returns a query runner. */
function sqliteOf(file: string, dir: string): (q: string) => string {
  const db = join(dir, `${Math.random().toString(36).slice(2)}.db`);
  execFileSync("bash", ["-c", 'tail -c +6 "$0" | zstd -q -d > "$1"', file, db]);
  return (q) => execFileSync("sqlite3", [db, q], { encoding: "utf8" }).trim();
}

async function read<T>(file: string, fn: (s: SyncStore) => T): Promise<T> {
  const s = await SyncStore.openReadOnly(file);
  try {
    return fn(s);
  } finally {
    s.close();
  }
}

describe("retention: partial runs are counted apart from full runs", () => {
  let dir = "";
  let cleanup = () => {};
  beforeEach(() => ({ dir, cleanup } = tempDir("retention-")));
  afterEach(() => cleanup());

  it("two full runs stay when partial runs end after them (Go's buckets), and a third full run removes the oldest and the partials before the kept ones", async () => {
    const store = await SyncStore.openForSync(join(dir, "r.c1z"));
    try {
      const a = store.startSync("full");
      store.endSync(a, {});
      const b = store.startSync("full");
      store.endSync(b, {});
      const p1 = store.startSync("partial", b);
      store.endSync(p1, {});
      const p2 = store.startSync("resources_only");
      store.endSync(p2, {});
      // Before: the newest two finished runs of any type were kept, so p1 and p2 pushed a and b out.
      expect(store.syncRuns().map((r) => r.syncId)).toEqual([a, b, p1, p2]);
      const c = store.startSync("full");
      store.endSync(c, {});
      // a goes; p1 and p2 ended after b started, so they stay with it.
      expect(store.syncRuns().map((r) => r.syncId)).toEqual([b, p1, p2, c]);
      const d = store.startSync("full");
      store.endSync(d, {});
      expect(store.syncRuns().map((r) => r.syncId)).toEqual([c, d]);
    } finally {
      store.close();
    }
  });

  it("selectSyncsToDelete: unfinished runs stay; of more than two diff runs the newest and its linked partner stay; BATON_KEEP_SYNC_COUNT-style limits", () => {
    const run = (rowId: number, syncType: string, ended: boolean, linkedSyncId = ""): SyncRunRow => ({
      rowId,
      syncId: `s${rowId}`,
      startedAt: `2026-01-01 00:00:0${rowId}.000000000`,
      endedAt: ended ? `2026-01-01 00:00:0${rowId}.500000000` : null,
      syncToken: "",
      syncType,
      parentSyncId: "",
      linkedSyncId,
      supportsDiff: false,
      stats: undefined,
    });
    const runs = [
      run(1, "full", true),
      run(2, "full", false),
      run(3, "partial_deletions", true, "s4"),
      run(4, "partial_upserts", true, "s3"),
      run(5, "partial_deletions", true, "s6"),
      run(6, "partial_upserts", true, "s5"),
      run(7, "full", true),
      run(8, "full", true),
    ];
    expect(selectSyncsToDelete(runs).sort()).toEqual(["s1", "s3", "s4"]);
    expect(selectSyncsToDelete(runs, { keep: 3 }).sort()).toEqual(["s3", "s4"]);
    // A run being written takes one place of the limit.
    expect(selectSyncsToDelete([...runs, run(9, "full", false)], { keep: 3, currentSyncId: "s9" }).sort()).toEqual(["s1", "s3", "s4"]);
  });

  it("BATON_SKIP_CLEANUP keeps every run", async () => {
    process.env.BATON_SKIP_CLEANUP = "true";
    const store = await SyncStore.openForSync(join(dir, "r.c1z"));
    try {
      const ids = [0, 1, 2].map(() => {
        const s = store.startSync();
        store.endSync(s, {});
        return s;
      });
      expect(store.syncRuns().map((r) => r.syncId)).toEqual(ids);
    } finally {
      delete process.env.BATON_SKIP_CLEANUP;
      store.close();
    }
  });
});

describe("diffObjects on hand-made runs", () => {
  let dir = "";
  let cleanup = () => {};
  beforeEach(() => ({ dir, cleanup } = tempDir("diff-objects-")));
  afterEach(() => cleanup());

  it("a grant whose expansion changed is modified, reported with its new GrantExpandable; an equal one is not", async () => {
    const store = await SyncStore.openForSync(join(dir, "d.c1z"));
    try {
      const eng = team("eng");
      const web = team("web");
      const a = store.startSync();
      store.putResources(a, [eng, web, user("ada")]);
      store.putEntitlements(a, [membership(eng), membership(web)]);
      store.putGrants(a, [grant(membership(eng), web, ["team:web:member"]), grant(membership(web), user("ada"))]);
      store.endSync(a, {});
      const b = store.startSync();
      store.putResources(b, [eng, web, user("ada")]);
      store.putEntitlements(b, [membership(eng), membership(web)]);
      store.putGrants(b, [grant(membership(eng), web, ["team:web:member", "team:eng:member"]), grant(membership(web), user("ada"))]);
      store.endSync(b, {});
      const modified = [...diffObjects(store, "grants", "modified", a, b)];
      expect(modified.map((g) => g.id)).toEqual([grant(membership(eng), web).id]);
      const expandable = modified[0]!.annotations.find((x) => anyIs(x, GrantExpandableSchema))!;
      expect(anyUnpack(expandable, GrantExpandableSchema)?.entitlementIds).toEqual(["team:web:member", "team:eng:member"]);
      expect([...diffObjects(store, "resources", "modified", a, b)]).toEqual([]);
      expect([...diffObjects(store, "grants", "created", a, b)]).toEqual([]);
    } finally {
      store.close();
    }
  });
});

describe("diff and compaction of simulator syncs", () => {
  let h: Harness;
  let file = "";
  let first = "";
  let second = "";
  let gained = "";
  let lost = "";

  beforeAll(async () => {
    h = await startHarness({ provisioning: true });
    file = join(h.dir, "sync.c1z");
    await runSync({ connector: h.rpc, file, logger: h.logs.logger });
    const roles = h.sim.org.roles.values();
    const role = roles[3];
    const target = h.sim.org.users.values().find((u) => !u.serviceAccount && u.status === "Active" && !role.users.has(u.id))!;
    const oneShot = (op: Parameters<typeof runOneShot>[0]) => runOneShot(op, { rpc: h.rpc, file, logger: h.logs.logger });
    await oneShot({ kind: "grant", entitlementId: `role:${role.id}:member`, principalId: target.id, principalType: "user" });
    gained = `role:${role.id}:member:user:${target.id}`;
    const other = roles[2];
    const member = other.users.values()[0]!.id;
    lost = `role:${other.id}:member:user:${member}`;
    await oneShot({ kind: "revoke", grantId: lost });
    await runSync({ connector: h.rpc, file, logger: h.logs.logger });
    const runs = await read(file, (s) => s.syncRuns());
    [first, second] = runs.map((r) => r.syncId);
  });
  afterAll(() => h.close());

  it("the two runs differ by exactly the grant added and the grant removed", async () => {
    await read(file, (s) => {
      expect([...diffObjects(s, "grants", "created", first, second)].map((g) => g.id)).toEqual([gained]);
      expect([...diffObjects(s, "grants", "deleted", first, second)].map((g) => g.id)).toEqual([lost]);
      expect([...diffObjects(s, "grants", "modified", first, second)]).toEqual([]);
      expect([...diffObjects(s, "resources", "created", first, second)]).toEqual([]);
    });
  });

  it("generateSyncDiff adds a finished partial run of the additions only, parent = base, grants without expansion", async () => {
    const copy = join(h.dir, "diffed.c1z");
    execFileSync("cp", [file, copy]);
    const store = await SyncStore.openForSync(copy);
    const result = generateSyncDiff(store, first, second);
    await store.saveTo(copy);
    await read(copy, (s) => {
      const run = s.getSyncRun(result.syncId)!;
      expect(run).toMatchObject({ syncType: "partial", parentSyncId: first, linkedSyncId: "", supportsDiff: false });
      expect(run.endedAt).not.toBeNull();
      expect([...s.iterateGrants(result.syncId)].map((g) => [g.grant.id, g.expansion, g.needsExpansion])).toEqual([[gained, undefined, false]]);
      expect(s.counts(result.syncId)).toMatchObject({ resourceTypes: 0, resources: 0, entitlements: 0, grants: 1 });
      // The readers' default stays the newest full run.
      expect(defaultViewRun(s.syncRuns())?.syncId).toBe(second);
    });
    expect(() => generateSyncDiff(store, "nope", second)).toThrow(/closed/);
    const again = await SyncStore.openForSync(copy);
    try {
      expect(() => generateSyncDiff(again, "nope", second)).toThrow(/^generate-diff: base sync not found/);
      expect(() => generateSyncDiff(again, first, "nope")).toThrow(/^generate-diff: new sync not found/);
    } finally {
      again.close();
    }
    if (tools) {
      const sql = sqliteOf(copy, h.dir);
      expect(sql("pragma integrity_check")).toBe("ok");
      expect(sql(`select sync_type || '|' || parent_sync_id from v1_sync_runs where sync_id = '${result.syncId}'`)).toBe(`partial|${first}`);
    }
  });

  it("compaction: one run with the newest version of every object (newest discovered_at wins, in either file order), the union of both files, expanded once full", async () => {
    const older = join(h.dir, "older.c1z");
    await runSync({ connector: h.rpc, file: older, logger: h.logs.logger });
    const user = h.sim.org.users.values().find((u) => !u.serviceAccount && u.status === "Active")!;
    const oldName = user.name;
    user.name = "Renamed Between Syncs";
    const key = h.sim.org.apiKeys.values()[0]!;
    h.sim.org.apiKeys.delete(key.id);
    const newer = join(h.dir, "newer.c1z");
    await runSync({ connector: h.rpc, file: newer, logger: h.logs.logger });
    const ids = await Promise.all([older, newer].map((f) => read(f, (s) => s.latestFinishedSync()!.syncId)));

    const out = join(h.dir, "out");
    mkdirSync(out);
    for (const files of [
      [older, newer],
      [newer, older],
    ]) {
      const syncIds = files === undefined ? [] : files.map((f) => ids[f === older ? 0 : 1]!);
      const result = await compactSyncFiles({ files, syncIds, outputDir: out, logger: h.logs.logger, expand: (s, id) => expandGrants(s, id, h.logs.logger) });
      expect(result.path).toBe(join(out, `compacted-${result.syncId}.c1z`));
      expect(result.syncType).toBe("full");
      await read(result.path, (s) => {
        const runs = s.syncRuns();
        expect(runs.map((r) => [r.syncId, r.syncType, r.endedAt !== null, r.supportsDiff])).toEqual([[result.syncId, "full", true, true]]);
        expect(s.getResource(result.syncId, "user", user.id)?.displayName).toBe("Renamed Between Syncs");
        // Union: the key deleted before the newer sync is still there, from the older file.
        expect(s.getResource(result.syncId, "api-key", key.id)).toBeDefined();
      });
      if (tools) {
        const sql = sqliteOf(result.path, h.dir);
        expect(sql("pragma integrity_check")).toBe("ok");
        expect(sql("select count(*) from v1_sync_runs")).toBe("1");
        // Baton's full schema, index for index, as in a file a sync wrote.
        const schema = "select type || ' ' || name from sqlite_master where name not like 'sqlite_%' order by 1";
        expect(sql(schema)).toBe(sqliteOf(older, h.dir)(schema));
      }
    }
    expect(oldName).not.toBe("Renamed Between Syncs");
    // Only finished c1z files in the output directory: no temp file left.
    expect(readdirSync(out).every((n) => /^compacted-[0-9A-Za-z]{27}\.c1z$/.test(n))).toBe(true);
  });

  it("compaction refuses bad input with Go's messages and writes nothing", async () => {
    const out = join(h.dir, "out-bad");
    mkdirSync(out);
    await expect(compactSyncFiles({ files: [file], syncIds: [first], outputDir: out })).rejects.toThrow(/must provide two or more files to compact/);
    await expect(compactSyncFiles({ files: [file, file], syncIds: [first], outputDir: out })).rejects.toThrow(/must include exactly one syncID per file/);
    await expect(compactSyncFiles({ files: [file, file], syncIds: [first, second], outputDir: join(out, "missing") })).rejects.toThrow(/does not exist/);
    const text = join(h.dir, "not-a-c1z.c1z");
    writeFileSync(text, "hello\n");
    const scratchBefore = readdirSync(tmpdir()).filter((n) => n.startsWith("c1z-new-")).length;
    await expect(compactSyncFiles({ files: [text, file], syncIds: [first, second], outputDir: out })).rejects.toThrow(/not a c1z file: bad header/);
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith("c1z-new-")).length).toBe(scratchBefore);
    expect(readdirSync(out)).toEqual([]);
  });
});
