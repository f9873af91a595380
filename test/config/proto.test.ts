import { fromJson, toBinary, fromBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { configurationJson, configurationProto, defineConfig, field, mergeConfigs, sdkConfig } from "../../src/config/index.ts";
import { ConfigurationSchema, ConstraintKind } from "../../src/gen/c1/config/v1/config_pb.js";

const connector = defineConfig(
  {
    apiKey: field.string({ description: "Datadog API key", displayName: "API Key", secret: true, required: true }),
    site: field.enum({ description: "Datadog site", values: ["US1", "EU1"], default: "US1" }),
    syncSchedules: field.bool({ description: "Sync on-call schedules" }),
    pageSize: field.int({ description: "Page size", default: 250, ops: true }),
    scopes: field.stringList({ description: "Scopes", default: ["a", "b"] }),
    debugKnob: field.string({ description: "Internal", hidden: true }),
  },
  { constraints: [{ kind: "requiredTogether", fields: ["apiKey", "site"] }, { kind: "atLeastOne", fields: ["debugKnob", "apiKey"] }] },
);

describe("configurationProto", () => {
  it("exports the connector's own visible fields as c1.config.v1 fields", () => {
    const json = configurationJson(connector, { displayName: "Datadog" }) as { fields: Record<string, unknown>[]; displayName: string };
    expect(json.displayName).toBe("Datadog");
    expect(json.fields.map((f) => f.name)).toEqual(["api-key", "site", "sync-schedules", "page-size", "scopes"]);
    expect(json.fields[0]).toEqual({
      name: "api-key",
      displayName: "API Key",
      description: "Datadog API key",
      isRequired: true,
      isSecret: true,
      stringField: {},
    });
    expect(json.fields[1]).toMatchObject({ displayName: "Site", stringField: { defaultValue: "US1" } });
    expect(json.fields[1]).not.toHaveProperty("isSecret");
    expect(json.fields[2]).toMatchObject({ name: "sync-schedules", boolField: {} });
    // int64 defaults are strings in protojson
    expect(json.fields[3]).toMatchObject({ isOps: true, intField: { defaultValue: "250" } });
    expect(json.fields[4]).toMatchObject({ stringSliceField: { defaultValue: ["a", "b"] } });
  });

  it("leaves out SDK fields even when merged, and constraints that name hidden fields", () => {
    const merged = mergeConfigs(sdkConfig, connector);
    const proto = configurationProto(merged);
    const names = proto.fields.map((f) => f.name);
    expect(names).not.toContain("file");
    expect(names).not.toContain("client-secret");
    expect(names).not.toContain("log-level");
    expect(names).toContain("api-key");
    expect(proto.constraints).toHaveLength(1);
    expect(proto.constraints[0]).toMatchObject({ kind: ConstraintKind.REQUIRED_TOGETHER, fieldNames: ["api-key", "site"] });
  });

  it("round-trips through protojson and binary", () => {
    const proto = configurationProto(connector);
    const again = fromJson(ConfigurationSchema, configurationJson(connector));
    expect(fromBinary(ConfigurationSchema, toBinary(ConfigurationSchema, again))).toEqual(proto);
  });
});
