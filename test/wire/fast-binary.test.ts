/**
 * src/wire/fast-binary.ts writes messages itself instead of calling toBinary: its bytes must be toBinary's, byte for
 * byte (c1z rows are compared by bytes, and gRPC peers decode what it sends). Random messages of every generated
 * type, then the messages a sync makes, then what the writer must leave to toBinary.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { create, ScalarType, toBinary, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import { annotate } from "../../src/connector/annotations.ts";
import { entitlement, grant, groupResource, roleResource, secretResource, userResource } from "../../src/connector/builders.ts";
import { GrantMetadataSchema } from "../../src/gen/c1/connector/v2/annotation_grant_pb.js";
import { UserTrait_AccountType, UserTraitSchema } from "../../src/gen/c1/connector/v2/annotation_trait_pb.js";
import { ExternalLinkSchema } from "../../src/gen/c1/connector/v2/annotation_external_link_pb.js";
import { EntitlementSchema } from "../../src/gen/c1/connector/v2/entitlement_pb.js";
import { ResourceIdSchema, ResourceSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { encodeAll, fastToBinary, packAny, writeMessage } from "../../src/wire/fast-binary.ts";
import { Sink } from "../../src/wire/sink.ts";
import { seededRandom } from "../helpers/seeded-random.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Every message type the generated code declares (nested ones included). */
async function allMessageSchemas(): Promise<DescMessage[]> {
  const root = join(import.meta.dirname, "../../src/gen");
  const files = readdirSync(root, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith("_pb.js"));
  const out = new Map<string, DescMessage>();
  for (const f of files) {
    const mod = (await import(join(root, f))) as Record<string, unknown>;
    for (const value of Object.values(mod)) {
      const d = value as DescMessage;
      if (d && typeof d === "object" && d.kind === "message") out.set(d.typeName, d);
    }
  }
  return [...out.values()];
}

const STRINGS = ["", "a", "user:123", "Ünïcødé", "🙂 𝄞", "\ud800 lone", "x".repeat(127), "y".repeat(128), "é".repeat(70), "z".repeat(20_000)];
const NUMBERS = [0, -0, 1, -1, 3.5, 2 ** 31, 2 ** 53, -1e300, Number.NaN, Number.POSITIVE_INFINITY, 1e-310];

/** A random message of `desc`, filled through plain properties as builders do (depth-limited). */
function randomMessage(desc: DescMessage, rnd: () => number, depth: number): Record<string, unknown> {
  const m = create(desc) as unknown as Record<string, unknown>;
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  for (const field of desc.fields) {
    if (rnd() < 0.35) continue;
    if (field.oneof) {
      if (rnd() < 0.5) m[field.oneof.localName] = { case: field.localName, value: randomSingular(field, rnd, depth, pick) };
      continue;
    }
    switch (field.fieldKind) {
      case "list": {
        const n = Math.floor(rnd() * 4);
        const items: unknown[] = [];
        for (let i = 0; i < n; i++) items.push(randomListItem(field, rnd, depth, pick));
        m[field.localName] = items;
        break;
      }
      case "map": {
        const rec: Record<string, unknown> = {};
        if (field.mapKey === ScalarType.STRING) rec[pick(STRINGS)] = field.mapKind === "message" ? randomMessage(field.message, rnd, depth + 1) : randomScalar(field.scalar ?? ScalarType.INT32, rnd, pick);
        m[field.localName] = rec;
        break;
      }
      default:
        if (field.fieldKind === "message" && depth > 3) break;
        m[field.localName] = randomSingular(field, rnd, depth, pick);
    }
  }
  if (rnd() < 0.1) m.$unknown = [{ no: 999, wireType: WireType.Varint, data: Uint8Array.of(7) }];
  return m;
}

function randomListItem(field: DescField & { fieldKind: "list" }, rnd: () => number, depth: number, pick: <T>(xs: readonly T[]) => T): unknown {
  if (field.listKind === "message") return randomMessage(field.message, rnd, depth + 1);
  if (field.listKind === "enum") return pick(field.enum.values).number;
  return randomScalar(field.scalar, rnd, pick);
}

