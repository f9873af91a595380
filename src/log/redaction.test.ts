import { afterEach, describe, expect, it } from "vitest";
import { clearSecretsForTests, containsSecret, createLogger, redactObject, redactText, registerSecret } from "./index.ts";

afterEach(() => clearSecretsForTests());

function capture() {
  const lines: string[] = [];
  return { sink: { write: (s: string) => void lines.push(s) }, text: () => lines.join("") };
}

describe("secret registry", () => {
  it("replaces raw, JSON-escaped and URL-encoded forms", () => {
    registerSecret('p@ss"w/rd 1');
    expect(redactText('a p@ss"w/rd 1 b')).toBe("a [REDACTED] b");
    expect(redactText(JSON.stringify({ v: 'p@ss"w/rd 1' }))).toBe('{"v":"[REDACTED]"}');
    expect(redactText(`q=${encodeURIComponent('p@ss"w/rd 1')}`)).toBe("q=[REDACTED]");
  });

  it("ignores empty values and replaces the longest match first", () => {
    registerSecret("");
    registerSecret(undefined);
    expect(redactText("nothing")).toBe("nothing");
    registerSecret("abcd");
    registerSecret("abcdefgh");
    expect(redactText("xabcdefghx abcd")).toBe("x[REDACTED]x [REDACTED]");
  });

  it("also registers the trimmed value of a pasted secret", () => {
    registerSecret("tok-123456\n");
    expect(redactText("Bearer tok-123456.")).toBe("Bearer [REDACTED].");
  });
});

describe("redactObject", () => {
  it("censors sensitive keys at any depth and scrubs registered values, without touching the input", () => {
    registerSecret("s3cr3t-value");
    const input = { a: { b: { c: { d: { "DD-API-KEY": "zzz", note: "has s3cr3t-value inside", list: ["s3cr3t-value"] } } } }, pageToken: "p1" };
    const out = redactObject(input);
    expect(out.a.b.c.d).toEqual({ "DD-API-KEY": "[REDACTED]", note: "has [REDACTED] inside", list: ["[REDACTED]"] });
    expect(out.pageToken).toBe("p1");
    expect(input.a.b.c.d["DD-API-KEY"]).toBe("zzz");
  });
});

describe("createLogger", () => {
  const configSecret = "cfg-secret-8b1f0c";
  const runtimeSecret = "runtime-token-77aa21";

  for (const format of ["json", "console"] as const) {
    it(`never writes a config secret or a runtime-registered secret (${format})`, () => {
      const out = capture();
      const logger = createLogger({ format, destination: out.sink, secrets: [configSecret], level: "debug" });
      registerSecret(runtimeSecret);
      const err = new Error(`request failed for key ${configSecret}`, { cause: new Error(`token ${runtimeSecret} expired`) });
      Object.assign(err, { request: { headers: { authorization: `Bearer ${runtimeSecret}`, "x-trace": "t1" } } });
      logger.info({ config: { apiKey: configSecret, nested: { deeper: { deepest: { note: `k=${configSecret}` } } } } }, `using ${configSecret}`);
      logger.error(err, "call failed");
      logger.warn({ err, list: [runtimeSecret, { token: "anything" }] }, "again");
      logger.child({ session: runtimeSecret }).debug("child line");
      const text = out.text();
      expect(text).not.toContain(configSecret);
      expect(text).not.toContain(runtimeSecret);
      expect(text).not.toContain("anything");
      expect(text).toContain("[REDACTED]");
      expect(text).toContain("call failed");
      expect(text).toContain("x-trace");
      expect(containsSecret(text)).toBe(false);
    });
  }

  it("writes JSON lines with level names and honours the level", () => {
    const out = capture();
    const logger = createLogger({ format: "json", level: "warn", destination: out.sink });
    logger.info("hidden");
    logger.warn({ n: 1 }, "shown");
    const lines = out.text().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "warn", msg: "shown", n: 1 });
  });

  it("writes human lines in console format", () => {
    const out = capture();
    createLogger({ format: "console", destination: out.sink, colorize: false }).info({ n: 2 }, "hello");
    expect(out.text()).toMatch(/INFO.*hello/);
    expect(out.text()).not.toMatch(/^\{/);
  });
});
