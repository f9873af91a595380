/**
 * Pins our .proto contracts to Baton's: every message, enum and service that the wire reference lists for the
 * files we define is compared with our generated descriptors (field names, numbers, types, labels, oneofs,
 * enum values, RPC signatures). Any drift fails with the full list of mismatches.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ScalarType, type DescField, type DescFile } from "@bufbuild/protobuf";
import { allTypes, loadGeneratedFiles } from "./generated-files.ts";
import {
  indexReference,
  parseWireReference,
  wireReferenceUrl,
  type RefField,
  type RefFile,
} from "./reference-tables.ts";

const checkedPackages = ["c1.connector.v2", "c1.connectorapi.baton.v1", "c1.config.v1"];

/** Files the project needs (issue 2 / team brief); each must be generated and match the reference. */
const requiredFiles = [
  ...[
    "resource",
    "entitlement",
    "grant",
    "connector",
    "asset",
    "annotation_trait",
    "annotation_grant",
    "annotation_grant_replaced",
    "annotation_resource_tree",
    "annotation_external_link",
    "annotation_ratelimit",
    "annotation_v1_identifier",
    "annotation_entitlement",
    "annotation_resource",
    "annotation_resource_deleted",
    "annotation_request",
    "annotation_raw_id",
    "annotation_id_alias",
    "annotation_etag",
    "event_feed",
    "ticket",
    "action",
  ].map((f) => `c1/connector/v2/${f}.proto`),
  "c1/connectorapi/baton/v1/baton.proto",
  "c1/config/v1/config.proto",
  "c1/config/v1/rules.proto",
];

/** protoc's default json_name: drop underscores, upper-case the following letter. */
function defaultJsonName(name: string): string {
  return name.replace(/_+([a-z0-9]?)/g, (_, c: string) => c.toUpperCase());
}

function scalarName(t: ScalarType): string {
  return ScalarType[t].toLowerCase();
}

function describeOurField(f: DescField): string {
  const optional = f.proto.proto3Optional ? "optional " : "";
  switch (f.fieldKind) {
    case "scalar":
      return optional + scalarName(f.scalar);
    case "enum":
      return optional + f.enum.typeName;
    case "message":
      return optional + f.message.typeName;
    case "list":
      return (
        "repeated " +
        (f.listKind === "scalar" ? scalarName(f.scalar) : f.listKind === "enum" ? f.enum.typeName : f.message.typeName)
      );
    case "map":
      return `map<${scalarName(f.mapKey)},${
        f.mapKind === "scalar" ? scalarName(f.scalar) : f.mapKind === "enum" ? f.enum.typeName : f.message.typeName
      }>`;
  }
}

function describeRefField(f: RefField, resolved: string): string {
  switch (f.label) {
    case "map":
      return `map<${f.mapKey},${resolved}>`;
    case "repeated":
      return `repeated ${resolved}`;
    case "optional":
      return `optional ${resolved}`;
    case "singular":
      return resolved;
  }
}

/** Compares the reference tables with our descriptors; returns one line per mismatch. */
function compareWithReference(ref: Map<string, RefFile>, ours: Map<string, DescFile>): string[] {
  const problems: string[] = [];
  const { resolve } = indexReference(ref);

  for (const path of requiredFiles) {
    if (!ours.has(path)) problems.push(`${path}: not generated (missing proto/${path}?)`);
  }

  for (const refFile of ref.values()) {
    if (!checkedPackages.includes(refFile.package)) continue;
    const file = ours.get(refFile.path);
    if (!file) continue; // a reference file we chose not to define (e.g. config.proto needs envoy validate types)
    const where = refFile.path;
    if (file.proto.package !== refFile.package) {
      problems.push(`${where}: package is ${file.proto.package}, reference says ${refFile.package}`);
    }
    const { messages, enums } = allTypes(file);
    const ourMessages = new Map(messages.map((m) => [m.typeName, m]));
    const ourEnums = new Map(enums.map((e) => [e.typeName, e]));

    for (const refMsg of refFile.messages) {
      const typeName = `${refFile.package}.${refMsg.name}`;
      const msg = ourMessages.get(typeName);
      if (!msg) {
        problems.push(`${where}: message ${typeName} is missing`);
        continue;
      }
      ourMessages.delete(typeName);
      const ourFields = new Map(msg.fields.map((f) => [f.name, f]));
      for (const rf of refMsg.fields) {
        const at = `${typeName}.${rf.name}`;
        const f = ourFields.get(rf.name);
        if (!f) {
          problems.push(`${at}: field missing`);
          continue;
        }
        ourFields.delete(rf.name);
        if (f.number !== rf.number) problems.push(`${at}: number ${f.number}, reference ${rf.number}`);
        const want = describeRefField(rf, resolve(rf.type, typeName));
        const got = describeOurField(f);
        if (got !== want) problems.push(`${at}: type "${got}", reference "${want}"`);
        if ((f.oneof?.name ?? "") !== (rf.oneof ?? "")) {
          problems.push(`${at}: oneof "${f.oneof?.name ?? ""}", reference "${rf.oneof ?? ""}"`);
        }
        if (f.deprecated !== rf.deprecated) problems.push(`${at}: deprecated=${f.deprecated}, reference ${rf.deprecated}`);
        if (f.jsonName !== defaultJsonName(rf.name)) {
          problems.push(`${at}: json name "${f.jsonName}", expected default "${defaultJsonName(rf.name)}"`);
        }
      }
      for (const extra of ourFields.keys()) problems.push(`${typeName}.${extra}: field not in the reference`);
    }
    for (const extra of ourMessages.keys()) problems.push(`${where}: message ${extra} not in the reference`);

    for (const refEnum of refFile.enums) {
      const typeName = `${refFile.package}.${refEnum.name}`;
      const e = ourEnums.get(typeName);
      if (!e) {
        problems.push(`${where}: enum ${typeName} is missing`);
        continue;
      }
      ourEnums.delete(typeName);
      const got = e.values.map((v) => `${v.name}=${v.number}`).join(", ");
      const want = refEnum.values.map((v) => `${v.name}=${v.number}`).join(", ");
      if (got !== want) problems.push(`${typeName}: values {${got}}, reference {${want}}`);
    }
    for (const extra of ourEnums.keys()) problems.push(`${where}: enum ${extra} not in the reference`);

    const ourServices = new Map(file.services.map((s) => [s.typeName, s]));
    for (const refSvc of refFile.services) {
      const typeName = `${refFile.package}.${refSvc.name}`;
      const svc = ourServices.get(typeName);
      if (!svc) {
        problems.push(`${where}: service ${typeName} is missing`);
        continue;
      }
      ourServices.delete(typeName);
      const got = svc.methods.map((m) => `${m.name}(${m.input.typeName}) ${m.methodKind} -> ${m.output.typeName}`);
      const want = refSvc.methods.map((m) => {
        const kind =
          m.clientStreaming && m.serverStreaming
            ? "bidi_streaming"
            : m.clientStreaming
              ? "client_streaming"
              : m.serverStreaming
                ? "server_streaming"
                : "unary";
        return `${m.name}(${resolve(m.input, refFile.package)}) ${kind} -> ${resolve(m.output, refFile.package)}`;
      });
      if (got.join("\n") !== want.join("\n")) {
        problems.push(`${typeName}: methods\n    ${got.join("\n    ")}\n  reference\n    ${want.join("\n    ")}`);
      }
    }
    for (const extra of ourServices.keys()) problems.push(`${where}: service ${extra} not in the reference`);
  }
  return problems;
}