function randomSingular(field: DescField, rnd: () => number, depth: number, pick: <T>(xs: readonly T[]) => T): unknown {
  if (field.fieldKind === "enum") return rnd() < 0.9 ? pick(field.enum.values).number : -3;
  if (field.fieldKind === "scalar") return randomScalar(field.scalar, rnd, pick);
  if (field.fieldKind === "message") {
    if (field.message.typeName === "google.protobuf.Struct") return randomJsonObject(rnd, pick, 0);
    return randomMessage(field.message, rnd, depth + 1);
  }
  return undefined;
}

function randomScalar(type: ScalarType, rnd: () => number, pick: <T>(xs: readonly T[]) => T): unknown {
  switch (type) {
    case ScalarType.STRING:
      return pick(STRINGS);
    case ScalarType.BYTES:
      return pick([new Uint8Array(0), Uint8Array.of(1, 2, 3), new Uint8Array(300).fill(9)]);
    case ScalarType.BOOL:
      return rnd() < 0.5;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return pick(NUMBERS);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return pick([0n, 1n, 1_700_000_000n, 2n ** 31n - 1n, 2n ** 31n, -1n, 2n ** 62n]);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return pick([0n, 1n, 2n ** 31n - 1n, 2n ** 40n]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return pick([0, 1, 127, 128, 2 ** 31 - 1, 2 ** 32 - 1]);
    default:
      return pick([0, 1, 127, 128, 300, 2 ** 31 - 1, -1, -(2 ** 31)]);
  }
}

function randomJsonObject(rnd: () => number, pick: <T>(xs: readonly T[]) => T, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const n = Math.floor(rnd() * 6);
  for (let i = 0; i < n; i++) out[pick([...STRINGS.slice(0, 6), "10", "2", "role_ids"])] = randomJson(rnd, pick, depth + 1);
  return out;
}

function randomJson(rnd: () => number, pick: <T>(xs: readonly T[]) => T, depth: number): unknown {
  const r = rnd();
  if (depth > 4 || r < 0.25) return pick(STRINGS);
  if (r < 0.4) return pick(NUMBERS);
  if (r < 0.5) return rnd() < 0.5;
  if (r < 0.6) return null;
  if (r < 0.8) return Array.from({ length: Math.floor(rnd() * 4) }, () => randomJson(rnd, pick, depth + 1));
  return randomJsonObject(rnd, pick, depth);
}

/** fastToBinary's bytes, or the message of the error it raised; toBinary's the same way. */
function outcome(encode: (s: DescMessage, m: never) => Uint8Array, schema: DescMessage, m: unknown): string {
  try {
    return hex(encode(schema, m as never));
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

describe("fast binary writer", () => {
  it("writes random messages of every generated type as toBinary does", async () => {
    const schemas = await allMessageSchemas();
    expect(schemas.length).toBeGreaterThan(200);
    const rnd = seededRandom(20261202);
    let fast = 0;
    let total = 0;
    for (const schema of schemas) {
      for (let i = 0; i < Number(process.env.FAST_BINARY_ROUNDS ?? 12); i++) {
        const m = randomMessage(schema, rnd, 0);
        const expected = outcome(toBinary, schema, m);
        expect(outcome(fastToBinary, schema, m), `${schema.typeName} #${i}`).toBe(expected);
        total++;
        if (writeMessage(new Sink(64), schema, m as never)) fast++;
      }
    }
    // Most types are in the writer's subset; the rest (maps, oneofs, other integer types) went to toBinary.
    if (process.env.FAST_BINARY_ROUNDS) console.log("fast path", fast, "of", total);
    expect(fast / total).toBeGreaterThan(0.4);
  });

  it("takes the fast path for what a sync makes, with the same bytes", () => {
    const profile = { email: "a@example.com", name: "A B", verified: true, n: 2.5, z: null, role_ids: ["r1", "r2"], nested: { "": -0, "10": [1, {}] } };
    const user = userResource({
      type: "user",
      id: "u-1",
      displayName: "A B",
      profile,
      status: "enabled",
      createdAt: new Date("2024-05-06T07:08:09.123Z"),
      annotations: [annotate.externalLink("https://app.datadoghq.com/users?id=u-1")],
      user: { emails: [{ address: "a@example.com", isPrimary: true }], login: "a", loginAliases: ["a@example.com"], accountType: UserTrait_AccountType.HUMAN },
    });
    const team = groupResource({ type: "team", id: "t", displayName: "T", profile: { handle: "t" }, parent: create(ResourceIdSchema, { resourceType: "org", resource: "o" }) });
    const role = roleResource({ type: "role", id: "r", displayName: "R", description: "d" });
    const key = secretResource({ type: "api_key", id: "k", displayName: "K", secret: { lastUsedAt: new Date(0), createdById: create(ResourceIdSchema, { resourceType: "user", resource: "u-1" }) } });
    const member = entitlement(team, "member", { displayName: "Member", purpose: "assignment" });
    const metadata = create(GrantMetadataSchema, { metadata: { provisioned_by: "saml", provisioned_by_id: "x" } });
    const g = grant(member, user.id!, { annotations: [packAny(GrantMetadataSchema, metadata)] });

    for (const [schema, m] of [
      [ResourceSchema, user],
      [ResourceSchema, team],
      [ResourceSchema, role],
      [ResourceSchema, key],
      [EntitlementSchema, member],
      [GrantMetadataSchema, metadata],
    ] as const) {
      expect(writeMessage(new Sink(64), schema as DescMessage, m as never), schema.typeName).toBe(true);
      expect(hex(fastToBinary(schema as DescMessage, m as never))).toBe(hex(toBinary(schema as DescMessage, m as never)));
    }
    // The trait inside the user's annotations is UserTrait's own encoding.
    const trait = user.annotations[0];
    expect(trait.typeUrl).toBe(`type.googleapis.com/${UserTraitSchema.typeName}`);
    expect(trait.value).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(trait.value)).toBe(false);
    expect(g.annotations[0].typeUrl).toBe(`type.googleapis.com/${GrantMetadataSchema.typeName}`);

    const views = encodeAll(ResourceSchema, [user, team, role, key]);
    expect(views.map(hex)).toEqual([user, team, role, key].map((r) => hex(toBinary(ResourceSchema, r))));
  });

  it("leaves to toBinary what it does not handle, with toBinary's bytes or error", () => {
    const deep: Record<string, unknown> = {};
    let cur = deep;
    for (let i = 0; i < 150; i++) cur = (cur.next = {}) as Record<string, unknown>;
    const odd: Array<[DescMessage, unknown]> = [
      [GrantMetadataSchema, create(GrantMetadataSchema, { metadata: deep as never })], // deeper than the writer goes
      [GrantMetadataSchema, create(GrantMetadataSchema, { metadata: { u: undefined as never, f: (() => 1) as never, b: 5n as never, d: new Date(0) as never } })],
      [ExternalLinkSchema, { ...create(ExternalLinkSchema), url: 42 }], // toBinary coerces a number to "42"
      [ResourceSchema, { ...create(ResourceSchema), id: null }], // not a message
      [ResourceSchema, create(ResourceSchema, { status: { status: -1 as never } })], // a negative enum: ten bytes
      [ResourceSchema, create(ResourceSchema, { createdAt: { seconds: -5n, nanos: 1 } })],
      [ResourceSchema, create(ResourceSchema, { createdAt: { seconds: 2n ** 40n } })],
      [ResourceSchema, { ...create(ResourceSchema), $typeName: "other.Message" }],
    ];
    for (const [schema, m] of odd) expect(outcome(fastToBinary, schema, m)).toBe(outcome(toBinary, schema, m));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => fastToBinary(GrantMetadataSchema, create(GrantMetadataSchema, { metadata: cyclic as never }))).toThrow(RangeError);
  });

  it("keeps the caller's message as it was, and its buffer out of the result", () => {
    const m = create(ResourceSchema, { displayName: "x", profile: { a: 1 } });
    const before = structuredClone(m);
    const first = fastToBinary(ResourceSchema, m);
    const second = fastToBinary(ResourceSchema, create(ResourceSchema, { displayName: "other" }));
    expect(m).toEqual(before);
    // The shared buffer is reused: a result is a copy, not a view that the next call overwrites.
    expect(hex(first)).toBe(hex(toBinary(ResourceSchema, m)));
    expect(first.buffer).not.toBe(second.buffer);
  });
});
