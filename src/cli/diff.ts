/**
 * `diff -f FILE [--base ID] [--new ID] [-o json]`: what changed between two runs of a c1z, so a reviewer sees
 * who gained or lost access since the last sync. Declared here (help lists it); diff-output.ts does the work
 * and loads only when the command runs.
 */
import { field } from "../config/fields.ts";
import type { DiffOptions } from "./diff-output.ts";
import type { CommandContext, CommandSpec } from "./spec.ts";

export const diffCommand: CommandSpec<unknown, any> = {
  name: "diff",
  description: "Show the resources, entitlements and grants created, deleted and modified between two syncs in a c1z file",
  flags: {
    output: field.enum({ short: "o", values: ["console", "json"], default: "console", description: "Output format" }),
    base: field.string({ description: "The earlier sync (default: the finished full sync before --new)" }),
    new: field.string({ description: "The later sync (default: the newest finished full sync)" }),
  },
  async run(ctx) {
    const { runDiff } = await import("./diff-output.ts");
    await runDiff(ctx as CommandContext<unknown, DiffOptions>);
  },
};
