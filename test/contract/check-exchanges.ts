/**
 * Runs the contract checks over recorded exchanges and sums them up: the problems (identical ones counted
 * once, with how often they occurred), the calls to operations missing from the spec file (allow-listed, so
 * reported apart rather than silently passed), and how often each documented operation was called.
 */
import { checkRequest, checkResponse, classifyRequest, type Spec } from "./openapi.ts";
import type { RecordedExchange } from "./recorder.ts";

export interface ContractReport {
  /** One line per distinct problem; "(×N)" when it occurred N > 1 times. Empty means every exchange conforms. */
  problems: string[];
  /** Calls to UNDOCUMENTED_IN_V2_SPEC operations: "METHOD template: reason (×N)". */
  allowListed: string[];
  /** operationId → number of calls, for documented operations. */
  operations: Record<string, number>;
}

export function checkExchanges(spec: Spec, exchanges: readonly RecordedExchange[]): ContractReport {
  const problems = new Map<string, number>();
  const allowListed = new Map<string, number>();
  const operations: Record<string, number> = {};
  const add = (map: Map<string, number>, line: string) => map.set(line, (map.get(line) ?? 0) + 1);

  for (const exchange of exchanges) {
    const cls = classifyRequest(spec, exchange.method, exchange.url);
    if (cls.kind === "documented") operations[cls.match.operationId] = (operations[cls.match.operationId] ?? 0) + 1;
    if (cls.kind === "allow-listed") add(allowListed, `${cls.entry.method} ${cls.entry.pathTemplate}: ${cls.entry.reason}`);

    for (const line of checkRequest(spec, {
      method: exchange.method,
      url: exchange.url,
      bodyText: exchange.requestText,
      contentType: exchange.requestContentType,
    })) {
      add(problems, line);
    }
    if (exchange.error) {
      add(problems, `${exchange.method} ${new URL(exchange.url, "http://x").pathname}: ${exchange.error}`);
      continue;
    }
    if (exchange.truncated) {
      add(problems, `${exchange.method} ${new URL(exchange.url, "http://x").pathname}: response too large to check (recording was cut)`);
      continue;
    }
    for (const line of checkResponse(spec, {
      method: exchange.method,
      url: exchange.url,
      status: exchange.status,
      bodyText: exchange.responseText,
      contentType: exchange.responseContentType,
    })) {
      add(problems, line);
    }
  }

  const lines = (map: Map<string, number>) => [...map].map(([line, n]) => (n > 1 ? `${line} (×${n})` : line));
  return { problems: lines(problems), allowListed: lines(allowListed), operations };
}
