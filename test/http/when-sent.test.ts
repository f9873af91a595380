/**
 * HttpClient.whenRequestSent (src/http/sent.ts): resolves once a request to the client's origin has its headers on
 * the wire, before any answer, or after its deadline; a request to another origin does not end the wait.
 */
import { afterEach, describe, expect, it } from "vitest";
import { HttpClient } from "../../src/index.ts";
import { json, startHttpServer, type TestServer } from "./servers.ts";

const noProxy = { httpProxy: "", httpsProxy: "", noProxy: "" };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A server that answers only when `release()` is called. */
async function heldServer(): Promise<{ server: TestServer; received: () => number; release: () => void }> {
  let received = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const server = await startHttpServer(async (_req, res) => {
    received++;
    await released;
    json(res, 200, { ok: true });
  });
  cleanups.push(() => server.close());
  return { server, received: () => received, release };
}

function clientOf(url: string): HttpClient {
  const client = new HttpClient({ baseUrl: url, proxy: noProxy, maxRetries: 0 });
  cleanups.push(() => client.close());
  return client;
}

describe("whenRequestSent", () => {
  it("resolves when a request's headers are written, before its answer", async () => {
    const held = await heldServer();
    const client = clientOf(held.server.url);
    let answered = false;
    const sent = client.whenRequestSent(30_000);
    const request = client.request({ method: "GET", path: "/slow", operation: "Slow" }).then((r) => ((answered = true), r));
    await sent;
    expect(answered).toBe(false);
    // The request is on its way: the server sees it while its answer is still held.
    await expect.poll(held.received).toBe(1);
    held.release();
    expect((await request).body).toEqual({ ok: true });
  });

  it("ends at its deadline when nothing is sent, and is not ended by a request to another origin", async () => {
    const other = await heldServer();
    const idle = clientOf("http://127.0.0.1:9"); // never asked anything
    const busy = clientOf(other.server.url);
    const started = performance.now();
    const sent = idle.whenRequestSent(300);
    const request = busy.request({ method: "GET", path: "/x", operation: "X" });
    await expect.poll(other.received).toBe(1);
    await sent;
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    other.release();
    await request;
  });
});

describe("whenRequestSent, stopped", () => {
  it("ends at once when its signal aborts, and at once when it was aborted already", async () => {
    const client = clientOf("http://127.0.0.1:9");
    const stop = new AbortController();
    const started = performance.now();
    const waiting = client.whenRequestSent(30_000, stop.signal);
    setTimeout(() => stop.abort(), 20);
    await waiting;
    await client.whenRequestSent(30_000, stop.signal);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
