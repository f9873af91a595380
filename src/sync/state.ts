/**
 * The engine's own checkpoint, stored as JSON in v1_sync_runs.sync_token. It records the phase and the work
 * still to do with its page tokens, so a killed sync continues where its last checkpoint was. Objects written
 * after that checkpoint are written again on resume; the store's upserts make that harmless.
 */
import { z } from "zod";

export const steps = ["resource-types", "targeted", "objects", "expand-grants", "done"] as const;
export type Step = (typeof steps)[number];

const listAction = z.object({
  resourceTypeId: z.string(),
  parent: z.object({ resourceType: z.string(), resource: z.string() }).optional(),
  pageToken: z.string(),
});
export type ListAction = z.infer<typeof listAction>;

/** Per-resource work (entitlements or grants) walks the stored resources in row order. */
const rowLane = z.object({
  /** Every resource row up to this id is done. */
  cursor: z.number().int().default(0),
  /** Rows past the cursor that were mid-listing, with their next page token. */
  inflight: z.array(z.object({ rowId: z.number().int(), pageToken: z.string() })).default([]),
});
export type RowLaneState = z.infer<typeof rowLane>;

const syncState = z.object({
  version: z.literal(2),
  step: z.enum(steps),
  /** resource-types step: the next page. */
  pageToken: z.string().default(""),
  /** objects step: resource listings still to do (running ones carry the token of their next page). */
  actions: z.array(listAction).default([]),
  entitlements: rowLane.default({ cursor: 0, inflight: [] }),
  grants: rowLane.default({ cursor: 0, inflight: [] }),
});
export type SyncState = z.infer<typeof syncState>;

export function initialState(): SyncState {
  return {
    version: 2,
    step: "resource-types",
    pageToken: "",
    actions: [],
    entitlements: { cursor: 0, inflight: [] },
    grants: { cursor: 0, inflight: [] },
  };
}

/** Parses a checkpoint; undefined when it is from another engine version (the caller starts afresh). */
export function parseState(token: string): SyncState | undefined {
  if (token === "") return initialState();
  let json: unknown;
  try {
    json = JSON.parse(token);
  } catch {
    return undefined;
  }
  const parsed = syncState.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

export function serializeState(state: SyncState): string {
  return JSON.stringify(state);
}
