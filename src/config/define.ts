/**
 * `defineConfig` turns a map of field declarations into a config definition: the fields, their cross-field
 * constraints, and a zod object schema whose `z.infer` is the type of the resolved config.
 */
import { z } from "zod";
import type { FieldDecl, FieldMap, ValuesOf } from "./fields.ts";
import { envName, flagName, kebabName } from "./names.ts";

/**
 * Cross-field rules, exported in the schema as c1.config.v1.Constraint:
 * - requiredTogether: if one is set, all must be;
 * - atLeastOne: one or more must be set;
 * - mutuallyExclusive: at most one may be set;
 * - dependentOn: if any of `fields` is set, all of `dependsOn` must be.
 */
export type ConstraintDecl<K extends string = string> =
  | { kind: "requiredTogether" | "atLeastOne" | "mutuallyExclusive"; fields: readonly K[]; helpText?: string }
  | { kind: "dependentOn"; fields: readonly K[]; dependsOn: readonly K[]; helpText?: string };

/** What code that reads any definition needs (every ConfigDefinition is one). */
export interface ConfigFields {
  readonly fields: FieldMap;
  readonly constraints: readonly ConstraintDecl[];
}

export interface ConfigDefinition<F extends FieldMap = FieldMap> {
  readonly fields: F;
  readonly constraints: readonly ConstraintDecl<keyof F & string>[];
  /** The zod schema of the resolved values: `z.infer<typeof def.schema>` is the config type. */
  readonly schema: z.ZodType<ValuesOf<F>>;
}

/** The resolved config type of a definition or a field map. */
export type ConfigOf<D> = D extends ConfigDefinition<infer F> ? ValuesOf<F> : D extends FieldMap ? ValuesOf<D> : never;

export interface DefineConfigOptions<K extends string> {
  constraints?: readonly ConstraintDecl<K>[];
}

/**
 * Declares a connector's (or the SDK's) config:
 *
 *     export const config = defineConfig({
 *       apiKey: field.string({ description: "Datadog API key", secret: true, required: true }),
 *       site: field.string({ description: "Datadog site", default: "US1" }),
 *       syncSchedules: field.bool({ description: "Sync on-call schedules" }),
 *     });
 *     export type Config = ConfigOf<typeof config>; // { apiKey: string; site: string; syncSchedules: boolean }
 */
export function defineConfig<const F extends FieldMap>(
  fields: F,
  options: DefineConfigOptions<keyof F & string> = {},
): ConfigDefinition<F> {
  const byFlag = new Map<string, string>();
  const byShort = new Map<string, string>();
  for (const [key, decl] of Object.entries(fields)) {
    if (!/^[a-z][a-zA-Z0-9]*$/.test(key)) throw new Error(`config key ${JSON.stringify(key)} must be camelCase`);
    const flag = kebabName(key);
    const clash = byFlag.get(flag);
    if (clash !== undefined) throw new Error(`config keys ${clash} and ${key} both map to ${flagName(key)}`);
    byFlag.set(flag, key);
    if (decl.short !== undefined) {
      const other = byShort.get(decl.short);
      if (other !== undefined) throw new Error(`config keys ${other} and ${key} both use -${decl.short}`);
      byShort.set(decl.short, key);
    }
  }
  const constraints = options.constraints ?? [];
  for (const c of constraints) {
    const names = c.kind === "dependentOn" ? [...c.fields, ...c.dependsOn] : c.fields;
    for (const name of names) {
      if (!(name in fields)) throw new Error(`constraint ${c.kind} names unknown config key ${name}`);
    }
  }
  const shape: Record<string, z.ZodType> = {};
  for (const [key, decl] of Object.entries(fields)) shape[key] = decl.schema;
  return {
    fields,
    constraints,
    schema: z.object(shape) as unknown as z.ZodType<ValuesOf<F>>,
  };
}

/**
 * Merges the SDK's definition with a connector's. Names must not collide: a connector cannot redefine
 * `--file` or `-p`. The connector's fields keep their own marks (they are the ones `config` exports).
 */
export function mergeConfigs<A extends FieldMap, B extends FieldMap>(
  a: ConfigDefinition<A>,
  b: ConfigDefinition<B>,
): ConfigDefinition<A & B> {
  for (const key of Object.keys(b.fields)) {
    if (key in a.fields) throw new Error(`config key ${key} (${flagName(key)} / ${envName(key)}) is already declared by the SDK`);
  }
  const fields = { ...a.fields, ...b.fields } as A & B;
  return defineConfig(fields, {
    constraints: [...a.constraints, ...b.constraints] as ConstraintDecl<keyof (A & B) & string>[],
  }) as ConfigDefinition<A & B>;
}

/** The field declaration behind a key; throws for keys the definition does not have. */
export function fieldOf(def: ConfigFields, key: string): FieldDecl {
  const decl = def.fields[key];
  if (decl === undefined) throw new Error(`unknown config key ${key}`);
  return decl;
}
