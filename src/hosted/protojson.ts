/**
 * The protojson codec of the hosted envelope's legacy encoding (HOSTED-LAMBDA.md §4.2, §7): protobuf-es
 * toJson/fromJson with a registry of every message an invocation can carry — the c1.connector.v2 services'
 * requests, responses and annotations, google.rpc.Status, the transport envelope and the well-known types.
 * Decoding follows the Go transport: unknown fields are discarded, and when decoding fails the elements of
 * `annotations` arrays whose `@type` is unknown are pruned and decoding is tried once more.
 */
import {
  create,
  createFileRegistry,
  createRegistry,
  fromJson,
  toJson,
  type DescMessage,
  type JsonValue,
  type MessageShape,
  type Registry,
} from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
} from "@bufbuild/protobuf/wkt";
import { protoRegistry } from "../cli/json.ts";
import { file_google_rpc_status } from "../gen/google/rpc/status_pb.js";
import { file_c1_transport_v1_transport } from "../gen/c1/transport/v1/transport_pb.js";

/**
 * The SDK's own tenant annotation (src/connector/tenant.ts encodes it by hand, it has no .proto): described here
 * so that a legacy-encoded Validate response, which carries it, can be written as protojson.
 */
const tenantIdentityFile = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "baton_sdk_ts/v1/tenant_identity.proto",
    package: "baton_sdk_ts.v1",
    syntax: "proto3",
    messageType: [
      {
        name: "TenantIdentity",
        field: [
          { name: "id", jsonName: "id", number: 1, type: FieldDescriptorProto_Type.STRING, label: FieldDescriptorProto_Label.OPTIONAL },
          { name: "display_name", jsonName: "displayName", number: 2, type: FieldDescriptorProto_Type.STRING, label: FieldDescriptorProto_Label.OPTIONAL },
        ],
      },
    ],
  }),
  () => undefined,
);

export const hostedRegistry: Registry = createRegistry(
  protoRegistry,
  tenantIdentityFile,
  file_google_rpc_status,
  file_c1_transport_v1_transport,
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
);

/** Deeper than any Baton message nests; a hostile payload nested deeper is not walked (fromJson refuses it anyway). */
const MAX_PRUNE_DEPTH = 64;

function typeNameOf(element: unknown): string | undefined {
  if (element === null || typeof element !== "object" || Array.isArray(element)) return undefined;
  const url = (element as Record<string, unknown>)["@type"];
  if (typeof url !== "string" || url === "") return undefined;
  const slash = url.lastIndexOf("/");
  const name = url.slice(slash + 1);
  return name === "" ? undefined : name;
}

/**
 * A copy of `value` where every array under a key named `annotations` keeps only the elements whose `@type`
 * the registry knows; elements without a usable `@type` are dropped only when some element has one (as Go does).
 * Returns the number of elements dropped beside the copy.
 */
export function pruneUnknownAnnotations(value: unknown, registry: Registry = hostedRegistry): { value: unknown; pruned: number } {
  let pruned = 0;
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > MAX_PRUNE_DEPTH || v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) return v.map((e) => walk(e, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(v as Record<string, unknown>)) {
      if (key === "annotations" && Array.isArray(child)) {
        const names = child.map(typeNameOf);
        const anyTyped = names.some((n) => n !== undefined);
        const kept = child.filter((_, i) => {
          const name = names[i];
          const keep = name === undefined ? !anyTyped : registry.getMessage(name) !== undefined;
          if (!keep) pruned++;
          return keep;
        });
        out[key] = kept.map((e) => walk(e, depth + 1));
      } else {
        out[key] = walk(child, depth + 1);
      }
    }
    return out;
  };
  return { value: walk(value, 0), pruned };
}

/** protojson → message, unknown fields discarded; on failure, once more with unknown annotations pruned. */
export function decodeProtoJson<D extends DescMessage>(schema: D, json: unknown, registry: Registry = hostedRegistry): MessageShape<D> {
  const options = { registry, ignoreUnknownFields: true };
  try {
    return fromJson(schema, json as JsonValue, options);
  } catch (first) {
    const { value, pruned } = pruneUnknownAnnotations(json, registry);
    if (pruned === 0) throw first;
    return fromJson(schema, value as JsonValue, options);
  }
}

/** message → protojson (lowerCamel names, defaults omitted, Any with `@type`, well-known types in their JSON form). */
export function encodeProtoJson<D extends DescMessage>(schema: D, message: MessageShape<D>, registry: Registry = hostedRegistry): JsonValue {
  return toJson(schema, message, { registry });
}
