import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { tempDirs } from "../helpers/temp-dir.ts";
import {
  ConfigError,
  defineConfig,
  envName,
  field,
  flagName,
  kebabName,
  loadConfigFile,
  mergeConfigs,
  resolveConfig,
  sdkConfig,
  type ConfigOf,
} from "../../src/config/index.ts";
import { clearSecretsForTests, redactText } from "../../src/log/index.ts";

const def = defineConfig(
  {
    apiKey: field.string({ description: "API key", secret: true, required: true }),
    site: field.enum({ description: "Site", values: ["US1", "EU1", "AP1"], default: "US1" }),
    baseUrl: field.string({ description: "Base URL", schema: z.url({ error: "must be a URL" }) }),
    syncSchedules: field.bool({ description: "Sync schedules" }),
    pageSize: field.int({ description: "Page size", default: 100, min: 1, max: 1000 }),
    tags: field.stringList({ description: "Tags" }),
    token: field.string({ description: "A token", secret: true, schema: z.string().regex(/^tok_/, "must start with tok_") }),
  },
  { constraints: [{ kind: "requiredTogether", fields: ["baseUrl", "token"] }] },
);
type Config = ConfigOf<typeof def>;

const tempDir = tempDirs();
let dir: string;
beforeEach(() => {
  dir = tempDir("config-test-");
  clearSecretsForTests();
});
afterEach(() => {
  clearSecretsForTests();
});

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("names", () => {
  it("derives flag, env and kebab names from camelCase keys", () => {
    expect(kebabName("apiKey")).toBe("api-key");
    expect(kebabName("delegatedAuthOrgUuid")).toBe("delegated-auth-org-uuid");
    expect(kebabName("baseURL")).toBe("base-url");
    expect(flagName("syncSchedules")).toBe("--sync-schedules");
    expect(envName("healthCheckBindAddress")).toBe("BATON_HEALTH_CHECK_BIND_ADDRESS");
  });
});

describe("precedence: flags > env > YAML > default", () => {
  const yaml = (text: string) => {
    writeFileSync(join(dir, ".baton.yaml"), text);
    return loadConfigFile({}, dir);
  };

  it("uses the default when nothing sets a field", () => {
    const { values, origins } = resolveConfig(def, { flags: { apiKey: "k-123456" } });
    expect(values.site).toBe("US1");
    expect(values.pageSize).toBe(100);
    expect(values.syncSchedules).toBe(false);
    expect(values.tags).toEqual([]);
    expect(values.baseUrl).toBeUndefined();
    expect(origins.site).toBe("default");
  });

  it("YAML beats the default, env beats YAML, flags beat env", () => {
    const file = yaml("api-key: yaml-key-1\nsite: AP1\npage-size: 50\nsync-schedules: true\ntags: [a, b]\n");
    const env = { BATON_SITE: "EU1", BATON_PAGE_SIZE: "70" };
    const flags = { pageSize: "90" };
    const { values, origins } = resolveConfig(def, { flags, env, file });
    expect(values).toMatchObject({ apiKey: "yaml-key-1", site: "EU1", pageSize: 90, syncSchedules: true, tags: ["a", "b"] });
    expect(origins).toMatchObject({ apiKey: "file", site: "env", pageSize: "flag", syncSchedules: "file" });

    const envOnly = resolveConfig(def, { env, file }).values;
    expect(envOnly.pageSize).toBe(70);
    const fileOnly = resolveConfig(def, { file }).values;
    expect(fileOnly.site).toBe("AP1");
    expect(fileOnly.pageSize).toBe(50);
  });

  it("a bool flag set to false beats a true env var", () => {
    const { values } = resolveConfig(def, { flags: { apiKey: "k-123456", syncSchedules: "false" }, env: { BATON_SYNC_SCHEDULES: "true" } });
    expect(values.syncSchedules).toBe(false);
  });

  it("an empty env var counts as unset (as in viper)", () => {
    const file = yaml("api-key: from-yaml-99\nsite: AP1\n");
    const { values } = resolveConfig(def, { env: { BATON_SITE: "" }, file });
    expect(values.site).toBe("AP1");
  });

  it("accepts snake_case YAML keys and BATON_CONFIG_PATH", () => {
    const path = join(dir, "other.yaml");
    writeFileSync(path, "api_key: snake-key-1\npage_size: 10\n");
    const file = loadConfigFile({ BATON_CONFIG_PATH: path }, "/");
    expect(file?.path).toBe(path);
    expect(resolveConfig(def, { file }).values).toMatchObject({ apiKey: "snake-key-1", pageSize: 10 });
  });

  it("overrides beat flags", () => {
    const { values } = resolveConfig(def, { flags: { apiKey: "flag-key-1" }, overrides: { apiKey: "override-key" } });
    expect(values.apiKey).toBe("override-key");
  });

  it("coerces env strings: bool words, ints, comma lists", () => {
    const env = { BATON_API_KEY: "k-123456", BATON_SYNC_SCHEDULES: "YES", BATON_PAGE_SIZE: " 42 ", BATON_TAGS: "x, y,,z" };
    const values: Config = resolveConfig(def, { env }).values;
    expect(values.syncSchedules).toBe(true);
    expect(values.pageSize).toBe(42);
    expect(values.tags).toEqual(["x", "y", "z"]);
  });

  it("repeated list flags accumulate", () => {
    const { values } = resolveConfig(def, { flags: { apiKey: "k-123456", tags: ["a", "b,c"] } });
    expect(values.tags).toEqual(["a", "b", "c"]);
  });
});

