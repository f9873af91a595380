/**
 * The platform's no-code UI renders the connector from the committed baton_capabilities.json and
 * config_schema.json; they must match what the code says today.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { capabilitiesJson, prettyJson } from "../../src/cli/index.ts";
import { configurationJson } from "../../src/config/index.ts";
import { connectorCapabilities } from "../../src/connector/capabilities.ts";
import { datadogConnectorForCapabilities } from "../../connectors/datadog/build.ts";
import { datadogCli } from "../../connectors/datadog/main.ts";
import { silentLogger } from "../helpers/logger.ts";

const root = new URL("../../", import.meta.url);
const committed = (name: string) => readFileSync(new URL(name, root), "utf8");
const hint = "regenerate with: npx baton-datadog capabilities > baton_capabilities.json && npx baton-datadog config > config_schema.json";

describe("committed connector schemas", () => {
  it("baton_capabilities.json is current", () => {
    const current = prettyJson(capabilitiesJson(connectorCapabilities(datadogConnectorForCapabilities(silentLogger()))));
    expect(committed("baton_capabilities.json").trim(), hint).toBe(current.trim());
  });

  it("config_schema.json is current and holds only the connector's own fields", () => {
    const current = prettyJson(configurationJson(datadogCli.config, datadogCli.configMeta));
    expect(committed("config_schema.json").trim(), hint).toBe(current.trim());
    const names = (JSON.parse(current) as { fields: { name: string }[] }).fields.map((f) => f.name);
    expect(names).toContain("api-key");
    expect(names).not.toContain("client-secret");
    expect(names).not.toContain("file");
  });
});
