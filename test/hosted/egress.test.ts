/**
 * Egress enforcement in the HTTP layer: a real loopback server counts TCP connections, so "nothing was sent"
 * is measured, not assumed.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient } from "../../src/http/client.ts";
import { ALLOW_ALL, checkEgress, DENY_ALL, EgressDeniedError, egressPolicy } from "../../src/http/egress.ts";
import { Code } from "../../src/connector/errors.ts";

let server: Server;
let baseUrl: string;
let connections = 0;
let requests = 0;

beforeAll(async () => {
  server = createServer((_req, res) => {
    requests++;
    res.setHeader("content-type", "application/json");
    res.end('{"ok":true}');
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function send(egress: Parameters<typeof egressPolicy>[0] | typeof DENY_ALL | undefined) {
  const policy = egress === undefined || "allows" in egress ? egress : egressPolicy(egress);
  const client = new HttpClient({ baseUrl, egress: policy, maxRetries: 0, rateLimit: false });
  try {
    return await client.request({ method: "GET", path: "/api/v2/users", operation: "ListUsers" });
  } finally {
    await client.close();
  }
}

describe("egress policy in the HTTP client", () => {
  it("deny-all refuses before any connection, naming the host and the policy", async () => {
    const before = { connections, requests };
    const err = await send(DENY_ALL).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(EgressDeniedError);
    const denied = err as EgressDeniedError;
    expect(denied.code).toBe(Code.PERMISSION_DENIED);
    expect(denied.message).toContain("ListUsers: egress to http://127.0.0.1:");
    expect(denied.message).toContain("deny-all");
    expect({ connections, requests }).toEqual(before);
  });

  it("a rules policy without the host refuses and lists what it allows; nothing reaches the server", async () => {
    const before = { connections, requests };
    const err = (await send({ hosts: ["api.datadoghq.com", "*.datadoghq.eu"] }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(EgressDeniedError);
    expect(err.message).toContain("api.datadoghq.com, *.datadoghq.eu");
    expect({ connections, requests }).toEqual(before);
  });

  it("the allowed host goes through (with and without a port rule); no policy is allow-all", async () => {
    const port = Number(new URL(baseUrl).port);
    const before = requests;
    expect((await send({ hosts: ["127.0.0.1"] })).status).toBe(200);
    expect((await send({ hosts: [`127.0.0.1:${port}`] })).status).toBe(200);
    expect((await send(undefined)).status).toBe(200);
    expect((await send(ALLOW_ALL)).status).toBe(200);
    expect(requests).toBe(before + 4);
    const wrongPort = await send({ hosts: [`127.0.0.1:${port === 1 ? 2 : port - 1}`] }).catch((e: unknown) => e);
    expect(wrongPort).toBeInstanceOf(EgressDeniedError);
  });
});

describe("egressPolicy rules", () => {
  const allows = (hosts: string[], url: string, httpsOnly = false) => egressPolicy({ hosts, httpsOnly }).allows(new URL(url));
  it("matches exact names case-insensitively and with a trailing dot", () => {
    expect(allows(["API.datadoghq.com."], "https://api.datadoghq.com/x")).toBe(true);
    expect(allows(["api.datadoghq.com"], "https://API.DATADOGHQ.COM./x")).toBe(true);
    expect(allows(["api.datadoghq.com"], "https://evil-api.datadoghq.com/x")).toBe(false);
    expect(allows(["api.datadoghq.com"], "https://api.datadoghq.com.evil.io/x")).toBe(false);
  });
  it("a wildcard allows names below the suffix only", () => {
    expect(allows(["*.datadoghq.com"], "https://us5.datadoghq.com")).toBe(true);
    expect(allows(["*.datadoghq.com"], "https://datadoghq.com")).toBe(false);
    expect(allows(["*.datadoghq.com"], "https://xdatadoghq.com")).toBe(false);
  });
  it("ports: a rule with a port allows that port only; the scheme's default port counts", () => {
    expect(allows(["api.example.com:443"], "https://api.example.com/")).toBe(true);
    expect(allows(["api.example.com:443"], "https://api.example.com:8443/")).toBe(false);
    expect(allows(["[::1]:8080"], "http://[::1]:8080/")).toBe(true);
  });
  it("https-only refuses http; other schemes are never allowed", () => {
    expect(allows(["api.example.com"], "http://api.example.com/", true)).toBe(false);
    expect(allows(["api.example.com"], "https://api.example.com/", true)).toBe(true);
    expect(allows(["api.example.com"], "ftp://api.example.com/")).toBe(false);
  });
  it("an empty list allows nothing; bad entries are named", () => {
    expect(allows([], "https://api.example.com")).toBe(false);
    expect(() => egressPolicy({ hosts: ["https://api.example.com"] })).toThrow(/not a host name/);
    expect(() => egressPolicy({ hosts: ["a.*.com"] })).toThrow(/a\.\*\.com/);
    expect(() => egressPolicy({ hosts: ["api.example.com:http"] })).toThrow(/port/);
    expect(() => egressPolicy({ hosts: ["*.127.0.0.1"] })).toThrow(/wildcard/);
    expect(() => egressPolicy({ hosts: Array.from({ length: 2000 }, (_, i) => `h${i}.example.com`) })).toThrow(/at most/);
  });
  it("checkEgress throws the named refusal", () => {
    expect(() => checkEgress(DENY_ALL, new URL("https://api.datadoghq.com"), "GetUser")).toThrow(
      /^GetUser: egress to https:\/\/api\.datadoghq\.com is not allowed by the egress policy/,
    );
    expect(() => checkEgress(ALLOW_ALL, new URL("https://api.datadoghq.com"))).not.toThrow();
  });
});
