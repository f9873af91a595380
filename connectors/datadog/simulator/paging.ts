/** Datadog's page[number]/page[size] paging, with its limits (default size 10, at most 100). */
import { badRequest } from "./errors.ts";

export interface PageRequest {
  readonly size: number;
  readonly number: number;
}

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 10;

function readInt(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === "") return undefined;
  if (!/^-?\d+$/.test(raw)) throw badRequest(`${name} must be an integer, got "${raw.slice(0, 40)}"`);
  return Number(raw);
}

export function readPage(query: URLSearchParams, maxSize = MAX_PAGE_SIZE): PageRequest {
  const size = readInt(query, "page[size]") ?? DEFAULT_PAGE_SIZE;
  const number = readInt(query, "page[number]") ?? 0;
  if (size < 1 || size > maxSize) throw badRequest(`page[size] must be between 1 and ${maxSize}, got ${size}`);
  if (number < 0) throw badRequest(`page[number] must be 0 or more, got ${number}`);
  return { size, number };
}

export function slicePage<T>(items: readonly T[], page: PageRequest): T[] {
  const start = page.number * page.size;
  return items.slice(start, start + page.size);
}

/**
 * `links` and `meta.pagination` of the team endpoints as real Datadog sends them: number-based pagination
 * (`type: "number_size"`; the spec documents offset fields instead) and a `links.next` on every page, the last
 * one included (it points one page past the end, where the answer is empty). Page numbers in `meta` stay within
 * 0..last_number, so on the last page `next_number` equals `number`.
 */
export function teamPaging(url: URL, page: PageRequest, total: number): { links: Record<string, unknown>; meta: Record<string, unknown> } {
  const lastPage = Math.max(0, Math.ceil(total / page.size) - 1);
  const at = (n: number): string => {
    const u = new URL(url);
    u.searchParams.set("page[number]", String(n));
    u.searchParams.set("page[size]", String(page.size));
    return u.toString();
  };
  const links: Record<string, unknown> = {
    self: url.toString(),
    first: at(0),
    last: at(lastPage),
    next: at(page.number + 1),
    prev: page.number > 0 ? at(page.number - 1) : null,
  };
  const pagination: Record<string, unknown> = {
    number: page.number,
    next_number: Math.min(page.number + 1, lastPage),
    last_number: lastPage,
    prev_number: Math.max(0, Math.min(page.number - 1, lastPage)),
    size: page.size,
    type: "number_size",
    total,
    offset: page.number * page.size,
  };
  return { links, meta: { pagination } };
}
