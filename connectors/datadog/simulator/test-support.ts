/** Small HTTP helpers for the simulator's own tests (real requests over loopback, no mocks). */
import type { Simulator } from "./index.ts";

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export function keyHeaders(sim: Simulator): Record<string, string> {
  return { "DD-API-KEY": sim.apiKey, "DD-APPLICATION-KEY": sim.appKey };
}

/** One request with the simulator's keys (override or drop them through `headers`). */
export async function call(
  sim: Simulator,
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string | undefined> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...keyHeaders(sim), ...init.headers })) if (v !== undefined) headers[k] = v;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(sim.baseUrl + path, {
    method: init.method ?? "GET",
    headers,
    body: init.body === undefined ? undefined : typeof init.body === "string" ? init.body : JSON.stringify(init.body),
  });
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, body, text };
}

/** Follows page[number] until a short page; returns every `data` item and `included` item. */
export async function allPages(sim: Simulator, path: string, size = 100): Promise<{ data: any[]; included: any[]; pages: number }> {
  const data: any[] = [];
  const included: any[] = [];
  for (let page = 0; ; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const answer = await call(sim, `${path}${sep}page[size]=${size}&page[number]=${page}`);
    if (answer.status !== 200) throw new Error(`${path} page ${page}: HTTP ${answer.status} ${answer.text.slice(0, 200)}`);
    data.push(...answer.body.data);
    included.push(...(answer.body.included ?? []));
    if (answer.body.data.length < size) return { data, included, pages: page + 1 };
  }
}
