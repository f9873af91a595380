/**
 * Loop detection for page-number paging. An API that answers page N with the items of an earlier page M of the
 * same listing (a proxy cache ignoring the query, a server bug) would otherwise make a sync store page M twice,
 * silently miss page N's items, and, when the answer carries no total, ask for pages forever. The page-token
 * guard of the sync engine cannot see this: the page numbers do change, only the contents repeat.
 *
 * Each walk of a listing starts at page 0, which forgets what was remembered about that listing, so a later
 * walk over a changed list never matches pages of an earlier walk.
 */
import { createHash } from "node:crypto";

/** Listings remembered at once (least recently used first out); each costs a few dozen bytes per page. */
const DEFAULT_MAX_LISTINGS = 2000;

export class RepeatedPageGuard {
  /** listing → fingerprint of a page's item ids → that page's number. */
  readonly #listings = new Map<string, Map<string, number>>();
  readonly #maxListings: number;

  constructor(maxListings = DEFAULT_MAX_LISTINGS) {
    this.#maxListings = maxListings;
  }

  /**
   * Records page `page` of `listing` with its item ids in order; returns the number of an earlier, different
   * page with exactly the same non-empty ids, or undefined.
   */
  check(listing: string, page: number, ids: readonly string[]): number | undefined {
    let pages = this.#listings.get(listing);
    if (page === 0 || pages === undefined) {
      pages = new Map();
    }
    // Re-inserting keeps the map in least-recently-used order.
    this.#listings.delete(listing);
    this.#listings.set(listing, pages);
    if (this.#listings.size > this.#maxListings) this.#listings.delete(this.#listings.keys().next().value!);
    if (ids.length === 0) return undefined;

    // The ids as one string, each ended by a NUL: one call into the hash, not two per id (3x faster per page).
    const fingerprint = createHash("sha256").update(ids.join("\0") + "\0").digest("base64");
    const earlier = pages.get(fingerprint);
    if (earlier !== undefined && earlier !== page) return earlier;
    pages.set(fingerprint, page);
    return undefined;
  }
}
