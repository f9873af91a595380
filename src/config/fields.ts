/**
 * One declaration per config field. Flags, env vars, YAML keys, the c1.config.v1 schema, validation and the
 * TypeScript type of the resolved value are all derived from it; nothing about a field is written twice.
 */
import { z } from "zod";

export type FieldKind = "string" | "bool" | "int" | "stringList";

/** What every field kind accepts. */
export interface CommonFieldOptions {
  /** One sentence for `--help` and the platform's settings form. */
  description: string;
  /** Label in the platform's settings form; derived from the key when omitted ("apiKey" → "Api Key"). */
  displayName?: string;
  placeholder?: string;
  /** Never printed, logged or echoed in errors; marked is_secret in the schema. */
  secret?: boolean;
  /** A one-letter alias, e.g. "f" for `-f`. */
  short?: string;
  /** Not shown in `--help` and not exported by `config` (developer knobs). */
  hidden?: boolean;
  /** Marked is_ops in the schema: an operational setting rather than a connection setting. */
  ops?: boolean;
  /** Declared by the SDK itself: accepted everywhere, never exported by `config`. */
  sdk?: boolean;
}

/**
 * A declared field. `T` is the type of the resolved value (it includes `undefined` for optional fields
 * without a default).
 */
export interface FieldDecl<T = unknown> {
  readonly kind: FieldKind;
  readonly description: string;
  readonly displayName: string | undefined;
  readonly placeholder: string | undefined;
  readonly required: boolean;
  /** The value when no source sets the field (bool: false, stringList: [] unless given). */
  readonly defaultValue: T | undefined;
  readonly secret: boolean;
  readonly short: string | undefined;
  readonly hidden: boolean;
  readonly ops: boolean;
  readonly sdk: boolean;
  /** Allowed values of an enum field (also exported as the schema's options). */
  readonly options: readonly string[] | undefined;
  /** The field's full validation: kind, options, required-ness and the author's extra refinement. */
  readonly schema: z.ZodType;
  /** Type carrier only; never set. */
  readonly __value?: T;
}

function common(o: CommonFieldOptions) {
  if (o.short !== undefined && !/^[a-zA-Z]$/.test(o.short)) {
    throw new Error(`short flag must be one letter, got ${JSON.stringify(o.short)}`);
  }
  if (!o.description) throw new Error("every config field needs a description");
  return {
    description: o.description,
    displayName: o.displayName,
    placeholder: o.placeholder,
    secret: o.secret === true,
    short: o.short,
    hidden: o.hidden === true,
    ops: o.ops === true,
    sdk: o.sdk === true,
  };
}

function withExtra(base: z.ZodType, extra: z.ZodType | undefined): z.ZodType {
  return extra === undefined ? base : base.pipe(extra);
}

type StringOptions = CommonFieldOptions & {
  /** An extra zod check on the value, e.g. `z.url()` or `z.string().regex(...)`. */
  schema?: z.ZodType<string, string>;
};

function stringField(o: StringOptions & { required: true }): FieldDecl<string>;
function stringField(o: StringOptions & { default: string; required?: false }): FieldDecl<string>;
function stringField(o: StringOptions & { required?: boolean; default?: undefined }): FieldDecl<string | undefined>;
function stringField(o: StringOptions & { required?: boolean; default?: string }): FieldDecl<string | undefined> {
  const required = o.required === true;
  const base = required ? z.string().min(1, "is required") : z.string();
  const schema = withExtra(base, o.schema);
  return {
    kind: "string",
    ...common(o),
    required,
    defaultValue: o.default,
    options: undefined,
    schema: required || o.default !== undefined ? schema : schema.optional(),
  };
}

type EnumOptions<V extends readonly [string, ...string[]]> = CommonFieldOptions & { values: V };

function enumField<const V extends readonly [string, ...string[]]>(
  o: EnumOptions<V> & { default: V[number]; required?: false },
): FieldDecl<V[number]>;
function enumField<const V extends readonly [string, ...string[]]>(o: EnumOptions<V> & { required: true }): FieldDecl<V[number]>;
function enumField<const V extends readonly [string, ...string[]]>(
  o: EnumOptions<V> & { required?: boolean; default?: undefined },
): FieldDecl<V[number] | undefined>;
function enumField<const V extends readonly [string, ...string[]]>(
  o: EnumOptions<V> & { required?: boolean; default?: V[number] },
): FieldDecl<V[number] | undefined> {
  const required = o.required === true;
  if (o.default !== undefined && !o.values.includes(o.default)) {
    throw new Error(`default ${JSON.stringify(o.default)} is not one of ${o.values.join(", ")}`);
  }
  const schema = z.enum(o.values, { error: () => `must be one of: ${o.values.join(", ")}` });
  return {
    kind: "string",
    ...common(o),
    required,
    defaultValue: o.default,
    options: o.values,
    schema: required || o.default !== undefined ? schema : schema.optional(),
  };
}

type IntOptions = CommonFieldOptions & { min?: number; max?: number; schema?: z.ZodType<number, number> };

function intField(o: IntOptions & { required: true }): FieldDecl<number>;
function intField(o: IntOptions & { default: number; required?: false }): FieldDecl<number>;
function intField(o: IntOptions & { required?: boolean; default?: undefined }): FieldDecl<number | undefined>;
function intField(o: IntOptions & { required?: boolean; default?: number }): FieldDecl<number | undefined> {
  const required = o.required === true;
  let base = z.number().int("must be an integer");
  if (o.min !== undefined) base = base.min(o.min, `must be at least ${o.min}`);
  if (o.max !== undefined) base = base.max(o.max, `must be at most ${o.max}`);
  const schema = withExtra(base, o.schema);
  return {
    kind: "int",
    ...common(o),
    required,
    defaultValue: o.default,
    options: undefined,
    schema: required || o.default !== undefined ? schema : schema.optional(),
  };
}

type BoolOptions = CommonFieldOptions & { default?: boolean };

function boolField(o: BoolOptions): FieldDecl<boolean> {
  if (o.secret) throw new Error("a bool field cannot be secret");
  return {
    kind: "bool",
    ...common(o),
    required: false,
    defaultValue: o.default ?? false,
    options: undefined,
    schema: z.boolean(),
  };
}

type StringListOptions = CommonFieldOptions & {
  /** Required means at least one element. */
  required?: boolean;
  default?: readonly string[];
  /** An extra zod check on each element. */
  itemSchema?: z.ZodType<string, string>;
};

function stringListField(o: StringListOptions): FieldDecl<string[]> {
  const required = o.required === true;
  const item = withExtra(z.string(), o.itemSchema);
  const list = z.array(item);
  return {
    kind: "stringList",
    ...common(o),
    required,
    defaultValue: [...(o.default ?? [])],
    options: undefined,
    schema: required ? list.min(1, "is required (at least one value)") : list,
  };
}

/** Field builders: `field.string({...})`, `field.enum({ values: [...] })`, `field.int`, `field.bool`, `field.stringList`. */
export const field = {
  string: stringField,
  enum: enumField,
  int: intField,
  bool: boolField,
  stringList: stringListField,
};

export type FieldMap = Record<string, FieldDecl<any>>;

/** The resolved values of a field map, e.g. `{ apiKey: string; site: string; syncSchedules: boolean }`. */
export type ValuesOf<F extends FieldMap> = { -readonly [K in keyof F]: F[K] extends FieldDecl<infer T> ? T : never };
