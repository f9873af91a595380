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
