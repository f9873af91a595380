/**
 * A saved c1z is readable by the standard tools: strip the 5-byte header, `zstd -d`, then `sqlite3`.
 * Skipped loudly where the tools are missing.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GrantSchema } from "../../src/gen/c1/connector/v2/grant_pb.js";
import { SyncStore } from "../../src/store/store.ts";
import { hasCommand, sampleObjects, tempDir } from "./fixtures.ts";

const missing = ["zstd", "sqlite3"].filter((c) => !hasCommand(c));
const reason = `needs the ${missing.join(" and ")} command-line tool${missing.length > 1 ? "s" : ""}, not installed here`;
if (missing.length) console.warn(`SKIPPING "c1z readable by zstd + sqlite3": ${reason}`);

let dir = "";
let cleanup = () => {};
beforeEach(() => ({ dir, cleanup } = tempDir("c1z-cli-")));
afterEach(() => cleanup());

describe("c1z and the standard command-line tools", () => {
  it.skipIf(missing.length > 0)(`c1z readable by zstd + sqlite3${missing.length ? ` (skipped: ${reason})` : ""}`, async () => {
    const file = join(dir, "sync.c1z");
    const store = await SyncStore.openForSync(file);
    const syncId = store.startSync();
    const o = sampleObjects();
    store.putResourceTypes(syncId, o.resourceTypes);
    store.putResources(syncId, o.resources);
    store.putEntitlements(syncId, o.entitlements);
    store.putGrants(syncId, o.grants);
    store.endSync(syncId, { grants: 4 });
    await store.saveTo(file);

    // exactly the pipeline a person would type
    const db = join(dir, "sync.db");
    execFileSync("bash", ["-c", 'tail -c +6 "$0" | zstd -q -d > "$1"', file, db]);
    const sql = (q: string) => execFileSync("sqlite3", [db, q], { encoding: "utf8" }).trim();
    expect(sql("select count(*) from v1_grants")).toBe("4");
    expect(sql("pragma integrity_check")).toBe("ok");
    expect(sql("pragma journal_mode")).toBe("delete");
    expect(sql("select sync_id || '|' || sync_type || '|' || (ended_at is not null) || '|' || stats from v1_sync_runs")).toBe(
      `${syncId}|full|1|{"grants":4}`,
    );
    expect(sql("select external_id from v1_resources order by id").split("\n")).toEqual([
      "user:alice",
      "user:bob",
      "user:carol",
      "team:eng",
      "team:web",
    ]);
    expect(sql("select parent_resource_type_id || ':' || parent_resource_id from v1_resources where external_id = 'team:web'")).toBe("team:eng");
    expect(sql("select count(*) from v1_resources where parent_resource_id is null")).toBe("4");
    expect(sql("select external_id from v1_grants where needs_expansion = 1")).toBe("team:eng:member:team:web");
    // data is the protobuf message: decode what sqlite3 hands back
    const hex = sql("select hex(data) from v1_grants where external_id = 'team:web:member:user:carol'");
    const g = fromBinary(GrantSchema, Buffer.from(hex, "hex"));
    expect(g.principal?.id?.resource).toBe("carol");

    const zst = join(dir, "sync.zst");
    writeFileSync(zst, readFileSync(file).subarray(5));
    const info = execFileSync("zstd", ["-lv", zst], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(info).toMatch(/Zstandard Frames: 1/);
    expect(info).toMatch(new RegExp(`Decompressed Size: .*\\(${readFileSync(db).length} B\\)`));
  });
});
