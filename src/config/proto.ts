/**
 * The connector's settings as c1.config.v1.Configuration: what the `config` subcommand prints and what the
 * platform's no-code UI renders. Only the connector's own, visible fields are exported (never the SDK's).
 */
import { create, toJson, type JsonValue } from "@bufbuild/protobuf";
import {
  ConfigurationSchema,
  ConstraintKind,
  ConstraintSchema,
  FieldSchema,
  StringFieldOptionSchema,
  type Configuration,
  type Constraint,
  type Field,
} from "../gen/c1/config/v1/config_pb.js";
import type { ConfigFields, ConstraintDecl } from "./define.ts";
import type { FieldDecl } from "./fields.ts";
import { kebabName, titleName } from "./names.ts";

export interface ConfigurationMeta {
  displayName?: string;
  helpUrl?: string;
  iconUrl?: string;
}

function exported(decl: FieldDecl): boolean {
  return !decl.sdk && !decl.hidden;
}

function fieldProto(key: string, decl: FieldDecl): Field {
  const base = {
    name: kebabName(key),
    displayName: decl.displayName ?? titleName(key),
    description: decl.description,
    placeholder: decl.placeholder ?? "",
    isRequired: decl.required,
    isOps: decl.ops,
    isSecret: decl.secret,
  };
  switch (decl.kind) {
    case "string":
      return create(FieldSchema, {
        ...base,
        field: {
          case: "stringField",
          value: {
            defaultValue: typeof decl.defaultValue === "string" ? decl.defaultValue : "",
            options: (decl.options ?? []).map((o) => create(StringFieldOptionSchema, { name: o, value: o, displayName: o })),
          },
        },
      });
    case "bool":
      return create(FieldSchema, { ...base, field: { case: "boolField", value: { defaultValue: decl.defaultValue === true } } });
    case "int":
      return create(FieldSchema, {
        ...base,
        field: {
          case: "intField",
          value: { defaultValue: typeof decl.defaultValue === "number" ? BigInt(decl.defaultValue) : 0n },
        },
      });
    case "stringList":
      return create(FieldSchema, {
        ...base,
        field: {
          case: "stringSliceField",
          value: { defaultValue: Array.isArray(decl.defaultValue) ? (decl.defaultValue as string[]) : [] },
        },
      });
  }
}

const constraintKinds: Record<ConstraintDecl["kind"], ConstraintKind> = {
  requiredTogether: ConstraintKind.REQUIRED_TOGETHER,
  atLeastOne: ConstraintKind.AT_LEAST_ONE,
  mutuallyExclusive: ConstraintKind.MUTUALLY_EXCLUSIVE,
  dependentOn: ConstraintKind.DEPENDENT_ON,
};

function constraintProto(c: ConstraintDecl): Constraint {
  return create(ConstraintSchema, {
    kind: constraintKinds[c.kind],
    fieldNames: c.fields.map(kebabName),
    secondaryFieldNames: c.kind === "dependentOn" ? c.dependsOn.map(kebabName) : [],
    helpText: c.helpText ?? "",
  });
}

export function configurationProto(def: ConfigFields, meta: ConfigurationMeta = {}): Configuration {
  const keys = Object.keys(def.fields).filter((key) => exported(def.fields[key]!));
  const visible = new Set(keys);
  return create(ConfigurationSchema, {
    fields: keys.map((key) => fieldProto(key, def.fields[key]!)),
    constraints: def.constraints
      .filter((c) => [...c.fields, ...(c.kind === "dependentOn" ? c.dependsOn : [])].every((k) => visible.has(k)))
      .map(constraintProto),
    displayName: meta.displayName ?? "",
    helpUrl: meta.helpUrl ?? "",
    iconUrl: meta.iconUrl ?? "",
  });
}

/** protojson of the Configuration (camelCase names, defaults omitted, int64 as strings), as Go's protojson prints it. */
export function configurationJson(def: ConfigFields, meta: ConfigurationMeta = {}): JsonValue {
  return toJson(ConfigurationSchema, configurationProto(def, meta));
}
