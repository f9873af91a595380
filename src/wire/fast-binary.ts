/**
 * toBinary for the messages a sync creates by the ten thousand (traits, annotations, resources), written
 * straight into a Sink.
 *
 * protobuf-es's toBinary starts every message in a fresh 128-byte buffer that doubles as it fills and is copied
 * out at the end: each one a new ArrayBuffer, at about 1.5 µs apiece here, which cost more than the encoding of
 * a message of a few hundred bytes. It also encodes a Struct field (every profile, every GrantMetadata) by first
 * building the Struct message: a Value message and a oneof object per field, a ListValue per array. This writer
 * does neither. It emits the bytes toBinary would (fields in field-number order, proto3 implicit presence,
 * explicit presence by own property, unknown fields last; test/wire/fast-binary.test.ts compares the two over
 * every generated message type), for the field kinds those messages use. A message with any other kind of field,
 * or a value toBinary would coerce, reject or encode in ten bytes, goes to toBinary whole, which decides (and
 * raises its own errors).
 */
import { create, ScalarType, toBinary, type DescField, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { AnySchema, type Any } from "@bufbuild/protobuf/wkt";
import { LEN, Sink, VARINT } from "./sink.ts";

/** Thrown inside the writer to hand the whole message to toBinary. */
class Unsupported extends Error {
  constructor() {
    super("not handled by the fast writer");
  }
}

/** Deeper than this, toBinary decides (a cycle overflows its stack, as before). */
const MAX_DEPTH = 100;
const IMPLICIT = 2; // FeatureSet.FieldPresence.IMPLICIT
const MAX_INT31 = 0x7fffffff;

type Writer = (sink: Sink, message: Record<string, unknown>, depth: number) => void;
type MessageWriter = (sink: Sink, message: Record<string, unknown>, depth: number) => void;

const compiled = new WeakMap<DescMessage, MessageWriter | null>();

/** The writer of a schema, or null when one of its fields (or of the messages in them) is not handled. */
function writerFor(desc: DescMessage): MessageWriter | null {
  const known = compiled.get(desc);
  if (known !== undefined) return known;
  const fieldWriters: Writer[] = [];
  const typeName = desc.typeName;
  const write: MessageWriter = (sink, message, depth) => {
    if (depth > MAX_DEPTH || message.$typeName !== typeName) throw new Unsupported();
    for (let i = 0; i < fieldWriters.length; i++) fieldWriters[i](sink, message, depth);
    const unknown = message.$unknown as { no: number; wireType: number; data: Uint8Array }[] | undefined;
    if (unknown !== undefined) {
      for (let i = 0; i < unknown.length; i++) {
        const { no, wireType, data } = unknown[i];
        sink.varint(((no << 3) | wireType) >>> 0);
        sink.raw(data);
      }
    }
  };
  // Registered before its fields are compiled, so that recursive types find it instead of compiling endlessly.
  compiled.set(desc, write);
  for (const field of desc.fields.concat().sort((a, b) => a.number - b.number)) {
    const w = fieldWriter(field);
    if (w === null) {
      compiled.set(desc, null);
      return null;
    }
    fieldWriters.push(w);
  }
  return compiled.get(desc) ?? null;
}

/** A writer for one field, or null when its kind is not handled. */
function fieldWriter(field: DescField): Writer | null {
  if (field.oneof !== undefined || field.presence === 3 /* LEGACY_REQUIRED */) return null;
  const name = field.localName;
  const no = field.number;
  switch (field.fieldKind) {
    case "scalar":
    case "enum": {
      const scalar = field.fieldKind === "enum" ? ScalarType.INT32 : field.scalar;
      const value = scalarWriter(scalar, no);
      if (value === null) return null;
      if (field.presence !== IMPLICIT) {
        return (sink, m) => {
          const v = m[name];
          if (v !== undefined && Object.prototype.hasOwnProperty.call(m, name)) value(sink, v);
        };
      }
      if (field.fieldKind === "enum" || scalar === ScalarType.STRING || scalar === ScalarType.BOOL) {
        const zero = field.fieldKind === "enum" ? field.enum.values[0].number : scalar === ScalarType.STRING ? "" : false;
        return (sink, m) => {
          const v = m[name];
          if (v !== zero) value(sink, v);
        };
      }
      if (scalar === ScalarType.BYTES) {
        return (sink, m) => {
          const v = m[name];
          if (!(v instanceof Uint8Array) || v.byteLength > 0) value(sink, v);
        };
      }
      if (scalar === ScalarType.DOUBLE) {
        return (sink, m) => {
          const v = m[name];
          if (!Object.is(v, 0)) value(sink, v);
        };
      }
      // Integers: toBinary's loose comparison, which takes 0, 0n and "0" for zero.
      return (sink, m) => {
        const v = m[name];
        // eslint-disable-next-line eqeqeq
        if (v != 0) value(sink, v);
      };
    }
    case "message": {
      if (field.delimitedEncoding) return null;
      if (field.message.typeName === "google.protobuf.Struct") {
        return (sink, m, depth) => {
          const v = m[name];
          if (v === undefined || !Object.prototype.hasOwnProperty.call(m, name)) return;
          sink.varint(LEN(no));
          const at = sink.reserve();
          writeStructFields(sink, v, depth + 1);
          sink.close(at);
        };
      }
      if (isWrapper(field.message)) return null; // kept unwrapped as a scalar by protobuf-es
      const child = writerFor(field.message);
      if (child === null) return null;
      return (sink, m, depth) => {
        const v = m[name];
        if (v === undefined || !Object.prototype.hasOwnProperty.call(m, name)) return;
        sink.varint(LEN(no));
        const at = sink.reserve();
        child(sink, v as Record<string, unknown>, depth + 1);
        sink.close(at);
      };
    }
    case "list": {
      if (field.listKind === "message") {
        if (field.delimitedEncoding || isWrapper(field.message)) return null;
        const child = field.message.typeName === "google.protobuf.Struct" ? null : writerFor(field.message);
        if (child === null) return null;
        return (sink, m, depth) => {
          const items = m[name] as Record<string, unknown>[];
          for (let i = 0; i < items.length; i++) {
            sink.varint(LEN(no));
            const at = sink.reserve();
            child(sink, items[i], depth + 1);
            sink.close(at);
          }
        };
      }
      const scalar = field.listKind === "enum" ? ScalarType.INT32 : field.scalar;
      if (field.packed) {
        const bare = scalarWriter(scalar, 0);
        if (bare === null || scalar === ScalarType.STRING || scalar === ScalarType.BYTES) return null;
        return (sink, m) => {
          const items = m[name] as unknown[];
          if (items.length === 0) return;
          sink.varint(LEN(no));
          const at = sink.reserve();
          for (let i = 0; i < items.length; i++) bare(sink, items[i], true);
          sink.close(at);
        };
      }
      const value = scalarWriter(scalar, no);
      if (value === null) return null;
      return (sink, m) => {
        const items = m[name] as unknown[];
        for (let i = 0; i < items.length; i++) value(sink, items[i]);
      };
    }
    case "map":
      return null;
  }
}

function isWrapper(desc: DescMessage): boolean {
  return desc.file.name === "google/protobuf/wrappers" && desc.typeName.startsWith("google.protobuf.");
}

/**
 * A writer of one scalar with its tag (`bare`: without, for packed lists), or null for the scalar types not
 * handled. Values toBinary would coerce or reject, and negative or large integers, are not handled either.
 */
function scalarWriter(scalar: ScalarType, no: number): ((sink: Sink, v: unknown, bare?: boolean) => void) | null {
  switch (scalar) {
    case ScalarType.STRING:
      return (sink, v) => {
        if (typeof v !== "string") throw new Unsupported();
        sink.stringAlways(LEN(no), v);
      };
    case ScalarType.BYTES:
      return (sink, v) => {
        if (!(v instanceof Uint8Array)) throw new Unsupported();
        sink.embedded(LEN(no), v);
      };
    case ScalarType.BOOL:
      return (sink, v, bare) => {
        if (typeof v !== "boolean") throw new Unsupported();
        if (!bare) sink.varint(VARINT(no));
        sink.byte(v ? 1 : 0);
      };
    case ScalarType.INT32:
    case ScalarType.UINT32:
      return (sink, v, bare) => {
        if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > MAX_INT31) throw new Unsupported();
        if (!bare) sink.varint(VARINT(no));
        sink.varint(v);
      };
    case ScalarType.INT64:
    case ScalarType.UINT64: {
      return (sink, v, bare) => {
        const n = typeof v === "bigint" ? (v >= 0n && v <= BigInt(MAX_INT31) ? Number(v) : -1) : -1;
        if (n < 0) throw new Unsupported(); // strings and numbers (longAsString fields), large and negative values
        if (!bare) sink.varint(VARINT(no));
        sink.varint(n);
      };
    }
    case ScalarType.DOUBLE:
      return (sink, v, bare) => {
        if (typeof v !== "number") throw new Unsupported();
        if (!bare) sink.varint(((no << 3) | 1) >>> 0);
        sink.double(v);
      };
    default:
      return null;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A Struct's fields (its `fields` map: key 1, Value 2) for a JSON object; anything else has none, as protobuf-es. */
function writeStructFields(sink: Sink, json: unknown, depth: number): void {
  if (depth > MAX_DEPTH) throw new Unsupported();
  if (!isObject(json)) return;
  for (const key of Object.keys(json)) {
    const entry = sink.open(LEN(1));
    sink.stringAlways(LEN(1), key);
    const value = sink.open(LEN(2));
    writeValueFields(sink, json[key], depth + 1);
    sink.close(value);
    sink.close(entry);
  }
}

/** A Value's oneof for a JSON value: null 1, number 2, string 3, bool 4, struct 5, list 6; other types set none. */
function writeValueFields(sink: Sink, value: unknown, depth: number): void {
  switch (typeof value) {
    case "number":
      sink.byte((2 << 3) | 1);
      sink.double(value);
      return;
    case "string":
      sink.stringAlways(LEN(3), value);
      return;
    case "boolean":
      sink.byte(VARINT(4));
      sink.byte(value ? 1 : 0);
      return;
    case "object": {
      if (value === null) {
        sink.byte(VARINT(1));
        sink.byte(0);
        return;
      }
      if (depth > MAX_DEPTH) throw new Unsupported();
      if (Array.isArray(value)) {
        const list = sink.open(LEN(6));
        for (const item of value as unknown[]) {
          const at = sink.open(LEN(1));
          writeValueFields(sink, item, depth + 1);
          sink.close(at);
        }
        sink.close(list);
        return;
      }
      const struct = sink.open(LEN(5));
      writeStructFields(sink, value, depth + 1);
      sink.close(struct);
      return;
    }
  }
}

/**
 * Appends `message`'s encoding to `sink`; false (and the sink as it was) when the fast writer does not handle it.
 * A caller that gets false encodes it with toBinary.
 */
export function writeMessage<Desc extends DescMessage>(sink: Sink, schema: Desc, message: MessageShape<Desc>): boolean {
  const write = writerFor(schema);
  if (write === null) return false;
  const start = sink.pos;
  try {
    write(sink, message as unknown as Record<string, unknown>, 0);
    return true;
  } catch {
    // Unsupported, or a value the writer cannot read (null for a message, a cycle): toBinary decides, and raises
    // its own error for what it cannot encode either.
    sink.pos = start;
    return false;
  }
}

/**
 * Each message's encoding, as views of one buffer (a page of rows: one allocation instead of toBinary's several
 * per message). Messages the fast writer does not handle are encoded by toBinary into the same buffer.
 */
export function encodeAll<Desc extends DescMessage>(schema: Desc, messages: readonly MessageShape<Desc>[]): Uint8Array[] {
  const sink = new Sink(Math.min(1024 * 1024, Math.max(4096, messages.length * 512)));
  const ends: number[] = new Array(messages.length);
  for (let i = 0; i < messages.length; i++) {
    if (!writeMessage(sink, schema, messages[i])) sink.raw(toBinary(schema, messages[i]));
    ends[i] = sink.pos;
  }
  return sink.views(ends);
}

/** One reused buffer: encoding is synchronous, and each result is copied out of it. */
const shared = new Sink(4096);

/** toBinary(schema, message), byte for byte. */
export function fastToBinary<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): Uint8Array {
  shared.pos = 0;
  if (!writeMessage(shared, schema, message)) return toBinary(schema, message);
  const out = shared.bytes();
  if (shared.buf.length > 64 * 1024) shared.buf = Buffer.alloc(4096); // one huge message does not pin its buffer
  return out;
}

/** anyPack(schema, message), byte for byte, through fastToBinary. */
export function packAny<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): Any {
  return create(AnySchema, { typeUrl: `type.googleapis.com/${message.$typeName}`, value: fastToBinary(schema, message) });
}
