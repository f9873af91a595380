/**
 * What `diff` (declared in diff.ts) does, loaded when it runs: what changed between two runs of a c1z. JSON is protojson of C1ZDiffOutput (the shape Baton's
 * `baton diff` prints), streamed object by object; the console shows counts per kind, then the grants gained and
 * lost with entitlement and principal names.
 */
import type { DescMessage, JsonValue } from "@bufbuild/protobuf";
import { EntitlementSchema } from "../gen/c1/connector/v2/entitlement_pb.js";
import { GrantSchema, type Grant } from "../gen/c1/connector/v2/grant_pb.js";
import { ResourceSchema } from "../gen/c1/connector/v2/resource_pb.js";
import { diffCounts, diffObjects, type DiffChange, type DiffKind } from "../store/diff.ts";
import { parseByteSize } from "../store/size.ts";
import { lastTwoFullRuns } from "../store/runs.ts";
import { SyncStore, type SyncRunRow } from "../store/store.ts";
import { protoJson } from "./json.ts";
import type { CommandContext, OutStream } from "./spec.ts";
import { formatCount, TableWriter } from "./table.ts";

const KINDS: readonly DiffKind[] = ["resources", "entitlements", "grants"];
const CHANGES: readonly DiffChange[] = ["created", "deleted", "modified"];
const SCHEMAS: Record<DiffKind, DescMessage> = { resources: ResourceSchema, entitlements: EntitlementSchema, grants: GrantSchema };

export type DiffOptions = { output: "console" | "json"; base: string | undefined; new: string | undefined };

/** The two runs to compare: --new (default the newest finished full run), --base (default the finished full run before it). */
export function selectDiffRuns(store: SyncStore, file: string, baseId: string | undefined, newId: string | undefined): { base: SyncRunRow; next: SyncRunRow } {
  const runs = store.syncRuns();
  const named = (id: string, flag: string) => {
    const run = runs.find((r) => r.syncId === id);
    if (!run) throw new Error(`${flag} ${id}: no such sync in ${file} (see the syncs command)`);
    return run;
  };
  const fulls = runs.filter((r) => r.endedAt !== null && r.syncType === "full").sort((a, b) => b.rowId - a.rowId);
  if (newId === undefined && baseId === undefined && runs.length === 0) throw new Error(`no syncs found - cannot diff (${file} holds no sync run)`);
  const next = newId !== undefined ? named(newId, "--new") : lastTwoFullRuns(runs).newer;
  if (!next) throw new Error(`no syncs found - cannot diff (${file} has no finished full sync; name the runs with --base and --new)`);
  const base = baseId !== undefined ? named(baseId, "--base") : fulls.find((r) => r.rowId < next.rowId);
  if (!base) {
    throw new Error(`cannot diff single sync run (${file} has no finished full sync before ${next.syncId}; name one with --base, see the syncs command)`);
  }
  return { base, next };
}

/** Streams `{"resources": {"created": [...], ...}, ...}`, leaving out empty lists and kinds as protojson does. */
function writeJson(out: OutStream, store: SyncStore, base: string, next: string): void {
  out.write("{");
  let kindsWritten = 0;
  for (const kind of KINDS) {
    let listsWritten = 0;
    for (const change of CHANGES) {
      let items = 0;
      for (const obj of diffObjects(store, kind, change, base, next)) {
        if (items === 0) {
          if (listsWritten === 0) out.write(`${kindsWritten++ === 0 ? "" : ","}\n  ${JSON.stringify(kind)}: {`);
          out.write(`${listsWritten++ === 0 ? "" : ","}\n    ${JSON.stringify(change)}: [`);
        }
        out.write(`${items++ === 0 ? "" : ","}\n      ${JSON.stringify(protoJson(SCHEMAS[kind], obj as never) as JsonValue)}`);
      }
      if (items > 0) out.write("\n    ]");
    }
    if (listsWritten > 0) out.write("\n  }");
  }
  out.write(kindsWritten === 0 ? "}\n" : "\n}\n");
}

function grantCells(store: SyncStore, syncId: string, grant: Grant): unknown[] {
  const entitlementId = grant.entitlement?.id ?? "";
  const entitlement = store.getEntitlement(syncId, entitlementId);
  const pid = grant.principal?.id;
  const principal = pid ? store.getResource(syncId, pid.resourceType, pid.resource) : undefined;
  return [
    entitlementId,
    entitlement?.displayName || grant.entitlement?.displayName || "",
    pid?.resourceType ?? "",
    pid?.resource ?? "",
    principal?.displayName || grant.principal?.displayName || "",
  ];
}

function writeConsole(out: OutStream, store: SyncStore, file: string, base: SyncRunRow, next: SyncRunRow): void {
  const describe = (r: SyncRunRow) => `${r.syncId} (${r.syncType}, ${r.endedAt ? `ended ${r.endedAt}` : "unfinished"})`;
  out.write(`Changes in ${file}\n  from ${describe(base)}\n  to   ${describe(next)}\n\n`);
  const counts = diffCounts(store, base.syncId, next.syncId);
  const table = new TableWriter(out, [
    { header: "KIND" },
    { header: "CREATED", align: "right" },
    { header: "DELETED", align: "right" },
    { header: "MODIFIED", align: "right" },
  ]);
  for (const kind of KINDS) table.add([kind, formatCount(counts[kind].created), formatCount(counts[kind].deleted), formatCount(counts[kind].modified)]);
  table.end();
  const columns = [{ header: "ENTITLEMENT" }, { header: "ENTITLEMENT NAME" }, { header: "PRINCIPAL TYPE" }, { header: "PRINCIPAL" }, { header: "PRINCIPAL NAME" }];
  // Names come from the run the grant is in: a lost grant's principal may be gone from the new run.
  for (const [title, change, run] of [
    ["Grants gained", "created", next],
    ["Grants lost", "deleted", base],
  ] as const) {
    const n = counts.grants[change];
    out.write(`\n${title} (${formatCount(n)}):\n`);
    if (n === 0) {
      out.write("  (none)\n");
      continue;
    }
    const t = new TableWriter(out, columns);
    for (const grant of diffObjects(store, "grants", change, base.syncId, next.syncId)) t.add(grantCells(store, run.syncId, grant));
    t.end();
  }
}

/** The diff command's work: reads the two runs and writes their differences as `-o` says. */
export async function runDiff(c: CommandContext<unknown, DiffOptions>): Promise<void> {
  const store = await SyncStore.openReadOnly(c.sdk.file, { logger: c.logger, maxDecodedBytes: parseByteSize(c.sdk.maxC1zDecodedSize) });
  try {
    const { base, next } = selectDiffRuns(store, c.sdk.file, c.options.base, c.options.new);
    if (c.options.output === "json") writeJson(c.io.stdout, store, base.syncId, next.syncId);
    else writeConsole(c.io.stdout, store, c.sdk.file, base, next);
  } finally {
    store.close();
  }
}
