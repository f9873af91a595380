/**
 * Page tokens of the Datadog syncers. Datadog pages by number (page[number] from 0), so a token names a page
 * number; "" is the first page. Pages are independent, so a resource listing that knows its total hands out
 * every other page on its first page (Baton's EnqueuePageTokens) and the engine fetches them concurrently:
 *   ""    the first page, which announces the rest;
 *   "N"   page N alone;
 *   "N+"  page N and, if the listing grew since the first page, whatever follows it.
 * A token that is not one of ours is a caller error, not a crash.
 *
 * The total is the API's word, not a fact: a listing that claims more pages than MAX_ANNOUNCED_PAGES is walked
 * one page at a time (each "N+" asks for the next while pages come full; the client's loop detection stops a
 * repeating page), so a hostile total costs requests, never memory. A listing that ends while still claiming a
 * total no Datadog org reaches fails with a message saying so, rather than passing for complete.
 */
import type { Any } from "@bufbuild/protobuf/wkt";
import { Code, ConnectorError } from "../../../src/index.ts";
import { pack } from "../../../src/index.ts";
import { EnqueuePageTokensSchema } from "../../../src/messages.ts";
import type { Page } from "../client/paging.ts";

const TOKEN = /^(\d{1,9})(\+?)$/;

/** Page tokens one first page may hand out at once (100,000 items at Datadog's 100 per page). */
export const MAX_ANNOUNCED_PAGES = 1000;
/** More items than any Datadog listing holds (the largest orgs have some 10^5 users); a total above it is false. */
export const MAX_PLAUSIBLE_TOTAL = 10_000_000;

function parse(token: string, listing: string): { page: number; chain: boolean } {
  if (token === "") return { page: 0, chain: true };
  const m = TOKEN.exec(token);
  if (!m) {
    throw new ConnectorError(Code.INVALID_ARGUMENT, `invalid page token for ${listing}: expected a page number, got ${JSON.stringify(token.slice(0, 32))}`);
  }
  return { page: Number(m[1]), chain: m[2] === "+" };
}

export function pageNumberOf(token: string, listing: string): number {
  return parse(token, listing).page;
}

export function tokenOf(nextPage: number | undefined): string {
  return nextPage === undefined ? "" : String(nextPage);
}

/**
 * One page of a resource listing paged by number. On the first page, when the total is known, the remaining
 * pages are announced at once; the last one announced chains on in case the listing grew meanwhile.
 */
export async function numberedPage<T>(
  token: string,
  listing: string,
  fetch: (pageNumber: number) => Promise<Page<T>>,
): Promise<{ items: T[]; nextPageToken: string; annotations?: Any[] }> {
  const { page: n, chain } = parse(token, listing);
  const page = await fetch(n);
  // Pages are as long as the answer's entries, not as the usable items among them (skipped entries count).
  const perPage = page.received ?? page.items.length;
  if (token === "" && page.nextPage !== undefined && typeof page.total === "number" && perPage > 0) {
    const last = Math.ceil(page.total / perPage) - 1;
    if (last <= MAX_ANNOUNCED_PAGES) {
      const rest: string[] = [];
      for (let p = 1; p <= last; p++) rest.push(p === last ? `${p}+` : String(p));
      if (rest.length > 0) return { items: page.items, nextPageToken: "", annotations: [pack(EnqueuePageTokensSchema, { pageTokens: rest })] };
    }
  }
  if (page.nextPage === undefined && typeof page.total === "number" && page.total > MAX_PLAUSIBLE_TOTAL) {
    throw new ConnectorError(
      Code.INTERNAL,
      `${listing}: the API announced a total of ${page.total} items but the listing ended at page ${n} (${perPage} items on it): ` +
        `its total and its content disagree (no Datadog listing holds more than ${MAX_PLAUSIBLE_TOTAL}); stopping rather than storing a listing that may be incomplete`,
    );
  }
  const nextPageToken = chain && page.nextPage !== undefined ? `${page.nextPage}+` : "";
  return { items: page.items, nextPageToken };
}
