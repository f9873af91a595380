/**
 * Pins our .proto contracts to Baton's: every message, enum and service that the wire reference lists for the
 * files we define is compared with our generated descriptors (field names, numbers, types, labels, oneofs,
 * enum values, RPC signatures). Any drift fails with the full list of mismatches. The reference is the
 * committed wire-reference.json; when Baton's wire-reference.md is beside the repository, it must be fresh.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { extractWireReference } from "../../scripts/contracts/wire.ts";
import { ScalarType, type DescField, type DescFile } from "@bufbuild/protobuf";
import { allTypes, loadGeneratedFiles } from "./generated-files.ts";
import {
  committedWireReferenceUrl,
  indexReference,
  loadWireReference,
  parseWireReference,
  readWireReference,
  wireReferenceUrl,
  type RefField,
  type RefFile,
} from "./reference-tables.ts";

const checkedPackages = ["c1.connector.v2", "c1.connectorapi.baton.v1", "c1.config.v1", "c1.transport.v1"];

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
  // the hosted Lambda runtime (issue 15)
  "c1/connectorapi/baton/v1/config.proto",
  "c1/connectorapi/baton/v1/servedpolicy.proto",
  "c1/connectorapi/baton/v1/session.proto",
  "c1/transport/v1/transport.proto",
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

const reference = loadWireReference();
const generated = await loadGeneratedFiles();
const sourcePath = fileURLToPath(wireReferenceUrl);
const haveSource = existsSync(sourcePath);

/** Lines in the wire reference's own notation, to test the parser without the file. */
const SAMPLE = [
  "### `c1/example/v1/thing.proto` (package `c1.example.v1`)",
  "imports: google/protobuf/any.proto, c1/example/v1/other.proto",
  "",
  "Prose between the tables is ignored.",
  "- msg `Thing` { id=1:string; parent=2:Thing [deprecated]; tags=3:map<string,Tag>; kind=4:optional Kind; user=10:UserInfo [oneof subject]; group=11:c1.example.v1.Group [oneof subject] [deprecated]; notes=5:repeated string } reserved: 6, 7 to 9",
  "- msg `Thing.Tag` { value=1:bytes }",
  "- enum `Kind` { KIND_UNSPECIFIED=0, KIND_BIG=1, KIND_NEGATIVE=-1 }",
  "**service c1.example.v1.ThingService**",
  "- rpc `Get(GetRequest) → GetResponse`",
  "- rpc `Upload(stream UploadRequest) → UploadResponse`",
  "- rpc `Watch(WatchRequest) → stream c1.example.v1.Event`",
].join("\n");

/** A message of the reference tables `files`, by .proto file and name. */
function refMessage(files: Map<string, RefFile>, file: string, message: string): RefFile["messages"][number] {
  const found = files.get(`c1/${file}.proto`)?.messages.find((m) => m.name === message);
  if (!found) throw new Error(`no message ${message} in c1/${file}.proto`);
  return found;
}
const refField = (files: Map<string, RefFile>, file: string, message: string, field: string): RefField =>
  refMessage(files, file, message).fields.find((f) => f.name === field)!;

