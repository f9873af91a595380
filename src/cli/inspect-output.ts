/**
 * What the inspection commands of inspect.ts do: open the c1z file read-only and stream its rows to stdout (a
 * large file is never held in memory). Loaded only when one of them runs: it needs the store and the
 * generated messages, which `--help` and a sync's start-up do without.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { EntitlementSchema, Entitlement_PurposeValue } from "../gen/c1/connector/v2/entitlement_pb.js";
import { GrantSchema } from "../gen/c1/connector/v2/grant_pb.js";
import { ResourceSchema, ResourceTypeSchema, ResourceType_Trait } from "../gen/c1/connector/v2/resource_pb.js";
import { parseByteSize } from "../store/size.ts";
import { defaultViewRun } from "../store/runs.ts";
import { SyncStore, type SyncRunRow } from "../store/store.ts";
import { checkResourceTypeFilter, principalNames } from "./inspect-lookups.ts";
import { protoJson } from "./json.ts";
import type { CommandContext, OutStream } from "./spec.ts";
import { formatCount, TableWriter, type Column } from "./table.ts";

type Output = "console" | "json";

/** Streams `{"<key>": [ ... ]}` one element per line. */
class JsonArrayWriter {
  readonly #out: OutStream;
  #count = 0;
  constructor(out: OutStream, key: string) {
    this.#out = out;
    out.write(`{\n  ${JSON.stringify(key)}: [`);
  }
  add(value: JsonValue): void {
    this.#out.write(`${this.#count === 0 ? "\n" : ",\n"}    ${JSON.stringify(value)}`);
    this.#count++;
  }
  end(): void {
    this.#out.write(this.#count === 0 ? "]\n}\n" : "\n  ]\n}\n");
  }
}

/** Rows to a table or to a JSON array, chosen by `-o`. */
interface RowSink<T> {
  add(row: T): void;
  end(): void;
}

function rowSink<T>(ctx: CommandContext<unknown, { output: Output }>, key: string, columns: Column[], cells: (row: T) => unknown[], json: (row: T) => JsonValue): RowSink<T> {
  if (ctx.options.output === "json") {
    const w = new JsonArrayWriter(ctx.io.stdout, key);
    return { add: (row) => w.add(json(row)), end: () => w.end() };
  }
  const t = new TableWriter(ctx.io.stdout, columns);
  return {
    add: (row) => t.add(cells(row)),
    end: () => {
      t.end();
      if (t.rowCount === 0) ctx.io.stdout.write(`(no ${key.replace(/([A-Z])/g, " $1").toLowerCase()})\n`);
    },
  };
}

export async function withStore<T>(ctx: CommandContext<unknown, any>, fn: (store: SyncStore) => T): Promise<T> {
  const store = await SyncStore.openReadOnly(ctx.sdk.file, { logger: ctx.logger, maxDecodedBytes: parseByteSize(ctx.sdk.maxC1zDecodedSize) });
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

/** The sync to read: --sync-id (any run), else the default view of runs.ts (the newest finished full run). */
function selectSync(store: SyncStore, file: string, syncId: string | undefined): SyncRunRow {
  if (syncId) {
    const run = store.getSyncRun(syncId);
    if (!run) throw new Error(`sync ${syncId} is not in ${file} (see the syncs command)`);
    return run;
  }
  const view = defaultViewRun(store.syncRuns());
  if (!view) throw new Error(`${file} has no sync run (see the syncs command)`);
  return view;
}

const traitNames = new Map<number, string>(
  Object.entries(ResourceType_Trait)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v as number, k.toLowerCase()]),
);
const purposeNames = new Map<number, string>(
  Object.entries(Entitlement_PurposeValue)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v as number, k.toLowerCase()]),
);

export type InspectOptions = { output: Output; syncId: string | undefined; resourceType?: string | undefined; entitlement?: string | undefined };

