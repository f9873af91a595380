/**
 * The engine's own checkpoint, stored as JSON in v1_sync_runs.sync_token. It records which step the sync is in
 * and the work still to do with its page tokens, so a killed sync continues where its last checkpoint was.
 * Objects written after that checkpoint are written again on resume; the store's upserts make that harmless.
 */
import { z } from "zod";

export const steps = ["resource-types", "resources", "entitlements", "grants", "expand-grants", "done"] as const;
export type Step = (typeof steps)[number];

const listAction = z.object({
  resourceTypeId: z.string(),
  parent: z.object({ resourceType: z.string(), resource: z.string() }).optional(),
  pageToken: z.string(),
});
export type ListAction = z.infer<typeof listAction>;

const syncState = z.object({
  version: z.literal(1),
  step: z.enum(steps),
  /** resource-types step: the next page. */
  pageToken: z.string().default(""),
  /** resources step: listings still to do (running ones carry the token of their next page). */
  actions: z.array(listAction).default([]),
  /** entitlements/grants steps: every resource row up to this id is done. */
  cursor: z.number().int().default(0),
  /** entitlements/grants steps: rows past the cursor that were mid-listing, with their next page token. */
  inflight: z.array(z.object({ rowId: z.number().int(), pageToken: z.string() })).default([]),
});
export type SyncState = z.infer<typeof syncState>;

export function initialState(): SyncState {
  return { version: 1, step: "resource-types", pageToken: "", actions: [], cursor: 0, inflight: [] };
}

export function parseState(token: string): SyncState {
  if (token === "") return initialState();
  const parsed = syncState.safeParse(JSON.parse(token));
  if (!parsed.success) throw new Error(`unreadable sync checkpoint: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  return parsed.data;
}

export function serializeState(state: SyncState): string {
  return JSON.stringify(state);
}