describe("wire reference", () => {
  it("the parser reads every table form of the reference's notation", () => {
    const file = parseWireReference(SAMPLE).get("c1/example/v1/thing.proto")!;
    expect(file).toMatchObject({ package: "c1.example.v1", imports: ["google/protobuf/any.proto", "c1/example/v1/other.proto"] });
    const thing = file.messages[0];
    expect(thing.reserved).toBe("6, 7 to 9");
    expect(thing.fields).toEqual([
      { name: "id", number: 1, type: "string", label: "singular", deprecated: false },
      { name: "parent", number: 2, type: "Thing", label: "singular", deprecated: true },
      { name: "tags", number: 3, type: "Tag", label: "map", mapKey: "string", deprecated: false },
      { name: "kind", number: 4, type: "Kind", label: "optional", deprecated: false },
      { name: "user", number: 10, type: "UserInfo", label: "singular", deprecated: false, oneof: "subject" },
      { name: "group", number: 11, type: "c1.example.v1.Group", label: "singular", deprecated: true, oneof: "subject" },
      { name: "notes", number: 5, type: "string", label: "repeated", deprecated: false },
    ]);
    expect(file.messages[1]).toEqual({ name: "Thing.Tag", fields: [{ name: "value", number: 1, type: "bytes", label: "singular", deprecated: false }], reserved: "" });
    expect(file.enums).toEqual([{ name: "Kind", values: [{ name: "KIND_UNSPECIFIED", number: 0 }, { name: "KIND_BIG", number: 1 }, { name: "KIND_NEGATIVE", number: -1 }] }]);
    expect(file.services).toEqual([
      {
        name: "ThingService",
        methods: [
          { name: "Get", input: "GetRequest", output: "GetResponse", clientStreaming: false, serverStreaming: false },
          { name: "Upload", input: "UploadRequest", output: "UploadResponse", clientStreaming: true, serverStreaming: false },
          { name: "Watch", input: "WatchRequest", output: "c1.example.v1.Event", clientStreaming: false, serverStreaming: true },
        ],
      },
    ]);
    expect(() => parseWireReference(`${SAMPLE}\n- msg \`Bad\` { id=x:string }`)).toThrow('bad field "id=x:string"');
    expect(() => parseWireReference(`${SAMPLE}\n- something else`)).toThrow("unrecognised wire-reference line: - something else");
  });

  it("the committed facts round-trip: what the extractor writes, the loader reads back as the parser's tables", () => {
    expect(readWireReference(extractWireReference(SAMPLE).text)).toEqual(parseWireReference(SAMPLE));
  });

  it.skipIf(!haveSource)(
    `the committed wire-reference.json is fresh against ../shared/baton/wire-reference.md${haveSource ? "" : " (skipped: that file is not beside the repository)"}`,
    () => {
      const fresh = extractWireReference(readFileSync(sourcePath, "utf8")).text;
      const committed = readFileSync(committedWireReferenceUrl, "utf8");
      expect(committed === fresh, `${fileURLToPath(committedWireReferenceUrl)} is stale against ${sourcePath}: run \`npm run contracts\` and commit the result`).toBe(true);
    },
  );

  it("holds the reference tables", () => {
    const resource = reference.get("c1/connector/v2/resource.proto");
    expect(resource?.package).toBe("c1.connector.v2");
    const res = resource?.messages.find((m) => m.name === "Resource");
    expect(res?.fields.find((f) => f.name === "external_id")).toMatchObject({ number: 7, deprecated: true });
    const task = reference.get("c1/connectorapi/baton/v1/baton.proto")?.messages.find((m) => m.name === "Task");
    expect(task?.fields.filter((f) => f.oneof === "task_type")).toHaveLength(24);
    const upload = reference.get("c1/connectorapi/baton/v1/baton.proto")?.services[0]?.methods.find((m) => m.name === "UploadAsset");
    expect(upload).toMatchObject({ clientStreaming: true, serverStreaming: false });
  });

  it("our generated descriptors match every message, enum and service the reference lists", () => {
    const problems = compareWithReference(reference, generated);
    expect(problems, `wire mismatches:\n${problems.join("\n")}`).toEqual([]);
  });

  it("checks every file we define in the Baton packages", () => {
    const ours = [...generated.values()].filter((f) => checkedPackages.includes(f.proto.package ?? ""));
    const unchecked = ours.map((f) => f.proto.name).filter((name) => !reference.has(name));
    expect(unchecked, "files in Baton packages that the reference does not list").toEqual([]);
    expect(ours.length).toBeGreaterThanOrEqual(requiredFiles.length);
  });

  it("reports drift: a changed field number, type, enum value or oneof is caught", () => {
    const drifted = structuredClone(reference);
    refField(drifted, "connector/v2/resource", "Resource", "parent_resource_id").number = 9;
    refField(drifted, "connector/v2/resource", "Resource", "display_name").type = "uint32";
    const trait = drifted.get("c1/connector/v2/resource.proto")!.enums.find((e) => e.name === "ResourceType.Trait")!;
    trait.values.find((v) => v.name === "TRAIT_GROUP")!.number = 20;
    delete refField(drifted, "connectorapi/baton/v1/baton", "Task", "sync_full").oneof;
    refMessage(drifted, "connector/v2/annotation_raw_id", "RawId").fields.push({ name: "extra", number: 2, type: "bool", label: "singular", deprecated: false });
    const problems = compareWithReference(drifted, generated);
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
