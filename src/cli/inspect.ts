/**
 * Inspection of a c1z file, as Baton's `baton` tool offers it: resource-types, resources, entitlements,
 * grants, syncs, stats, diff; `-f FILE`, `-o console|json`, `--sync-id` (any run; default: the newest finished
 * full sync, so a later partial run shows only when named) and filters.
 *
 * Only the commands' names and flags live here (help lists them); what they do is in inspect-output.ts and
 * loads when one runs.
 */
import { field, type FieldMap } from "../config/fields.ts";
import { diffCommand } from "./diff.ts";
import type { InspectOptions } from "./inspect-output.ts";
import type { CommandContext, CommandSpec } from "./spec.ts";

const outputFlag = { output: field.enum({ short: "o", values: ["console", "json"], default: "console", description: "Output format" }) };
const syncIdFlag = { syncId: field.string({ description: "The sync to read, of any type (default: the newest finished full sync)" }) };
const resourceTypeFlag = { resourceType: field.string({ description: "Only objects of this resource type" }) };

function inspectCommand(name: string, description: string, flags: FieldMap): CommandSpec<unknown, any> {
  return {
    name,
    description,
    flags: { ...outputFlag, ...flags },
    run: async (ctx) => {
      const { inspectionBodies, withStore } = await import("./inspect-output.ts");
      const c = ctx as CommandContext<unknown, InspectOptions>;
      return withStore(c, (store) => inspectionBodies[name]!(c, store));
    },
  };
}

export const inspectionCommands: readonly CommandSpec<unknown, any>[] = [
  inspectCommand("resource-types", "List the resource types in a c1z file", { ...syncIdFlag }),
  inspectCommand("resources", "List the resources in a c1z file", { ...syncIdFlag, ...resourceTypeFlag }),
  inspectCommand("entitlements", "List the entitlements in a c1z file", { ...syncIdFlag, ...resourceTypeFlag }),
  inspectCommand("grants", "List the grants in a c1z file", {
    ...syncIdFlag,
    ...resourceTypeFlag,
    entitlement: field.string({ description: "Only grants of this entitlement id" }),
  }),
  inspectCommand("syncs", "List the sync runs in a c1z file", {}),
  inspectCommand("stats", "Count the objects of a sync in a c1z file, by resource type", { ...syncIdFlag }),
  diffCommand,
];
