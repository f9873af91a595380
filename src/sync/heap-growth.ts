// How far V8 lets the old generation grow past what survived the last full collection before collecting again.
// A sync keeps little alive (about 35 MB, most of it loaded code) but turns over a lot: every page is a JSON
// string, a parse tree, zod's copy, protobuf messages and their bytes, and with a 2 MB young generation much of
// it is promoted before it dies. V8's default factor (up to 4× the live size when collections are cheap) then
// lets the heap reach 100-125 MB between collections, and freed ArrayBuffers leave their malloc pages behind.
// Measured on the bench org (20,000 users, 106k grants): peak RSS 250-280 MB with V8's default, 166 MB at 20 %,
// 185-188 MB at 30-40 %, for about 15 % more CPU; on a 2,000-user org 176-201 MB → 146-157 MB.
// bin/baton-datadog.js sets the same flag (same variable, same default) before the program loads, which helps
// where many modules load first (dist/'s modules: 2,000-user org 146-153 → 135-142 MB); runSync still sets it
// for every other host (the SDK's runner, the Lambda runtime, tests) and is the one that refuses a bad value.
import { setFlagsFromString } from "node:v8";

/** The growth a sync sets unless BATON_HEAP_GROWING_PERCENT says otherwise (0: V8's own dynamic factor). */
export const DEFAULT_HEAP_GROWING_PERCENT = 20;
export const HEAP_GROWING_ENV = "BATON_HEAP_GROWING_PERCENT";

let applied: number | undefined;

/** The percent from the environment; a value that is not a whole number from 0 to 400 is a configuration error. */
export function heapGrowingPercent(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[HEAP_GROWING_ENV]?.trim();
  if (raw === undefined || raw === "") return DEFAULT_HEAP_GROWING_PERCENT;
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n > 400) {
    throw new Error(`${HEAP_GROWING_ENV}=${JSON.stringify(raw)} is not a whole number from 0 to 400 (0 keeps V8's own heap growth; default ${DEFAULT_HEAP_GROWING_PERCENT})`);
  }
  return n;
}

/**
 * Sets V8's --heap-growing-percent for this process (once; later calls with the same value do nothing). V8 reads
 * the flag each time it sizes the heap after a full collection, so setting it at run time takes effect from the
 * next collection. 0 leaves V8's default in place. Returns the percent in force.
 */
export function applyHeapGrowth(env: NodeJS.ProcessEnv = process.env): number {
  const percent = heapGrowingPercent(env);
  if (applied === percent) return percent;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  applied = percent;
  return percent;
}
