/**
 * The Datadog CLI's settings for issue 12: --http-timeout (parsed, validated, and reaching the delegated-auth
 * token exchange as well as the API client), the key-shape warning that never shows a key, and where demo writes.
 */
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Code, ConnectorError } from "../../src/connector/errors.ts";
import { resolveConfig } from "../../src/config/index.ts";
import { AwsCredentialSource } from "../../connectors/datadog/auth/aws-credentials.ts";
import { createCredentialProvider, DelegatedTokenProvider } from "../../connectors/datadog/auth/index.ts";
import { buildDatadog, httpTimeoutMs } from "../../connectors/datadog/build.ts";
import { datadogConfig, keyShapeWarnings } from "../../connectors/datadog/config.ts";
import { demoTarget } from "../../connectors/datadog/demo.ts";
import { durationProblem, parseDurationMs } from "../../connectors/datadog/duration.ts";
import { createLogger } from "../../src/log/index.ts";
import { startHttpServer, type TestServer } from "../http/servers.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe("--http-timeout", () => {
  it("takes Go-style durations or plain seconds", () => {
    expect(parseDurationMs("30s")).toBe(30_000);
    expect(parseDurationMs("2m")).toBe(120_000);
    expect(parseDurationMs("1m30s")).toBe(90_000);
    expect(parseDurationMs("500ms")).toBe(500);
    expect(parseDurationMs("45")).toBe(45_000);
    expect(parseDurationMs("1.5")).toBe(1500);
    for (const bad of ["", "soon", "30 s", "-5s", "5d", "s"]) expect(parseDurationMs(bad), bad).toBeUndefined();
    expect(durationProblem("10ms")).toBe("must be between 100ms and 1h");
    expect(durationProblem("2h")).toBe("must be between 100ms and 1h");
    expect(durationProblem("60s")).toBeUndefined();
  });

  it("is read from BATON_HTTP_TIMEOUT, defaults to 60 s, and a bad value names the flag and the env var", () => {
    // One-letter keys: registered as secrets by resolveConfig, they must not eat "a" out of the message.
    const base = { apiKey: "k", appKey: "q" };
    expect(httpTimeoutMs(resolveConfig(datadogConfig, { flags: base }).values)).toBe(60_000);
    expect(httpTimeoutMs(resolveConfig(datadogConfig, { flags: base, env: { BATON_HTTP_TIMEOUT: "2m" } }).values)).toBe(120_000);
    expect(() => resolveConfig(datadogConfig, { flags: base, env: { BATON_HTTP_TIMEOUT: "soon" } })).toThrow(
      /--http-timeout \/ BATON_HTTP_TIMEOUT: must be a duration such as 30s, 2m or 1m30s, or a number of seconds/,
    );
  });

  it("bounds the delegated-auth token exchange too", async () => {
    // A token endpoint that accepts the connection and never answers.
    const hang: TestServer = await startHttpServer(() => new Promise(() => {}));
    cleanups.push(hang.close);
    const provider = createCredentialProvider(
      { delegatedAuthOrgUuid: "00000000-0000-4000-8000-000000000000", delegatedAuthProvider: "aws" },
      {
        apiBaseUrl: hang.url,
        explicitBaseUrl: hang.url,
        httpTimeoutMs: 1000,
        aws: new AwsCredentialSource({
          provider: async () => ({ accessKeyId: "AKIAEXAMPLEEXAMPLE00", secretAccessKey: "example-secret-access-key-0000000000000000" }),
        }),
      },
    );
    expect(provider).toBeInstanceOf(DelegatedTokenProvider);
    cleanups.push(() => (provider as DelegatedTokenProvider).close());
    const err = await (provider as DelegatedTokenProvider).start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe(Code.DEADLINE_EXCEEDED);
    expect((err as Error).message).toMatch(/token exchange at http:\/\/127\.0\.0\.1:\d+\/api\/v2\/delegated-token did not answer within 1 s/);
  });
});

describe("key shapes", () => {
  it("warns about keys that cannot be Datadog's, without showing them", () => {
    expect(keyShapeWarnings({ apiKey: "0123456789abcdef0123456789ABCDEF", appKey: "0123456789abcdef0123456789abcdef01234567" })).toEqual([]);
    expect(keyShapeWarnings({ apiKey: undefined, appKey: undefined })).toEqual([]);
    const warnings = keyShapeWarnings({ apiKey: "x", appKey: "0123456789abcdef0123456789abcdef" });
    expect(warnings).toEqual([
      expect.stringMatching(/^--api-key \/ BATON_API_KEY: the configured key \(not shown\) is 1 character long and not 32 hexadecimal characters/),
      expect.stringMatching(/^--app-key \/ BATON_APP_KEY: the configured key \(not shown\) is 32 characters long and not 40 hexadecimal characters/),
    ]);
    for (const w of warnings) expect(w).not.toContain("0123456789abcdef");
  });

  it("buildDatadog logs the warning (a warning, not an error: the connector is built)", async () => {
    const lines: { level: string; msg: string }[] = [];
    const logger = createLogger({ format: "json", destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
    const config = datadogConfig.schema.parse({
      apiKey: "short",
      appKey: "also-short",
      site: "US1",
      delegatedAuthProvider: "aws",
      syncSchedules: false,
      syncSecrets: false,
    });
    const built = await buildDatadog(config, logger);
    cleanups.push(() => built.close());
    expect(lines.filter((l) => l.level === "warn").map((l) => l.msg)).toEqual([
      expect.stringMatching(/^--api-key \/ BATON_API_KEY: the configured key \(not shown\) is 5 characters long/),
      expect.stringMatching(/^--app-key \/ BATON_APP_KEY: the configured key \(not shown\) is 10 characters long/),
    ]);
  });
});

describe("demo's file", () => {
  it("is demo.c1z instead of the SDK's sync.c1z, and any other --file as given", () => {
    expect(demoTarget(resolve("/w", "sync.c1z"), "/w")).toBe(resolve("/w", "demo.c1z"));
    expect(demoTarget("/w/mine.c1z", "/w")).toBe("/w/mine.c1z");
    expect(demoTarget("/elsewhere/sync.c1z", "/w")).toBe("/elsewhere/sync.c1z");
  });
});
