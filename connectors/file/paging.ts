/** Offset pages over an in-memory list; the token is the next offset, checked because a client sends it back. */
import { Code, ConnectorError, type Page } from "../../src/index.ts";

export const PAGE_SIZE = 100;

export function pageOf<T, R>(list: readonly T[], pageToken: string, map: (item: T) => R): Page<R> {
  const start = pageToken === "" ? 0 : Number(pageToken);
  if (!/^\d{1,9}$/.test(pageToken || "0") || start > list.length) {
    throw new ConnectorError(Code.INVALID_ARGUMENT, `page token ${JSON.stringify(pageToken.slice(0, 32))} is not one this connector gave out`);
  }
  const end = Math.min(start + PAGE_SIZE, list.length);
  return { items: list.slice(start, end).map(map), nextPageToken: end < list.length ? String(end) : "" };
}
