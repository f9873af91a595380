/**
 * A host that has never answered is unreachable, not flaky: a refused connection or a failed DNS lookup before
 * the client's first response fails after two quick retries with a code the sync engine does not retry. Once the
 * host has answered, the same failures are transient and keep the full retry budget. Retries are debug lines,
 * with at most one warning a minute.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Code } from "../../src/connector/errors.ts";
import { HttpClient, type HttpClientOptions } from "../../src/http/client.ts";
import { HttpError, HttpErrorCode, toConnectorError } from "../../src/http/errors.ts";
import { createLogger } from "../../src/log/index.ts";
import { closedPort, json, startHttpServer } from "./servers.ts";
import { rejection } from "../helpers/rejection.ts";

const noProxy = { httpProxy: "", httpsProxy: "", noProxy: "" };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function logged() {
  const lines: { level: string; msg: string }[] = [];
  const logger = createLogger({ level: "debug", format: "json", destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  return { logger, lines, at: (level: string) => lines.filter((l) => l.level === level) };
}

function client(baseUrl: string, options: Partial<HttpClientOptions> = {}): HttpClient {
  const c = new HttpClient({ baseUrl, backoff: { baseMs: 5, maxMs: 20 }, proxy: noProxy, maxRetries: 5, ...options });
  cleanups.push(() => c.close());
  return c;
}

const failure = (p: Promise<unknown>) => rejection(p, HttpError);

describe("a host that has never answered", () => {
  it("fails a refused connection after 3 attempts (not 6), unreachable, as FAILED_PRECONDITION, with no warning", async () => {
    const log = logged();
    const port = await closedPort();
    const err = await failure(client(`http://127.0.0.1:${port}`, { logger: log.logger }).request({ method: "GET", path: "/x", operation: "GetX" }));
    expect(err.code).toBe(HttpErrorCode.CONNECTION);
    expect(err.causeCode).toBe("ECONNREFUSED");
    expect(err.attempts).toBe(3);
    expect(err.unreachable).toBe(true);
    expect(err.message).toMatch(/refused \(ECONNREFUSED\) \(after 3 attempts\)/);
    expect(toConnectorError(err).code).toBe(Code.FAILED_PRECONDITION);
    expect(log.at("warn")).toEqual([]);
    expect(log.at("debug").filter((l) => l.msg.startsWith("retrying GetX"))).toHaveLength(2);
  });

  it("fails a DNS failure at once, unreachable", async () => {
    const err = await failure(client("http://no-such-host.invalid").request({ method: "GET", path: "/x", operation: "GetX" }));
    expect(err.code).toBe(HttpErrorCode.DNS);
    expect(err.unreachable).toBe(true);
    expect(toConnectorError(err).code).toBe(Code.FAILED_PRECONDITION);
  });
});

describe("a host that has answered before", () => {
  it("keeps the full retry budget for a refused connection, and it stays UNAVAILABLE (the engine retries it)", async () => {
    const s = await startHttpServer((_req, res) => json(res, 200, { ok: true }));
    const log = logged();
    const c = client(s.url, { logger: log.logger });
    expect((await c.request({ method: "GET", path: "/x", operation: "GetX" })).status).toBe(200);
    await s.close();
    const err = await failure(c.request({ method: "GET", path: "/x", operation: "GetX" }));
    expect(err.causeCode).toBe("ECONNREFUSED");
    expect(err.attempts).toBe(6);
    expect(err.unreachable).toBe(false);
    expect(toConnectorError(err).code).toBe(Code.UNAVAILABLE);
    // Five retries: five debug lines, one warning that says requests are being retried.
    expect(log.at("debug").filter((l) => l.msg.startsWith("retrying GetX"))).toHaveLength(5);
    const warnings = log.at("warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/^requests to 127\.0\.0\.1:\d+ are being retried, which slows this run down \(1 retry since the last warning; latest: GetX: .*refused/);
  });

  it("warns about nothing when the caller reports failures itself (retryWarnings: false)", async () => {
    let calls = 0;
    const s = await startHttpServer((_req, res) => (++calls <= 2 ? json(res, 503, { errors: ["busy"] }) : json(res, 200, {})));
    cleanups.push(s.close);
    const log = logged();
    const res = await client(s.url, { logger: log.logger, retryWarnings: false }).request({ method: "GET", path: "/x", operation: "GetX" });
    expect(res.attempts).toBe(3);
    expect(log.at("warn")).toEqual([]);
    expect(log.at("debug").filter((l) => l.msg.startsWith("retrying GetX"))).toHaveLength(2);
  });
});
