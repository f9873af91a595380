/**
 * The registry is the one list of Datadog resource types: each type's file declares its operations, its
 * diagnosis read and the setting that turns it on, and the connector, the client's operation table and the
 * diagnosis all read them from here. These tests keep the declarations consistent and the import rule that
 * keeps the registry loadable from the client side (see resource-type.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { OPERATIONS } from "../client/operations.ts";
import { StaticKeyProvider } from "../client/credentials.ts";
import { DatadogClient } from "../client/datadog-client.ts";
import { datadogConnector } from "../connector.ts";
import { RESOURCE_TYPES } from "./registry.ts";

const here = import.meta.dirname;
const logger = pino({ level: "silent" });

describe("the resource type registry", () => {
  it("names each type once, and every operation a type declares is in the client's table as declared", () => {
    const ids = RESOURCE_TYPES.map((t) => t.type.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const t of RESOURCE_TYPES) {
      for (const [key, info] of Object.entries(t.operations)) {
        expect(info.id, `${t.type.id}: ${key}`).toBe(key);
        expect(OPERATIONS[key as keyof typeof OPERATIONS], `${t.type.id}: ${key}`).toEqual(info);
      }
    }
  });

  it("a type's diagnosis read is one of its own operations, a GET", () => {
    for (const t of RESOURCE_TYPES) {
      if (!t.diagnose) continue;
      expect(Object.values(t.operations), t.type.id).toContain(t.diagnose.operation);
      expect(t.diagnose.operation.method, t.type.id).toBe("GET");
      if (t.diagnose.after) expect(RESOURCE_TYPES.map((o) => o.type.id)).toContain(t.diagnose.after.type);
    }
  });

  it("the connector syncs the registered types in order, and an optional one that is off names its setting", () => {
    const client = new DatadogClient({ credentials: new StaticKeyProvider("k", "a"), logger });
    const all = datadogConnector({ client, logger, syncSchedules: true, syncSecrets: true, syncSecurityInsights: true });
    expect(all.syncers.map((s) => s.resourceType.id)).toEqual(RESOURCE_TYPES.map((t) => t.type.id));
    const core = datadogConnector({ client, logger, syncSchedules: false, syncSecrets: false });
    expect(core.syncers.map((s) => s.resourceType.id)).toEqual(RESOURCE_TYPES.filter((t) => !t.enabledBy).map((t) => t.type.id));
    expect(core.optionalResourceTypes).toEqual({
      schedule: "--sync-schedules (BATON_SYNC_SCHEDULES=true)",
      "api-key": "--sync-secrets (BATON_SYNC_SECRETS=true)",
      "application-key": "--sync-secrets (BATON_SYNC_SECRETS=true)",
      "security-insight": "--sync-security-insights (BATON_SYNC_SECURITY_INSIGHTS=true)",
    });
  });

  it("types without entitlements or grants write no empty methods (the SDK answers an empty page)", () => {
    const client = new DatadogClient({ credentials: new StaticKeyProvider("k", "a"), logger });
    const byId = new Map(datadogConnector({ client, logger, syncSchedules: true, syncSecrets: true, syncSecurityInsights: true }).syncers.map((s) => [s.resourceType.id, s]));
    for (const id of ["user", "api-key", "application-key", "security-insight"]) {
      expect(byId.get(id)?.entitlements, id).toBeUndefined();
      expect(byId.get(id)?.grants, id).toBeUndefined();
    }
  });

  it("resource files import the client only as types or from its leaf modules (client/operations.ts reads the registry)", () => {
    // A value import of one of these from a type file is an import cycle: registry → type → client → registry.
    const readsRegistry = /^import\s+(?!type\b)[^;]*?from\s+"\.\.\/client\/(index|datadog-client|operations|diagnose|write-permissions)\.ts"/ms;
    const offenders: string[] = [];
    for (const name of readdirSync(here)) {
      if (!name.endsWith(".ts") || name.endsWith(".test.ts")) continue;
      const source = readFileSync(join(here, name), "utf8");
      for (const statement of source.split(/;\s*\n/)) if (readsRegistry.test(statement.trim())) offenders.push(`${name}: ${statement.trim().slice(0, 80)}`);
    }
    expect(offenders).toEqual([]);
  });
});
