import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { Code } from "../../src/connector/errors.ts";
import { HttpClient, type HttpClientOptions } from "../../src/http/client.ts";
import { HttpError, HttpErrorCode, toConnectorError } from "../../src/http/errors.ts";
import { closedPort, FixedWindowLimit, json, startHttpServer, type TestServer } from "./servers.ts";
import { rejection } from "../helpers/rejection.ts";

const fastBackoff = { baseMs: 5, maxMs: 20 };
const noProxy = { httpProxy: "", httpsProxy: "", noProxy: "" };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function server(handler: Parameters<typeof startHttpServer>[0]): Promise<TestServer> {
  const s = await startHttpServer(handler);
  cleanups.push(s.close);
  return s;
}

function client(baseUrl: string, options: Partial<HttpClientOptions> = {}): HttpClient {
  const c = new HttpClient({ baseUrl, backoff: fastBackoff, proxy: noProxy, ...options });
  cleanups.push(() => c.close());
  return c;
}

const failure = (p: Promise<unknown>) => rejection(p, HttpError);

describe("HttpClient basics", () => {
  it("sends method, path prefix, query, JSON body and credential headers; parses JSON", async () => {
    let seen: { method?: string; url?: string; body?: string; key?: string; ct?: string } = {};
    const s = await server((req, res, body) => {
      seen = { method: req.method, url: req.url, body, key: req.headers["dd-api-key"] as string, ct: req.headers["content-type"] };
      json(res, 200, { ok: true });
    });
    const c = client(`${s.url}/prefix/`, {
      auth: { headers: async () => ({ "DD-API-KEY": "k-123456" }), secretHeaderNames: ["DD-API-KEY"] },
    });
    const res = await c.request({
      method: "POST",
      path: "/api/v2/things",
      query: { "page[size]": 100, include: ["a", "b"], skip: undefined },
      body: { data: { type: "x" } },
      operation: "CreateThing",
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
    expect(seen.method).toBe("POST");
    expect(seen.url).toBe("/prefix/api/v2/things?page%5Bsize%5D=100&include=a&include=b");
    expect(JSON.parse(seen.body!)).toEqual({ data: { type: "x" } });
    expect(seen.key).toBe("k-123456");
    expect(seen.ct).toBe("application/json");
    expect(c.metrics.requests).toBe(1);
  });

  it("returns undefined body for 204", async () => {
    const s = await server((_req, res) => {
      res.writeHead(204);
      res.end();
    });
    const res = await client(s.url).request({ method: "DELETE", path: "/x", operation: "DeleteX" });
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
  });

  it("keeps connections alive and never opens more than the connection limit", async () => {
    const s = await server(async (_req, res) => {
      await new Promise((r) => setTimeout(r, 20));
      json(res, 200, {});
    });
    const c = client(s.url, { connections: 2 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => c.request({ method: "GET", path: `/r${i}`, operation: "Get" })));
    expect(s.connections()).toBeLessThanOrEqual(2);
    const before = s.connections();
    for (let i = 0; i < 5; i++) await c.request({ method: "GET", path: "/seq", operation: "Get" });
    expect(s.connections()).toBe(before); // reused, no new sockets
  });

  it("rejects base URLs with credentials or other schemes", () => {
    expect(() => new HttpClient({ baseUrl: "https://user:pw@example.com" })).toThrow(/must not contain user:password/);
    expect(() => new HttpClient({ baseUrl: "ftp://example.com" })).toThrow(/must be http/);
    expect(() => new HttpClient({ baseUrl: "not a url" })).toThrow(/not a valid URL/);
  });
});

describe("HttpClient retries", () => {
  it("retries 5xx with backoff for GET and succeeds", async () => {
    let n = 0;
    const s = await server((_req, res) => {
      n++;
      if (n <= 2) json(res, n === 1 ? 503 : 502, { errors: ["try later"] });
      else json(res, 200, { n });
    });
    const c = client(s.url);
    const res = await c.request({ method: "GET", path: "/x", operation: "GetX" });
    expect(res.body).toEqual({ n: 3 });
    expect(res.attempts).toBe(3);
    expect(c.metrics.retries).toBe(2);
    expect(c.metrics.http5xx).toBe(2);
  });

  it("gives up after the bounded number of retries with a status error", async () => {
    let n = 0;
    const s = await server((_req, res) => {
      n++;
      json(res, 500, { errors: ["boom"] });
    });
    const err = await failure(client(s.url, { maxRetries: 3 }).request({ method: "GET", path: "/x", operation: "GetX" }));
    expect(n).toBe(4);
    expect(err.code).toBe(HttpErrorCode.HTTP_STATUS);
    expect(err.status).toBe(500);
    expect(err.message).toContain("GetX: GET");
    expect(err.message).toContain("boom");
    expect(err.attempts).toBe(4);
  });

  it("does not retry a POST unless marked retryable", async () => {
    let n = 0;
    const s = await server((_req, res) => {
      n++;
      json(res, 503, {});
    });
    const c = client(s.url, { maxRetries: 2 });
    const err = await failure(c.request({ method: "POST", path: "/x", body: {}, operation: "CreateX" }));
    expect(n).toBe(1);
    expect(err.status).toBe(503);
    expect(toConnectorError(err).code).toBe(Code.UNAVAILABLE);
    n = 0;
    await failure(c.request({ method: "POST", path: "/x", body: {}, operation: "CreateX", retryable: true }));
    expect(n).toBe(3);
  });

  it("retries a connection reset (socket destroyed before answering)", async () => {
    let n = 0;
    const s = await server((req, res) => {
      n++;
      if (n === 1) req.socket.destroy();
      else json(res, 200, { ok: n });
    });
    const c = client(s.url);
    const res = await c.request({ method: "GET", path: "/x", operation: "GetX" });
    expect(res.body).toEqual({ ok: 2 });
    expect(c.metrics.networkErrors).toBe(1);
  });

  it("retries a body cut off mid-stream", async () => {
    let n = 0;
    const s = await server((req, res) => {
      n++;
      if (n === 1) {
        res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
        res.write('{"data": [');
        setTimeout(() => req.socket.destroy(), 10);
      } else json(res, 200, { data: [] });
    });
    const res = await client(s.url).request({ method: "GET", path: "/x", operation: "GetX" });
    expect(res.body).toEqual({ data: [] });
    expect(n).toBe(2);
  });

  it("retries malformed JSON and then reports INVALID_RESPONSE", async () => {
    let n = 0;
    const s = await server((_req, res) => {
      n++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"data": [1, 2');
    });
    const err = await failure(client(s.url, { maxRetries: 1 }).request({ method: "GET", path: "/x", operation: "ListX" }));
    expect(n).toBe(2);
    expect(err.code).toBe(HttpErrorCode.INVALID_RESPONSE);
    expect(err.message).toMatch(/^ListX: .*not valid JSON/);
  });

  it("refreshes credentials once on 401", async () => {
    const seen: string[] = [];
    const s = await server((req, res) => {
      const auth = String(req.headers.authorization);
      seen.push(auth);
      if (auth === "Bearer new-token-1") json(res, 200, { ok: true });
      else json(res, 401, { errors: ["expired"] });
    });
    let token = "old-token-1";
    let refreshes = 0;
    const c = client(s.url, {
      auth: {
        headers: async () => ({ Authorization: `Bearer ${token}` }),
        onUnauthorized: async () => {
          refreshes++;
          token = "new-token-1";
          return true;
        },
        secretHeaderNames: ["Authorization"],
      },
    });
    const res = await c.request({ method: "GET", path: "/x", operation: "GetX" });
    expect(res.status).toBe(200);
    expect(refreshes).toBe(1);
    expect(seen).toEqual(["Bearer old-token-1", "Bearer new-token-1"]);
  });

  it("maps statuses to connector codes (one map: every 5xx but 501 is UNAVAILABLE, as the Datadog converter says)", async () => {
    const statuses = [400, 401, 403, 404, 409, 500, 501, 507];
    const s = await server((req, res) => json(res, Number(req.url!.slice(1)), { errors: ["e"] }));
    const c = client(s.url, { maxRetries: 0 });
    const codes: number[] = [];
    for (const st of statuses) codes.push(toConnectorError(await failure(c.request({ method: "GET", path: `/${st}`, operation: "Op" }))).code);
    expect(codes).toEqual([Code.INVALID_ARGUMENT, Code.UNAUTHENTICATED, Code.PERMISSION_DENIED, Code.NOT_FOUND, Code.ALREADY_EXISTS, Code.UNAVAILABLE, Code.UNIMPLEMENTED, Code.UNAVAILABLE]);
  });
});

describe("HttpClient failures without a response", () => {
  it("times out when the server never answers, and again when the body never finishes", async () => {
    const s = await server((req, res) => {
      if (req.url === "/body") {
        res.writeHead(200, { "content-type": "application/json" });
        res.write("{");
      }
      // otherwise: never answer
    });
    const c = client(s.url, { timeoutMs: 150, maxRetries: 1 });
    const err = await failure(c.request({ method: "GET", path: "/never", operation: "GetX" }));
    expect(err.code).toBe(HttpErrorCode.TIMEOUT);
    expect(err.attempts).toBe(2);
    expect(toConnectorError(err).code).toBe(Code.UNAVAILABLE);
    const err2 = await failure(c.request({ method: "GET", path: "/body", operation: "GetX" }));
    expect(err2.code).toBe(HttpErrorCode.TIMEOUT);
  });

  it("stops when the caller aborts", async () => {
    const s = await server(() => {});
    const ac = new AbortController();
    const p = client(s.url).request({ method: "GET", path: "/x", operation: "GetX", signal: ac.signal });
    setTimeout(() => ac.abort(), 30);
    const err = await failure(p);
    expect(err.code).toBe(HttpErrorCode.ABORTED);
    expect(toConnectorError(err).code).toBe(Code.CANCELLED);
  });

  it("reports a refused connection", async () => {
    const port = await closedPort();
    const err = await failure(client(`http://127.0.0.1:${port}`, { maxRetries: 1 }).request({ method: "GET", path: "/x", operation: "GetX" }));
    expect(err.code).toBe(HttpErrorCode.CONNECTION);
    expect(err.causeCode).toBe("ECONNREFUSED");
    expect(err.message).toContain("refused");
  });

  it("reports a DNS failure naming the host", async () => {
    const err = await failure(client("http://no-such-host.invalid", { maxRetries: 0 }).request({ method: "GET", path: "/x", operation: "GetX" }));
    expect(err.code).toBe(HttpErrorCode.DNS);
    expect(err.message).toContain("no-such-host.invalid");
  });
});

describe("HttpClient body cap", () => {
  it("fails with BODY_TOO_LARGE on a large Content-Length and on a large chunked body", async () => {
    const big = "x".repeat(300_000);
    const s = await server((req, res) => {
      if (req.url === "/chunked") {
        res.writeHead(200, { "content-type": "application/json" });
        for (let i = 0; i < 10; i++) res.write(big);
        res.end();
      } else json(res, 200, { big });
    });
    const c = client(s.url, { maxBodyBytes: 100_000 });
    const e1 = await failure(c.request({ method: "GET", path: "/len", operation: "GetBig" }));
    expect(e1.code).toBe(HttpErrorCode.BODY_TOO_LARGE);
    expect(e1.message).toMatch(/GetBig: .*exceeds the 100000-byte cap/);
    const e2 = await failure(c.request({ method: "GET", path: "/chunked", operation: "GetBig" }));
    expect(e2.code).toBe(HttpErrorCode.BODY_TOO_LARGE);
    expect(toConnectorError(e2).code).toBe(Code.INTERNAL);
    // the client still works afterwards
    const small = await startHttpServer((_q, r) => json(r, 200, { ok: 1 }));
    cleanups.push(small.close);
    expect((await client(small.url, { maxBodyBytes: 100_000 }).request({ method: "GET", path: "/", operation: "Ok" })).body).toEqual({ ok: 1 });
  });
});

describe("HttpClient secrets", () => {
  it("never puts credential values in error messages, even when the server echoes them", async () => {
    const apiKey = "apikey-SECRET-0123456789abcdef";
    const appKey = "appkey-SECRET-fedcba9876543210";
    const s = await server((req, res) => {
      json(res, 403, { errors: [`key ${String(req.headers["dd-api-key"])} with ${String(req.headers["dd-application-key"])} is not allowed`] });
    });
    const c = client(s.url, {
      auth: {
        headers: async () => ({ "DD-API-KEY": apiKey, "DD-APPLICATION-KEY": appKey }),
        secretHeaderNames: ["DD-API-KEY", "DD-APPLICATION-KEY"],
      },
    });
    const err = await failure(c.request({ method: "GET", path: "/x", operation: "GetX" }));
    const everything = `${err.message}\n${inspect(err, { depth: 10 })}\n${JSON.stringify(err)}\n${String(toConnectorError(err))}`;
    expect(everything).not.toContain(apiKey);
    expect(everything).not.toContain(appKey);
    expect(err.message).toContain("[REDACTED]");
  });

  it("keeps credentials out of network error messages", async () => {
    const port = await closedPort();
    const key = "apikey-SECRET-network-0000";
    const c = client(`http://127.0.0.1:${port}`, {
      maxRetries: 0,
      auth: { headers: async () => ({ "DD-API-KEY": key }), secretHeaderNames: ["DD-API-KEY"] },
    });
    const err = await failure(c.request({ method: "GET", path: "/x", operation: "GetX" }));
    expect(`${err.message}${inspect(err, { depth: 10 })}`).not.toContain(key);
  });
});

describe("HttpClient rate limits", () => {
  it("waits for X-RateLimit-Reset after a 429 and retries", async () => {
    const times: number[] = [];
    const s = await server((_req, res) => {
      times.push(Date.now());
      if (times.length === 1) {
        json(res, 429, { errors: ["Too many requests"] }, {
          "x-ratelimit-limit": "5",
          "x-ratelimit-period": "10",
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset": "1",
          "x-ratelimit-name": "things",
        });
      } else json(res, 200, { ok: true });
    });
    const c = client(s.url);
    const res = await c.request({ method: "GET", path: "/x", operation: "ListThings" });
    expect(res.status).toBe(200);
    expect(c.metrics.http429).toBe(1);
    expect(c.metrics.retries).toBe(1);
    // The retry was held at least until the advertised reset (a lower bound: sleeping is never shorter).
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(990);
  });

  it("honours Retry-After when there are no rate-limit headers", async () => {
    const times: number[] = [];
    const s = await server((_req, res) => {
      times.push(Date.now());
      if (times.length === 1) json(res, 429, {}, { "retry-after": "1" });
      else json(res, 200, {});
    });
    await client(s.url).request({ method: "POST", path: "/x", operation: "CreateX" });
    expect(times.length).toBe(2); // a 429 means "not processed": even a POST is repeated
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(990);
  });

  it("gives up with RATE_LIMITED after the bounded number of 429s", async () => {
    let n = 0;
    const s = await server((_req, res) => {
      n++;
      json(res, 429, { errors: ["slow down"] });
    });
    const err = await failure(client(s.url, { maxRateLimitRetries: 3 }).request({ method: "GET", path: "/x", operation: "GetX" }));
    expect(n).toBe(4);
    expect(err.code).toBe(HttpErrorCode.RATE_LIMITED);
    expect(toConnectorError(err).code).toBe(Code.UNAVAILABLE);
  });

  it("paces a burst of concurrent requests so that an advertising server never answers 429", async () => {
    const limit = new FixedWindowLimit("users_list", 8, 1);
    const s = await server((_req, res) => {
      const { allowed, headers } = limit.take();
      setTimeout(() => json(res, allowed ? 200 : 429, allowed ? { ok: true } : { errors: ["Too many requests"] }, headers), 5);
    });
    const c = client(s.url, { connections: 16 });
    const results = await Promise.all(
      Array.from({ length: 26 }, (_, i) =>
        c.request({ method: "GET", path: i % 2 ? "/api/v2/users" : "/api/v2/roles", operation: i % 2 ? "ListUsers" : "ListRoles" }),
      ),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(limit.rejected).toBe(0);
    expect(c.metrics.http429).toBe(0);
    expect(limit.accepted).toBe(26);
    expect(c.rateLimiter!.limitNameOf("ListUsers")).toBe("users_list");
    expect(c.rateLimiter!.limitNameOf("ListRoles")).toBe("users_list");
    expect(c.metrics.rateLimitWaitMs).toBeGreaterThan(0);
  });

  it("paces independently per limit name", async () => {
    const a = new FixedWindowLimit("a", 3, 1);
    const b = new FixedWindowLimit("b", 50, 1);
    const s = await server((req, res) => {
      const lim = req.url!.startsWith("/a") ? a : b;
      const { allowed, headers } = lim.take();
      json(res, allowed ? 200 : 429, {}, headers);
    });
    const c = client(s.url);
    await Promise.all([
      ...Array.from({ length: 7 }, () => c.request({ method: "GET", path: "/a", operation: "A" })),
      ...Array.from({ length: 40 }, () => c.request({ method: "GET", path: "/b", operation: "B" })),
    ]);
    expect(a.rejected + b.rejected).toBe(0);
    const status = c.rateLimiter!.status().map((x) => x.name).sort();
    expect(status).toEqual(["a", "b"]);
  });
});
