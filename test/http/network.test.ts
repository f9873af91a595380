/** TLS trust and proxies, against real servers on 127.0.0.1. */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HttpClient } from "../../src/http/client.ts";
import { HttpError, HttpErrorCode } from "../../src/http/errors.ts";
import { proxyFor, proxySettingsFromEnv } from "../../src/http/proxy.ts";
import { closedPort, hasOpenssl, json, makeTestPki, startHttpServer, startHttpsServer, startProxy, type TestPki } from "./servers.ts";
import { rejection } from "../helpers/rejection.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const failure = (p: Promise<unknown>) => rejection(p, HttpError);

const opensslMissing = !hasOpenssl();
if (opensslMissing) console.warn("SKIPPING TLS tests: the openssl command-line tool is not installed");

describe.skipIf(opensslMissing)("TLS", () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = makeTestPki();
  });
  afterAll(() => pki?.cleanup());

  it("fails with a TLS error and the NODE_EXTRA_CA_CERTS hint when the CA is not trusted", async () => {
    const s = await startHttpsServer(pki, (_q, r) => json(r, 200, { ok: true }));
    cleanups.push(s.close);
    const c = new HttpClient({ baseUrl: s.url, proxy: { httpProxy: "", httpsProxy: "", noProxy: "" }, maxRetries: 2 });
    cleanups.push(() => c.close());
    const err = await failure(c.request({ method: "GET", path: "/", operation: "Validate" }));
    expect(err.code).toBe(HttpErrorCode.TLS);
    expect(err.message).toContain("not trusted");
    expect(err.message).toContain("NODE_EXTRA_CA_CERTS");
    expect(err.attempts).toBe(1); // a certificate problem is not retried
  });

  it("trusts an extra CA given to the client, in addition to the default store", async () => {
    const s = await startHttpsServer(pki, (_q, r) => json(r, 200, { ok: true }));
    cleanups.push(s.close);
    const c = new HttpClient({ baseUrl: s.url, proxy: { httpProxy: "", httpsProxy: "", noProxy: "" }, extraCaCerts: [pki.caPem] });
    cleanups.push(() => c.close());
    expect((await c.request({ method: "GET", path: "/", operation: "Validate" })).body).toEqual({ ok: true });
  });

  it("trusts NODE_EXTRA_CA_CERTS by default (child process with the variable set)", async () => {
    const s = await startHttpsServer(pki, (_q, r) => json(r, 200, { trusted: true }));
    cleanups.push(s.close);
    const clientModule = fileURLToPath(new URL("../../src/http/client.ts", import.meta.url));
    const script = `
      import { HttpClient } from ${JSON.stringify(clientModule)};
      const c = new HttpClient({ baseUrl: process.argv[1], maxRetries: 0 });
      try { const r = await c.request({ method: "GET", path: "/", operation: "Validate" }); console.log(JSON.stringify(r.body)); }
      catch (e) { console.log("ERR " + e.code + " " + e.message); }
      finally { await c.close(); }`;
    const run = (extra: Record<string, string>) => {
      const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
      delete env.HTTPS_PROXY;
      delete env.https_proxy;
      delete env.HTTP_PROXY;
      delete env.http_proxy;
      // Asynchronously: the server lives in this process's event loop.
      return new Promise<string>((resolve) => {
        execFile(process.execPath, ["--input-type=module", "-e", script, s.url], { env }, (_e, stdout) => resolve(stdout.trim()));
      });
    };
    expect(await run({ NODE_EXTRA_CA_CERTS: pki.caPath })).toBe('{"trusted":true}');
    const without = await run({ NODE_EXTRA_CA_CERTS: "" });
    expect(without).toMatch(/^ERR TLS /);
  });

  it("reaches an https server through a CONNECT proxy from HTTPS_PROXY", async () => {
    const s = await startHttpsServer(pki, (_q, r) => json(r, 200, { via: "tunnel" }));
    const proxy = await startProxy();
    cleanups.push(s.close, proxy.close);
    const c = new HttpClient({
      baseUrl: s.url,
      proxy: proxySettingsFromEnv({ HTTPS_PROXY: proxy.url }),
      extraCaCerts: [pki.caPem],
    });
    cleanups.push(() => c.close());
    expect(c.proxy).toBe(proxy.url);
    expect((await c.request({ method: "GET", path: "/x", operation: "GetX" })).body).toEqual({ via: "tunnel" });
    expect(proxy.tunnels()).toBe(1);
  });

  it("reports a proxy that refuses the tunnel as a PROXY error", async () => {
    const s = await startHttpsServer(pki, (_q, r) => json(r, 200, {}));
    const proxy = await startProxy({ refuseConnect: 403 });
    cleanups.push(s.close, proxy.close);
    const c = new HttpClient({ baseUrl: s.url, proxy: proxySettingsFromEnv({ HTTPS_PROXY: proxy.url }), extraCaCerts: [pki.caPem], maxRetries: 0 });
    cleanups.push(() => c.close());
    const err = await failure(c.request({ method: "GET", path: "/x", operation: "GetX" }));
    expect(err.code).toBe(HttpErrorCode.PROXY);
    expect(err.message).toContain("403");
    expect(err.message).toContain(proxy.url);
  });
});

