/**
 * Secret scrubbing matches whole values: a long secret is replaced wherever it appears, also inside a URL, a
 * header or a JSON string; a short one (a placeholder key) only where it stands as a token of its own, so that
 * `--api-key x` does not turn every "x" of every log line into "[REDACTED]".
 */
import { afterEach, describe, expect, it } from "vitest";
import { redactSecrets } from "../http/errors.ts";
import { clearSecretsForTests, containsSecret, createLogger, MIN_SUBSTRING_SECRET_LENGTH, redactText, registerSecret } from "./index.ts";

afterEach(() => clearSecretsForTests());

describe("a short secret", () => {
  it("leaves words that contain it alone", () => {
    registerSecret("x");
    registerSecret("y");
    const line = '{"syncId":"3Mt1og","msg":"expected proxy settings; retrying sync"}';
    expect(redactText(line)).toBe(line);
    expect(containsSecret(line)).toBe(false);
  });

  it("is still replaced where it stands alone: a JSON value, a header, a query parameter, a word", () => {
    registerSecret("x");
    expect(redactText('{"apiKey":"x","n":1}')).toBe('{"apiKey":"[REDACTED]","n":1}');
    expect(redactText("DD-API-KEY: x")).toBe("DD-API-KEY: [REDACTED]");
    expect(redactText("GET /v?api_key=x&y=1")).toBe("GET /v?api_key=[REDACTED]&y=1");
    expect(redactText("key x.")).toBe("key [REDACTED].");
    expect(containsSecret('"x"')).toBe(true);
  });

  it("counts _ and - as part of a word (x-ddog-org-id, sync_id are not a key)", () => {
    registerSecret("id");
    expect(redactText("x-ddog-org-id sync_id id")).toBe("x-ddog-org-id sync_id [REDACTED]");
  });

  it("matches its JSON-escaped and URL-encoded forms as whole tokens too", () => {
    registerSecret('a"b');
    expect(redactText(JSON.stringify({ k: 'a"b' }))).toBe('{"k":"[REDACTED]"}');
    registerSecret("a b");
    expect(redactText("q=a%20b&r=1")).toBe("q=[REDACTED]&r=1");
  });
});

describe("a secret of the minimum length or longer", () => {
  const secret = "0123456789abcdef0123456789abcdef";

  it(`is replaced in any position, also inside a longer token (${MIN_SUBSTRING_SECRET_LENGTH}+ characters)`, () => {
    registerSecret(secret);
    const positions = [
      `https://gw.example.com/${secret}/x`,
      `abc${secret}def`,
      `{"url":"https://h/?k=${secret}"}`,
      `Bearer${secret}`,
      `${secret}${secret}`,
    ];
    for (const text of positions) {
      expect(redactText(text)).not.toContain(secret);
      expect(containsSecret(text)).toBe(true);
    }
    expect(redactText(`abc${secret}def`)).toBe("abc[REDACTED]def");
  });

  it("is exactly the boundary: 8 characters anywhere, 7 only as a token", () => {
    registerSecret("abcdefgh");
    registerSecret("bcdefgh");
    expect(redactText("xabcdefghx")).toBe("x[REDACTED]x");
    expect(redactText("xbcdefghx")).toBe("xbcdefghx");
    expect(redactText("k=bcdefgh")).toBe("k=[REDACTED]");
  });
});

describe("the same rule everywhere", () => {
  it("HTTP error messages (redactSecrets) use it: a short header value does not mangle the message", () => {
    expect(redactSecrets("GET https://proxy.example/x: proxy refused", ["x"])).toBe("GET https://proxy.example/[REDACTED]: proxy refused");
    expect(redactSecrets("expected proxy settings", ["x", "y"])).toBe("expected proxy settings");
    expect(redactSecrets("key=0123456789abcdef0123456789abcdef!", ["0123456789abcdef0123456789abcdef"])).toBe("key=[REDACTED]!");
  });

  it("the logger keeps words intact in both formats with a 1-character config secret", () => {
    for (const format of ["json", "console"] as const) {
      const lines: string[] = [];
      const logger = createLogger({ format, colorize: false, destination: { write: (s: string) => void lines.push(s) }, secrets: ["x"] });
      logger.info({ syncId: "3Mt1", apiKey: "x", note: "x" }, "retrying sync after: expected proxy");
      const text = lines.join("");
      expect(text).toContain("syncId");
      expect(text).toContain("retrying sync after: expected proxy");
      expect(text).not.toMatch(/[A-Za-z]\[REDACTED\]|\[REDACTED\][A-Za-z]/);
      expect(text).not.toMatch(/"x"|: x\b/);
      clearSecretsForTests();
    }
  });
});
