/**
 * src/http/client.ts loads undici's EnvHttpProxyAgent and its request API from their own files instead of undici's
 * index (77 fewer modules at start-up). Those paths are undici's internal layout: this fails, naming the fix,
 * when an undici upgrade moves them or makes them other functions than the ones the index exports.
 */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);
const FIX = "undici's layout changed: update the paths in src/http/client.ts";

describe("undici's pieces loaded from their own files", () => {
  it("the agent is the very class undici's index exports as EnvHttpProxyAgent", () => {
    const { EnvHttpProxyAgent } = require("undici") as { EnvHttpProxyAgent: unknown };
    expect(require("undici/lib/dispatcher/env-http-proxy-agent.js"), FIX).toBe(EnvHttpProxyAgent);
  });

  it("the request API is the one the index puts on every dispatcher's prototype, and Dispatcher the index's", () => {
    const undici = require("undici") as { Dispatcher: unknown; Agent: { prototype: Record<string, unknown> } };
    expect(require("undici/lib/dispatcher/dispatcher.js"), FIX).toBe(undici.Dispatcher);
    const api = require("undici/lib/api/index.js") as Record<string, unknown>;
    expect(Object.keys(api).sort(), FIX).toEqual(["connect", "pipeline", "request", "stream", "upgrade"]);
    for (const [name, fn] of Object.entries(api)) expect(undici.Agent.prototype[name], `${FIX} (${name})`).toBe(fn);
  });
});