describe("proxy from the environment", () => {
  it("sends http requests through HTTP_PROXY taken from process.env, and bypasses it for NO_PROXY hosts", async () => {
    const s = await startHttpServer((req, r) => json(r, 200, { path: req.url }));
    const proxy = await startProxy();
    cleanups.push(s.close, proxy.close);
    const saved = { ...process.env };
    cleanups.push(() => {
      for (const k of ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"]) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    });
    for (const k of ["http_proxy", "https_proxy", "no_proxy", "NO_PROXY"]) delete process.env[k];
    process.env.HTTP_PROXY = proxy.url;

    const viaProxy = new HttpClient({ baseUrl: s.url });
    cleanups.push(() => viaProxy.close());
    expect((await viaProxy.request({ method: "GET", path: "/hello", operation: "Hello" })).body).toEqual({ path: "/hello" });
    expect(proxy.forwarded()).toBe(1);

    process.env.NO_PROXY = "localhost,127.0.0.1";
    const direct = new HttpClient({ baseUrl: s.url });
    cleanups.push(() => direct.close());
    await direct.request({ method: "GET", path: "/direct", operation: "Hello" });
    expect(proxy.forwarded()).toBe(1);
    expect(direct.proxy).toBeUndefined();
  });

  it("reports an unreachable proxy as a PROXY error naming it without credentials", async () => {
    const s = await startHttpServer((_q, r) => json(r, 200, {}));
    cleanups.push(s.close);
    const port = await closedPort();
    const c = new HttpClient({
      baseUrl: s.url,
      proxy: proxySettingsFromEnv({ HTTP_PROXY: `http://proxyuser:proxy-pass-SECRET@127.0.0.1:${port}` }),
      maxRetries: 0,
    });
    cleanups.push(() => c.close());
    const err = await failure(c.request({ method: "GET", path: "/x", operation: "GetX" }));
    expect(err.code).toBe(HttpErrorCode.PROXY);
    expect(err.message).toContain(`http://127.0.0.1:${port}`);
    expect(err.message).not.toContain("proxy-pass-SECRET");
  });

  it("applies NO_PROXY rules like undici (suffixes, wildcards, ports)", () => {
    const settings = { httpProxy: "http://p:1", httpsProxy: "http://p:2", noProxy: ".internal.example, *.corp.example, api.example.com:8443, 10.0.0.1" };
    expect(proxyFor(new URL("https://api.datadoghq.com"), settings)).toBe("http://p:2");
    expect(proxyFor(new URL("http://api.datadoghq.com"), settings)).toBe("http://p:1");
    expect(proxyFor(new URL("https://x.internal.example"), settings)).toBeUndefined();
    expect(proxyFor(new URL("https://internal.example"), settings)).toBeUndefined();
    expect(proxyFor(new URL("https://a.corp.example"), settings)).toBeUndefined();
    expect(proxyFor(new URL("https://corp.example"), settings)).toBe("http://p:2");
    expect(proxyFor(new URL("https://api.example.com:8443"), settings)).toBeUndefined();
    expect(proxyFor(new URL("https://api.example.com"), settings)).toBe("http://p:2");
    expect(proxyFor(new URL("http://10.0.0.1:80"), settings)).toBeUndefined();
    expect(proxyFor(new URL("https://x"), { ...settings, noProxy: "*" })).toBeUndefined();
    expect(proxySettingsFromEnv({ HTTP_PROXY: "http://h" }).httpsProxy).toBe("http://h");
    expect(proxySettingsFromEnv({ https_proxy: "http://lower", HTTPS_PROXY: "http://upper" }).httpsProxy).toBe("http://lower");
  });
});
