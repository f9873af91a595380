/**
 * Page tokens of the Datadog syncers. Datadog pages by number (page[number] from 0), so a token is the next page
 * number as decimal text; "" is the first page. A token that is not one of ours is a caller error, not a crash.
 */
import { Code, ConnectorError } from "../../../src/connector/errors.ts";

export function pageNumberOf(token: string, listing: string): number {
  if (token === "") return 0;
  if (!/^\d{1,9}$/.test(token)) {
    throw new ConnectorError(Code.INVALID_ARGUMENT, `invalid page token for ${listing}: expected a page number, got ${JSON.stringify(token.slice(0, 32))}`);
  }
  return Number(token);
}

export function tokenOf(nextPage: number | undefined): string {
  return nextPage === undefined ? "" : String(nextPage);
}
