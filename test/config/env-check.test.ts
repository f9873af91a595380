import { describe, expect, it } from "vitest";
import { unknownBatonVariables, unknownVariablesWarning } from "../../src/config/env-check.ts";
import { field } from "../../src/config/fields.ts";
import { sdkConfig } from "../../src/config/sdk-fields.ts";
import { datadogConfig } from "../../connectors/datadog/config.ts";

const all = { ...sdkConfig.fields, ...datadogConfig.fields };

describe("unknown BATON_* variables", () => {
  it("every declared field's variable is known, whichever fields are declared (no list to keep up to date)", () => {
    const env = Object.fromEntries(Object.keys(all).map((k) => [`BATON_${k.replace(/([A-Z])/g, "_$1").toUpperCase()}`, "x"]));
    expect(unknownBatonVariables(env, all)).toEqual([]);
    // A field added later (as other flags are being added) is known at once.
    const more = { ...all, syncFutureThing: field.bool({ description: "a flag declared later" }) };
    expect(unknownBatonVariables({ BATON_SYNC_FUTURE_THING: "1" }, more)).toEqual([]);
    expect(unknownBatonVariables({ BATON_SYNC_FUTURE_THING: "1" }, all)).toEqual([{ name: "BATON_SYNC_FUTURE_THING" }]);
  });

  it("names a typo with the closest setting, and never the value", () => {
    const unknown = unknownBatonVariables({ BATON_SYNC_SCHEDULE: "true", BATON_APP_KY: "secret-value-123456", BATON_FOO: "1" }, all);
    expect(unknown).toEqual([
      { name: "BATON_APP_KY", suggestion: "BATON_APP_KEY" },
      { name: "BATON_FOO" },
      { name: "BATON_SYNC_SCHEDULE", suggestion: "BATON_SYNC_SCHEDULES" },
    ]);
    const warning = unknownVariablesWarning(unknown)!;
    expect(warning).toBe(
      "BATON_APP_KY (did you mean BATON_APP_KEY?), BATON_FOO, BATON_SYNC_SCHEDULE (did you mean BATON_SYNC_SCHEDULES?) are not settings of this connector; ignored",
    );
    expect(warning).not.toContain("secret-value");
  });

  it("does not warn about what Go Baton connectors, service mode or other tools read", () => {
    const env = {
      BATON_OTEL_COLLECTOR_ENDPOINT: "x",
      BATON_LAMBDA_CLIENT_ID: "x",
      BATON_LAMBDA_AUTH_JWT_SIGNER: "x",
      BATON_LOG_LEVEL_DEBUG_EXPIRES_AT: "x",
      BATON_SESSION_STORE_MAXIMUM_SIZE: "1",
      BATON_KEEP_SYNC_COUNT: "3",
      BATON_SKIP_CLEANUP: "1",
      BATON_C1_API_HOST: "x",
      BATON_HOST_ID: "x",
      BATON_CONFIG_PATH: "x",
      PATH: "/bin",
      HOME: "/root",
    };
    expect(unknownBatonVariables(env, all)).toEqual([]);
    expect(unknownVariablesWarning([])).toBeUndefined();
  });

  it("names ten at most", () => {
    const env = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`BATON_STRAY_${i}`, "x"]));
    expect(unknownVariablesWarning(unknownBatonVariables(env, all))).toMatch(/ and 15 more are not settings of this connector; ignored$/);
  });
});