const referenceText = readFileSync(wireReferenceUrl, "utf8");
const generated = await loadGeneratedFiles();

describe("wire reference", () => {
  it("parses the reference tables", () => {
    const ref = parseWireReference(referenceText);
    const resource = ref.get("c1/connector/v2/resource.proto");
    expect(resource?.package).toBe("c1.connector.v2");
    const res = resource?.messages.find((m) => m.name === "Resource");
    expect(res?.fields.find((f) => f.name === "external_id")).toMatchObject({ number: 7, deprecated: true });
    const task = ref.get("c1/connectorapi/baton/v1/baton.proto")?.messages.find((m) => m.name === "Task");
    expect(task?.fields.filter((f) => f.oneof === "task_type")).toHaveLength(24);
    const upload = ref
      .get("c1/connectorapi/baton/v1/baton.proto")
      ?.services[0]?.methods.find((m) => m.name === "UploadAsset");
    expect(upload).toMatchObject({ clientStreaming: true, serverStreaming: false });
  });

  it("our generated descriptors match every message, enum and service the reference lists", () => {
    const problems = compareWithReference(parseWireReference(referenceText), generated);
    expect(problems, `wire mismatches:\n${problems.join("\n")}`).toEqual([]);
  });

  it("checks every file we define in the Baton packages", () => {
    const ref = parseWireReference(referenceText);
    const ours = [...generated.values()].filter((f) => checkedPackages.includes(f.proto.package ?? ""));
    const unchecked = ours.map((f) => f.proto.name).filter((name) => !ref.has(name));
    expect(unchecked, "files in Baton packages that the reference does not list").toEqual([]);
    expect(ours.length).toBeGreaterThanOrEqual(requiredFiles.length);
  });

  it("reports drift: a changed field number, type, enum value or oneof is caught", () => {
    const drifted = referenceText
      .replace(
        "`Resource` { id=1:ResourceId; parent_resource_id=2:ResourceId; display_name=3:string;",
        "`Resource` { id=1:ResourceId; parent_resource_id=9:ResourceId; display_name=3:uint32;",
      )
      .replace("TRAIT_GROUP=2,", "TRAIT_GROUP=20,")
      .replace("sync_full=102:SyncFullTask [oneof task_type]", "sync_full=102:SyncFullTask")
      .replace("msg `RawId` { id=1:string }", "msg `RawId` { id=1:string; extra=2:bool }");
    const problems = compareWithReference(parseWireReference(drifted), generated);
    expect(problems).toEqual(
      expect.arrayContaining([
        "c1.connector.v2.Resource.parent_resource_id: number 2, reference 9",
        'c1.connector.v2.Resource.display_name: type "string", reference "uint32"',
        expect.stringMatching(/^c1\.connector\.v2\.ResourceType\.Trait: values .*TRAIT_GROUP=20/),
        'c1.connectorapi.baton.v1.Task.sync_full: oneof "task_type", reference ""',
        "c1.connector.v2.RawId.extra: field missing",
      ]),
    );
    expect(problems).toHaveLength(5);
  });
});
