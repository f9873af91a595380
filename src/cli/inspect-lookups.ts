/**
 * Look-ups the inspection commands make beside their listing: the resource types a --resource-type may name,
 * and the names of the principals that grants point at (a grant carries only its principal's id).
 */
import { ConfigError } from "../config/errors.ts";
import { didYouMean } from "../config/suggest.ts";
import type { SyncStore } from "../store/store.ts";

/** A --resource-type the sync does not have is an error naming the types it has (no silent empty listing). */
export function checkResourceTypeFilter(store: SyncStore, syncId: string, file: string, type: string | undefined): void {
  if (type === undefined || type === "") return;
  const known = store.resourceTypes(syncId).map((rt) => rt.id);
  // A file whose writer recorded no resource types cannot say what is unknown.
  if (known.length === 0 || known.includes(type)) return;
  throw new ConfigError([
    {
      label: "--resource-type",
      message: `unknown resource type "${type.slice(0, 64)}"${didYouMean(type, known)}; sync ${syncId} of ${file} has: ${known.join(", ")}`,
    },
  ]);
}

/** Principals named by many grants are looked up once; the cache is bounded so a huge file stays flat. */
const MAX_CACHED_NAMES = 10_000;

/** `(type, id) → display name` of the principal resource in the sync ("" when it is not there). */
export function principalNames(store: SyncStore, syncId: string): (type: string | undefined, id: string | undefined) => string {
  const cache = new Map<string, string>();
  return (type, id) => {
    if (!type || !id) return "";
    const key = `${type}\u0000${id}`;
    let name = cache.get(key);
    if (name === undefined) {
      name = store.getResource(syncId, type, id)?.displayName ?? "";
      if (cache.size >= MAX_CACHED_NAMES) cache.clear();
      cache.set(key, name);
    }
    return name;
  };
}
