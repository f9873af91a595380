/**
 * Page-number paging (page[number] from 0, page[size] up to 100). The next page is asked for only when this page
 * was full AND the advertised total (when the answer has one) says more items exist, so that the last page never
 * costs an extra, empty request.
 */

/** Datadog's documented maximum for page[size] (the PageSize parameter: "The maximum allowed value is 100"). */
export const MAX_PAGE_SIZE = 100;

export interface Page<T> {
  items: T[];
  /** The page number to ask for next, or undefined when this was the last page. */
  nextPage: number | undefined;
  /** The total the API advertised, when it did. */
  total: number | undefined;
  /** Entries the answer held, usable or not (items may be fewer: see tolerant.ts); items.length when absent. */
  received?: number;
}

export function nextPageNumber(page: number, size: number, received: number, total: number | null | undefined): number | undefined {
  if (received < size || received === 0) return undefined;
  // A full page that reaches exactly the total is the last one. A full page beyond it means the total is stale
  // or understated (the listing grew, or the API miscounts): the pages decide then, not the total.
  if (total !== null && total !== undefined && (page + 1) * size === total) return undefined;
  return page + 1;
}

export function checkPageNumber(page: number): number {
  if (!Number.isSafeInteger(page) || page < 0) throw new RangeError(`page number must be an integer >= 0, got ${page}`);
  return page;
}

/** What a team listing (ListTeams, GetTeamMemberships) says about its pages: `meta.pagination` and `links`. */
export interface TeamPaging {
  pagination?: { total?: number | null; last_number?: number | null } | null;
  links?: { next?: string | null } | null;
}

/**
 * The next page of a team listing. Real answers page by number (`meta.pagination.total`, `last_number`) and keep
 * `links.next` even on the last page, so `links.next` alone never ends a listing while a total or last page
 * number is known; it decides only in answers that carry neither (as the spec's offset-based shape may).
 */
export function teamsNextPage(page: number, size: number, received: number, paging: TeamPaging): { nextPage: number | undefined; total: number | undefined } {
  const total = paging.pagination?.total ?? undefined;
  const last = paging.pagination?.last_number ?? undefined;
  let nextPage = nextPageNumber(page, size, received, total);
  // The page the answer calls the last one ends the listing; a page beyond it (the listing grew) lets the pages decide.
  if (last !== undefined && page === last) nextPage = undefined;
  if (total === undefined && last === undefined && paging.links && !paging.links.next) nextPage = undefined;
  return { nextPage, total };
}