/** What each inspection command does with the open c1z file, by command name (inspect.ts declares their flags). */
export const inspectionBodies: Record<string, (ctx: CommandContext<unknown, InspectOptions>, store: SyncStore) => void> = {
  "resource-types": (ctx, store) => {
    const sync = selectSync(store, ctx.sdk.file, ctx.options.syncId);
    const sink = rowSink(
      ctx,
      "resourceTypes",
      [{ header: "ID" }, { header: "DISPLAY NAME" }, { header: "TRAITS" }],
      (rt: ReturnType<SyncStore["resourceTypes"]>[number]) => [rt.id, rt.displayName, rt.traits.map((t) => traitNames.get(t)?.replace(/^trait_/, "") ?? String(t)).join(",")],
      (rt) => protoJson(ResourceTypeSchema, rt),
    );
    for (const rt of store.resourceTypes(sync.syncId)) sink.add(rt);
    sink.end();
  },

  "resources": (ctx, store) => {
    const sync = selectSync(store, ctx.sdk.file, ctx.options.syncId);
    checkResourceTypeFilter(store, sync.syncId, ctx.sdk.file, ctx.options.resourceType);
    const sink = rowSink(
      ctx,
      "resources",
      [{ header: "RESOURCE TYPE" }, { header: "ID" }, { header: "DISPLAY NAME" }, { header: "PARENT" }],
      (r: ReturnType<SyncStore["iterateResources"]> extends Generator<infer R> ? R : never) => {
        const id = r.resource.id;
        const parent = r.resource.parentResourceId;
        return [id?.resourceType, id?.resource, r.resource.displayName, parent ? `${parent.resourceType}:${parent.resource}` : ""];
      },
      (r) => protoJson(ResourceSchema, r.resource),
    );
    for (const row of store.iterateResources(sync.syncId, { resourceTypeId: ctx.options.resourceType })) sink.add(row);
    sink.end();
  },

  "entitlements": (ctx, store) => {
    const sync = selectSync(store, ctx.sdk.file, ctx.options.syncId);
    checkResourceTypeFilter(store, sync.syncId, ctx.sdk.file, ctx.options.resourceType);
    const sink = rowSink(
      ctx,
      "entitlements",
      [{ header: "ID" }, { header: "DISPLAY NAME" }, { header: "PURPOSE" }, { header: "GRANTABLE TO" }],
      (r: ReturnType<SyncStore["iterateEntitlements"]> extends Generator<infer R> ? R : never) => [
        r.entitlement.id,
        r.entitlement.displayName,
        purposeNames.get(r.entitlement.purpose)?.replace(/^purpose_value_/, "") ?? "",
        r.entitlement.grantableTo.map((t) => t.id).join(","),
      ],
      (r) => protoJson(EntitlementSchema, r.entitlement),
    );
    for (const row of store.iterateEntitlements(sync.syncId, { resourceTypeId: ctx.options.resourceType })) sink.add(row);
    sink.end();
  },

  "grants": (ctx, store) => {
      const sync = selectSync(store, ctx.sdk.file, ctx.options.syncId);
      checkResourceTypeFilter(store, sync.syncId, ctx.sdk.file, ctx.options.resourceType);
      // A grant carries its principal's id only (as Go's grant.NewGrant): the name comes from the resource.
      const nameOf = principalNames(store, sync.syncId);
      const sink = rowSink(
        ctx,
        "grants",
        [{ header: "ENTITLEMENT" }, { header: "PRINCIPAL TYPE" }, { header: "PRINCIPAL" }, { header: "PRINCIPAL NAME" }],
        (r: ReturnType<SyncStore["iterateGrants"]> extends Generator<infer R> ? R : never) => [
          r.grant.entitlement?.id,
          r.grant.principal?.id?.resourceType,
          r.grant.principal?.id?.resource,
          r.grant.principal?.displayName || nameOf(r.grant.principal?.id?.resourceType, r.grant.principal?.id?.resource),
        ],
        (r) => protoJson(GrantSchema, r.grant),
      );
      const filter = { resourceTypeId: ctx.options.resourceType, entitlementId: ctx.options.entitlement };
      for (const row of store.iterateGrants(sync.syncId, filter)) sink.add(row);
      sink.end();
  },

  "syncs": (ctx, store) => {
    const sink = rowSink(
      ctx,
      "syncs",
      [{ header: "ID" }, { header: "TYPE" }, { header: "STARTED" }, { header: "ENDED" }, { header: "PARENT" }],
      (s: SyncRunRow) => [s.syncId, s.syncType, s.startedAt, s.endedAt ?? "(unfinished)", s.parentSyncId],
      (s) => ({
        id: s.syncId,
        type: s.syncType,
        startedAt: s.startedAt,
        endedAt: s.endedAt,
        ...(s.parentSyncId ? { parentSyncId: s.parentSyncId } : {}),
        ...(s.linkedSyncId ? { linkedSyncId: s.linkedSyncId } : {}),
        ...(s.stats ? { stats: s.stats as JsonValue } : {}),
      }),
    );
    for (const run of store.syncRuns()) sink.add(run);
    sink.end();
  },

  "stats": (ctx, store) => {
    const sync = selectSync(store, ctx.sdk.file, ctx.options.syncId);
    const c = store.counts(sync.syncId);
    const types = [...new Set([...Object.keys(c.resourcesByType), ...Object.keys(c.entitlementsByType), ...Object.keys(c.grantsByType)])].sort();
    if (ctx.options.output === "json") {
      const byType: Record<string, JsonValue> = {};
      for (const t of types) {
        byType[t] = { resources: c.resourcesByType[t] ?? 0, entitlements: c.entitlementsByType[t] ?? 0, grants: c.grantsByType[t] ?? 0 };
      }
      const doc = {
        syncId: sync.syncId,
        syncType: sync.syncType,
        startedAt: sync.startedAt,
        endedAt: sync.endedAt,
        resourceTypes: c.resourceTypes,
        resources: c.resources,
        entitlements: c.entitlements,
        grants: c.grants,
        byResourceType: byType,
      };
      ctx.io.stdout.write(JSON.stringify(doc, null, 2) + "\n");
      return;
    }
    ctx.io.stdout.write(`Sync ${sync.syncId} (${sync.syncType}), started ${sync.startedAt}, ${sync.endedAt ? `ended ${sync.endedAt}` : "unfinished"}\n`);
    const table = new TableWriter(ctx.io.stdout, [
      { header: "RESOURCE TYPE" },
      { header: "RESOURCES", align: "right" },
      { header: "ENTITLEMENTS", align: "right" },
      { header: "GRANTS", align: "right" },
    ]);
    for (const t of types) {
      table.add([t, formatCount(c.resourcesByType[t] ?? 0), formatCount(c.entitlementsByType[t] ?? 0), formatCount(c.grantsByType[t] ?? 0)]);
    }
    table.add(["total", formatCount(c.resources), formatCount(c.entitlements), formatCount(c.grants)]);
    table.end();
  },
};
