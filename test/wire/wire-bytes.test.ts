/**
 * Wire bytes: messages encoded by our generated types are walked tag by tag and every field number and wire
 * type is checked against Baton's reference tables (not against our own descriptors), recursing into
 * nested c1.* messages. A decoded copy must equal the original.
 */
import { describe, expect, it } from "vitest";
import { create, equals, fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { anyPack, DurationSchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { AssetRefSchema } from "../../src/gen/c1/connector/v2/asset_pb.js";
import { UserTrait_AccountType, UserTrait_Status_Status, UserTraitSchema } from "../../src/gen/c1/connector/v2/annotation_trait_pb.js";
import { ChildResourceTypeSchema } from "../../src/gen/c1/connector/v2/annotation_resource_tree_pb.js";
import { Entitlement_PurposeValue, EntitlementSchema } from "../../src/gen/c1/connector/v2/entitlement_pb.js";
import { GrantSchema } from "../../src/gen/c1/connector/v2/grant_pb.js";
import {
  Resource_CreationSource,
  ResourceIdSchema,
  ResourceSchema,
  ResourceType_Trait,
  Status_ResourceStatus,
} from "../../src/gen/c1/connector/v2/resource_pb.js";
import { Task_Status, TaskSchema } from "../../src/gen/c1/connectorapi/baton/v1/baton_pb.js";
import { indexReference, loadWireReference, scalarTypeNames } from "./reference-tables.ts";

const ref = indexReference(loadWireReference());

const wireTypeName: Record<number, string> = { 0: "VARINT", 1: "I64", 2: "LEN", 3: "SGROUP", 4: "EGROUP", 5: "I32" };

/** The wire type the reference's declared type implies (proto3: repeated numerics are packed, so LEN). */
function expectedWireType(label: string, resolvedType: string): WireType {
  if (label === "map" || label === "repeated") return WireType.LengthDelimited;
  if (ref.enums.has(resolvedType)) return WireType.Varint;
  if (!scalarTypeNames.has(resolvedType)) return WireType.LengthDelimited; // a message
  switch (resolvedType) {
    case "string":
    case "bytes":
      return WireType.LengthDelimited;
    case "fixed64":
    case "sfixed64":
    case "double":
      return WireType.Bit64;
    case "fixed32":
    case "sfixed32":
    case "float":
      return WireType.Bit32;
    default:
      return WireType.Varint;
  }
}

/**
 * Walks the bytes of a message of reference type `typeName`, returning `path=number:WIRETYPE` for every field
 * met (recursing into c1.* messages), and `problems` for tags the reference does not explain.
 */
function walk(bytes: Uint8Array, typeName: string, path = shortName(typeName)): { seen: string[]; problems: string[] } {
  const msg = ref.messages.get(typeName);
  if (!msg) return { seen: [], problems: [`${path}: ${typeName} is not in the reference`] };
  const seen: string[] = [];
  const problems: string[] = [];
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    const field = msg.fields.find((f) => f.number === number);
    const raw = reader.skip(wireType, number);
    if (!field) {
      problems.push(`${path}: field number ${number} is not in the reference for ${typeName}`);
      continue;
    }
    const resolved = ref.resolve(field.type, typeName);
    const want = expectedWireType(field.label, resolved);
    const fieldPath = `${path}.${field.name}`;
    seen.push(`${fieldPath}=${number}:${wireTypeName[wireType]}`);
    if (wireType !== want) {
      problems.push(`${fieldPath}: wire type ${wireTypeName[wireType]}, reference implies ${wireTypeName[want]}`);
    }
    const nested = field.label !== "map" && wireType === WireType.LengthDelimited && ref.messages.has(resolved);
    if (nested) {
      const inner = walk(payloadOf(raw), resolved, fieldPath);
      seen.push(...inner.seen);
      problems.push(...inner.problems);
    }
  }
  return { seen: [...new Set(seen)], problems };
}

/** `skip` returns a LEN field's length prefix and payload; this returns the payload alone. */
function payloadOf(raw: Uint8Array): Uint8Array {
  return new BinaryReader(raw).bytes();
}

function shortName(typeName: string): string {
  return typeName.split(".").pop() ?? typeName;
}

/** Encodes, walks against the reference, and checks the round trip. Returns the field paths seen. */
function encodeAndWalk<D extends DescMessage>(schema: D, message: MessageShape<D>): string[] {
  const bytes = toBinary(schema, message);
  const { seen, problems } = walk(bytes, schema.typeName);
  expect(problems, problems.join("\n")).toEqual([]);
  expect(equals(schema, fromBinary(schema, bytes), message)).toBe(true);
  return seen;
}

/** Top-level `name=number:WIRETYPE` entries of a walk. */
function topLevel(seen: string[], root: string): string[] {
  return seen.filter((s) => s.split("=")[0].split(".").length === 2 && s.startsWith(`${root}.`)).sort();
}

const now = create(TimestampSchema, { seconds: 1_700_000_000n, nanos: 5 });
const profile = { team: "core", seats: 3 };

const userTrait = create(UserTraitSchema, {
  emails: [{ address: "ada@example.com", isPrimary: true }],
  status: { status: UserTrait_Status_Status.ENABLED, details: "active" },
  profile,
  icon: { id: "icon-1" },
  accountType: UserTrait_AccountType.HUMAN,
  login: "ada",
  loginAliases: ["ada.l"],
  employeeIds: ["E1"],
  createdAt: now,
  lastLogin: now,
  mfaStatus: { mfaEnabled: true },
  ssoStatus: { ssoEnabled: true },
  structuredName: { givenName: "Ada", familyName: "Lovelace", middleNames: ["King"], prefix: "Dr", suffix: "II" },
});

const resource = create(ResourceSchema, {
  id: { resourceType: "user", resource: "u-1", batonResource: true },
  parentResourceId: { resourceType: "org", resource: "o-1" },
  displayName: "Ada",
  annotations: [anyPack(UserTraitSchema, userTrait), anyPack(ChildResourceTypeSchema, create(ChildResourceTypeSchema, { resourceTypeId: "team" }))],
  description: "a user",
  batonResource: true,
  externalId: { id: "x", link: "https://example.com/x", description: "ext" },
  creationSource: Resource_CreationSource.CONNECTOR_LIST_RESOURCES,
  profile,
  icon: create(AssetRefSchema, { id: "asset-1" }),
  status: { status: Status_ResourceStatus.ENABLED, details: "ok" },
  createdAt: now,
});

const entitlement = create(EntitlementSchema, {
  resource,
  id: "role:admin:member",
  displayName: "Admin member",
  description: "members of admin",
  grantableTo: [
    {
      id: "user",
      displayName: "User",
      traits: [ResourceType_Trait.USER, ResourceType_Trait.GROUP],
      annotations: [],
      description: "users",
      sourcedExternally: true,
    },
  ],
  annotations: [anyPack(ChildResourceTypeSchema, create(ChildResourceTypeSchema, { resourceTypeId: "x" }))],
  purpose: Entitlement_PurposeValue.ASSIGNMENT,
  slug: "member",
});

const grant = create(GrantSchema, {
  entitlement,
  principal: resource,
  id: "role:admin:member:user:u-1",
  sources: { sources: { "role:admin:member": { isDirect: true } } },
  annotations: [anyPack(ChildResourceTypeSchema, create(ChildResourceTypeSchema, { resourceTypeId: "y" }))],
});

describe("wire bytes match the reference tables", () => {
  it("ResourceId encodes to the exact bytes the reference implies", () => {
    const bytes = toBinary(ResourceIdSchema, create(ResourceIdSchema, { resourceType: "user", resource: "u1", batonResource: true }));
    // field 1 LEN "user", field 2 LEN "u1", field 3 VARINT 1
    expect(Buffer.from(bytes).toString("hex")).toBe("0a04" + Buffer.from("user").toString("hex") + "1202" + Buffer.from("u1").toString("hex") + "1801");
  });

  it("Resource", () => {
    const seen = encodeAndWalk(ResourceSchema, resource);
    expect(topLevel(seen, "Resource")).toEqual(
      [
        "Resource.id=1:LEN",
        "Resource.parent_resource_id=2:LEN",
        "Resource.display_name=3:LEN",
        "Resource.annotations=4:LEN",
        "Resource.description=5:LEN",
        "Resource.baton_resource=6:VARINT",
        "Resource.external_id=7:LEN",
        "Resource.creation_source=8:VARINT",
        "Resource.profile=9:LEN",
        "Resource.icon=10:LEN",
        "Resource.status=11:LEN",
        "Resource.created_at=12:LEN",
      ].sort(),
    );
    expect(seen).toEqual(
      expect.arrayContaining([
        "Resource.id.resource_type=1:LEN",
        "Resource.id.resource=2:LEN",
        "Resource.id.baton_resource=3:VARINT",
        "Resource.status.status=1:VARINT",
        "Resource.status.details=2:LEN",
        "Resource.external_id.link=2:LEN",
        "Resource.icon.id=1:LEN",
      ]),
    );
  });

  it("Entitlement", () => {
    const seen = encodeAndWalk(EntitlementSchema, entitlement);
    expect(topLevel(seen, "Entitlement")).toEqual(
      [
        "Entitlement.resource=1:LEN",
        "Entitlement.id=2:LEN",
        "Entitlement.display_name=3:LEN",
        "Entitlement.description=4:LEN",
        "Entitlement.grantable_to=5:LEN",
        "Entitlement.annotations=6:LEN",
        "Entitlement.purpose=7:VARINT",
        "Entitlement.slug=8:LEN",
      ].sort(),
    );
    expect(seen).toEqual(
      expect.arrayContaining([
        "Entitlement.resource.id.resource_type=1:LEN",
        "Entitlement.grantable_to.id=1:LEN",
        "Entitlement.grantable_to.traits=3:LEN", // packed repeated enum
        "Entitlement.grantable_to.sourced_externally=6:VARINT",
      ]),
    );
  });

  it("Grant", () => {
    const seen = encodeAndWalk(GrantSchema, grant);
    expect(topLevel(seen, "Grant")).toEqual(
      ["Grant.entitlement=1:LEN", "Grant.principal=2:LEN", "Grant.id=3:LEN", "Grant.annotations=4:LEN", "Grant.sources=5:LEN"].sort(),
    );
    expect(seen).toEqual(
      expect.arrayContaining([
        "Grant.sources.sources=1:LEN",
        "Grant.entitlement.resource.id.resource=2:LEN",
        "Grant.entitlement.purpose=7:VARINT",
        "Grant.principal.id.resource_type=1:LEN",
      ]),
    );
  });

  it("UserTrait", () => {
    const seen = encodeAndWalk(UserTraitSchema, userTrait);
    expect(topLevel(seen, "UserTrait")).toEqual(
      [
        "UserTrait.emails=1:LEN",
        "UserTrait.status=2:LEN",
        "UserTrait.profile=3:LEN",
        "UserTrait.icon=4:LEN",
        "UserTrait.account_type=5:VARINT",
        "UserTrait.login=6:LEN",
        "UserTrait.login_aliases=7:LEN",
        "UserTrait.created_at=8:LEN",
        "UserTrait.last_login=9:LEN",
        "UserTrait.mfa_status=10:LEN",
        "UserTrait.sso_status=11:LEN",
        "UserTrait.structured_name=12:LEN",
        "UserTrait.employee_ids=13:LEN",
      ].sort(),
    );
    expect(seen).toEqual(
      expect.arrayContaining([
        "UserTrait.emails.address=1:LEN",
        "UserTrait.emails.is_primary=2:VARINT",
        "UserTrait.status.status=1:VARINT",
        "UserTrait.mfa_status.mfa_enabled=1:VARINT",
        "UserTrait.structured_name.middle_names=3:LEN",
        "UserTrait.structured_name.suffix=5:LEN",
      ]),
    );
  });

  it("Task with sync_full", () => {
    const task = create(TaskSchema, {
      id: "task-1",
      status: Task_Status.RUNNING,
      taskType: {
        case: "syncFull",
        value: {
          annotations: [anyPack(ChildResourceTypeSchema, create(ChildResourceTypeSchema, { resourceTypeId: "z" }))],
          skipExpandGrants: true,
          skipEntitlementsAndGrants: true,
          targetedSyncResources: [resource],
          syncResourceTypeIds: ["user"],
          skipGrants: true,
          storageEngine: "sqlite",
        },
      },
      debug: true,
    });
    const seen = encodeAndWalk(TaskSchema, task);
    expect(topLevel(seen, "Task")).toEqual(["Task.id=1:LEN", "Task.status=2:VARINT", "Task.debug=3:VARINT", "Task.sync_full=102:LEN"].sort());
    expect(seen).toEqual(
      expect.arrayContaining([
        "Task.sync_full.annotations=1:LEN",
        "Task.sync_full.skip_expand_grants=2:VARINT",
        "Task.sync_full.skip_entitlements_and_grants=3:VARINT",
        "Task.sync_full.targeted_sync_resources=4:LEN",
        "Task.sync_full.sync_resource_type_ids=5:LEN",
        "Task.sync_full.skip_grants=6:VARINT",
        "Task.sync_full.storage_engine=7:LEN",
        "Task.sync_full.targeted_sync_resources.id.resource_type=1:LEN",
      ]),
    );
  });

  it("Task with grant", () => {
    const task = create(TaskSchema, {
      id: "task-2",
      status: Task_Status.PENDING,
      taskType: {
        case: "grant",
        value: {
          entitlement,
          principal: resource,
          annotations: [anyPack(ChildResourceTypeSchema, create(ChildResourceTypeSchema, { resourceTypeId: "g" }))],
          duration: create(DurationSchema, { seconds: 3600n }),
        },
      },
    });
    const seen = encodeAndWalk(TaskSchema, task);
    expect(topLevel(seen, "Task")).toEqual(["Task.grant=103:LEN", "Task.id=1:LEN", "Task.status=2:VARINT"]);
    expect(seen).toEqual(
      expect.arrayContaining([
        "Task.grant.entitlement=1:LEN",
        "Task.grant.principal=2:LEN",
        "Task.grant.annotations=3:LEN",
        "Task.grant.duration=4:LEN",
        "Task.grant.entitlement.slug=8:LEN",
        "Task.grant.principal.id.resource=2:LEN",
      ]),
    );
  });

  it("the walker reports a wrong wire type and an unknown field number", () => {
    const wrong = walk(Uint8Array.of(0x08, 0x01), "c1.connector.v2.Resource"); // field 1 as VARINT
    expect(wrong.problems).toEqual(["Resource.id: wire type VARINT, reference implies LEN"]);
    const unknown = walk(Uint8Array.of(0xf8, 0x06, 0x01), "c1.connector.v2.Resource"); // field 111 VARINT
    expect(unknown.problems).toEqual(["Resource: field number 111 is not in the reference for c1.connector.v2.Resource"]);
  });
});