describe("the config file", () => {
  it("is optional in the working directory", () => {
    expect(loadConfigFile({}, dir)).toBeUndefined();
  });

  it("must exist when BATON_CONFIG_PATH names it", () => {
    const err = configError(() => loadConfigFile({ BATON_CONFIG_PATH: join(dir, "missing.yaml") }, dir));
    expect(err.message).toContain("BATON_CONFIG_PATH");
    expect(err.message).toContain("missing.yaml");
  });

  it("reports unknown keys with a suggestion", () => {
    writeFileSync(join(dir, ".baton.yaml"), "api-key: k-123456\npage-sise: 3\n");
    const err = configError(() => resolveConfig(def, { file: loadConfigFile({}, dir) }));
    expect(err.message).toContain('unknown key "page-sise"');
    expect(err.message).toContain("did you mean page-size?");
  });

  it("reports a parse error by position without quoting the file", () => {
    writeFileSync(join(dir, ".baton.yaml"), "api-key: hunter2-secret\nsite: [unclosed\n");
    const err = configError(() => loadConfigFile({}, dir));
    expect(err.message).toMatch(/invalid YAML at line \d+, column \d+/);
    expect(err.message).not.toContain("hunter2");
  });

  it("must be a mapping", () => {
    writeFileSync(join(dir, ".baton.yaml"), "- a\n- b\n");
    expect(configError(() => loadConfigFile({}, dir)).message).toContain("must be a mapping");
  });
});

describe("validation", () => {
  it("names the flag and the env var of a missing required secret, without any value", () => {
    const err = configError(() => resolveConfig(def, { env: { BATON_SITE: "EU1" } }));
    expect(err.message).toBe("--api-key / BATON_API_KEY: is required");
    expect(err.issues[0]?.key).toBe("apiKey");
  });

  it("never prints a secret's value, even when its refinement fails", () => {
    const secret = "bad-token-value-7781";
    const err = configError(() => resolveConfig(def, { flags: { apiKey: "k-123456", token: secret, baseUrl: "https://x.test" } }));
    expect(err.message).toContain("--token / BATON_TOKEN: must start with tok_");
    expect(err.message).not.toContain(secret);
    // and it is registered for redaction everywhere from now on
    expect(redactText(`x ${secret} y`)).toBe("x [REDACTED] y");
  });

  it("registers secrets from every source before validating", () => {
    resolveConfig(def, { flags: { apiKey: "flag-secret-1" }, env: { BATON_API_KEY: "env-secret-2" } });
    expect(redactText("flag-secret-1 env-secret-2")).toBe("[REDACTED] [REDACTED]");
  });

  it("echoes non-secret bad values and says where they came from", () => {
    const err = configError(() => resolveConfig(def, { flags: { apiKey: "k-123456", site: "MARS" }, env: { BATON_PAGE_SIZE: "lots" } }));
    expect(err.message).toContain('--site / BATON_SITE: must be one of: US1, EU1, AP1 (got "MARS" from --site)');
    expect(err.message).toContain('--page-size / BATON_PAGE_SIZE: expected an integer (got "lots" from BATON_PAGE_SIZE)');
  });

  it("checks int bounds and bool words", () => {
    expect(configError(() => resolveConfig(def, { flags: { apiKey: "k-123456", pageSize: "5000" } })).message).toContain("must be at most 1000");
    expect(configError(() => resolveConfig(def, { flags: { apiKey: "k-123456" }, env: { BATON_SYNC_SCHEDULES: "maybe" } })).message).toContain(
      "--sync-schedules / BATON_SYNC_SCHEDULES: expected true or false",
    );
  });

  it("enforces constraints and names both sides", () => {
    const err = configError(() => resolveConfig(def, { flags: { apiKey: "k-123456", baseUrl: "https://api.example.test" } }));
    expect(err.message).toBe("--base-url / BATON_BASE_URL also needs --token / BATON_TOKEN");
  });

  it("lenient mode skips required fields and constraints but still checks values", () => {
    expect(resolveConfig(def, {}, { lenient: true }).values.apiKey).toBeUndefined();
    expect(() => resolveConfig(def, { flags: { site: "nope" } }, { lenient: true })).toThrow(ConfigError);
  });

  it("`only` resolves a subset and leaves the rest alone", () => {
    const { values } = resolveConfig(def, { flags: { site: "EU1" } }, { only: (key) => key === "site" });
    expect(values).toEqual({ site: "EU1" });
  });

  it("reports every problem in one line", () => {
    const err = configError(() => resolveConfig(def, { flags: { site: "x", pageSize: "0" } }));
    expect(err.message.split("\n")).toHaveLength(1);
    expect(err.issues.map((i) => i.key)).toEqual(["apiKey", "site", "pageSize"]);
  });
});

describe("defineConfig", () => {
  it("gives a zod schema whose inferred type is the config", () => {
    const parsed: z.infer<typeof def.schema> = def.schema.parse({
      apiKey: "k",
      site: "EU1",
      syncSchedules: false,
      pageSize: 3,
      tags: [],
    });
    expect(parsed.site).toBe("EU1");
  });

  it("rejects clashing names and unknown constraint keys", () => {
    expect(() => defineConfig({ apiKey: field.bool({ description: "a", short: "a" }), appKey: field.bool({ description: "b", short: "a" }) })).toThrow(
      /both use -a/,
    );
    expect(() => defineConfig({ a: field.bool({ description: "a" }) }, { constraints: [{ kind: "atLeastOne", fields: ["b" as "a"] }] })).toThrow(
      /unknown config key b/,
    );
    expect(() => mergeConfigs(sdkConfig, defineConfig({ file: field.string({ description: "x" }) }))).toThrow(/already declared by the SDK/);
  });
});
