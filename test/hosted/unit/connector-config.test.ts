import { describe, expect, it } from "vitest";
import { defineConfig, field } from "../../../src/config/index.ts";
import { HostedConfigError, parseConfigPlaintext, generationLabel, rfc3339Nano } from "../../../src/hosted/config-fetch.ts";
import { connectorConfigFrom } from "../../../src/hosted/connector-config.ts";
import { effectiveLogLevel } from "../../../src/hosted/log-level.ts";
import { datadogConfig } from "../../../connectors/datadog/config.ts";

const config = defineConfig({
  apiKey: field.string({ description: "key", secret: true, required: true }),
  site: field.enum({ description: "site", values: ["US1", "EU1"], default: "US1" }),
  pageSize: field.int({ description: "page", default: 100, min: 1, max: 1000 }),
  syncGroups: field.bool({ description: "groups" }),
  labels: field.string({ description: "labels map" }),
});
const base = { env: {}, logLevel: { level: "info" as const, debugExpiresAt: undefined } };
const failure = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HostedConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a HostedConfigError");
};

describe("plaintext config → connector config", () => {
  it("coerces the platform's JSON (numbers as floats, strings for bools) and takes the SDK keys out", () => {
    const r = connectorConfigFrom(config, {
      "api-key": "k-1234567890",
      site: "EU1",
      "page-size": 250,
      "sync-groups": "true",
      labels: { team: "a" },
      provisioning: true,
      "log-level": "debug",
      "log-level-debug-expires-at": "2030-01-01T00:00:00Z",
      "auth-method": "api-key",
      "something-else": 1,
    }, base);
    expect(r.config).toEqual({ apiKey: "k-1234567890", site: "EU1", pageSize: 250, syncGroups: true, labels: '{"team":"a"}' });
    expect(r.provisioning).toBe(true);
    expect(r.logLevel.level).toBe("debug");
    expect(r.ignoredKeys).toEqual(["something-else"]);
  });

  it("names the field that fails validation, with the platform as its source, and never the secret", () => {
    expect(failure(() => connectorConfigFrom(config, { site: "EU1" }, base))).toMatch(/failed to validate config: "api-key" is required/);
    const bad = failure(() => connectorConfigFrom(config, { "api-key": "k-1234567890", site: "MARS", "page-size": 0.5 }, base));
    expect(bad).toMatch(/"site" must be one of: US1, EU1 \(got "MARS" from the platform's config\)/);
    expect(bad).toMatch(/"page-size" expected an integer/);
    expect(bad).not.toContain("k-1234567890");
    expect(failure(() => connectorConfigFrom(config, { "api-key": "k", provisioning: "maybe" }, base))).toMatch(/"provisioning" must be true or false/);
    expect(failure(() => connectorConfigFrom(config, { "api-key": "k", "log-level": "loud" }, base))).toMatch(/failed to apply log level/);
  });

  it("lays the config over the function's own BATON_* settings", () => {
    const r = connectorConfigFrom<{ site: string }>(config, { "api-key": "k-1234567890" }, { ...base, env: { BATON_SITE: "EU1", BATON_PROVISIONING: "true" } });
    expect(r.config.site).toBe("EU1");
    expect(r.provisioning).toBe(true);
    const over = connectorConfigFrom<{ site: string }>(config, { "api-key": "k-1234567890", site: "US1", provisioning: false }, { ...base, env: { BATON_SITE: "EU1", BATON_PROVISIONING: "true" } });
    expect(over.config.site).toBe("US1");
    expect(over.provisioning).toBe(false);
  });

  it("validates the Datadog connector's own fields and constraints (the ones config_schema.json describes)", () => {
    const ok = connectorConfigFrom(datadogConfig, { "api-key": "a".repeat(32), "app-key": "b".repeat(40), site: "EU1" }, base);
    expect(ok.config).toMatchObject({ site: "EU1" });
    expect(failure(() => connectorConfigFrom(datadogConfig, { "api-key": "a".repeat(32) }, base))).toMatch(/failed to validate config: "api-key" also needs "app-key"/);
  });

  it("refuses plaintext that is not a JSON object, describing it without quoting it", () => {
    expect(failure(() => parseConfigPlaintext(Buffer.from("[1,2]")))).toMatch(/is an array, not a JSON object/);
    const msg = failure(() => parseConfigPlaintext(Buffer.from('{"api-key": "sekrit-value"')));
    expect(msg).toMatch(/is not UTF-8 JSON/);
    expect(msg).not.toContain("sekrit");
  });

  it("labels a generation by served version, else requested, else last_updated when the server has no versions", () => {
    const ts = { seconds: 1767323045n, nanos: 120_000_000 } as never;
    expect(generationLabel("cv-2", "cv-1", ts)).toBe("cv-2");
    expect(generationLabel("", "cv-1", ts)).toBe("cv-1");
    expect(generationLabel(undefined, "", ts)).toBe("2026-01-02T03:04:05.12Z");
    expect(generationLabel("", "", ts)).toBe("");
    expect(rfc3339Nano({ seconds: 1767323045n, nanos: 0 } as never)).toBe("2026-01-02T03:04:05Z");
  });

  it("debug lapses to info after its expiry", () => {
    const at = new Date("2030-01-01T00:00:00Z");
    expect(effectiveLogLevel({ level: "debug", debugExpiresAt: at }, at.getTime() - 1)).toBe("debug");
    expect(effectiveLogLevel({ level: "debug", debugExpiresAt: at }, at.getTime() + 1)).toBe("info");
    expect(effectiveLogLevel({ level: "warn", debugExpiresAt: at }, at.getTime() + 1)).toBe("warn");
  });
});
