/**
 * protojson output the way Baton's Go tools print it: camelCase names, defaults omitted, int64 as strings,
 * and google.protobuf.Any with its "@type" key first (protobuf-es puts it last). The registry knows every
 * message the c1.connector.v2 and c1.config.v1 protos declare, so annotations inside resources print too.
 */
import { createRegistry, toJson, type DescMessage, type JsonValue, type MessageShape, type Registry } from "@bufbuild/protobuf";
import { anyPack, AnySchema } from "@bufbuild/protobuf/wkt";
import { ConnectorCapabilitiesSchema, type ConnectorCapabilities } from "../gen/c1/connector/v2/connector_pb.js";
import { file_c1_connector_v2_action } from "../gen/c1/connector/v2/action_pb.js";
import { file_c1_connector_v2_annotation_baton_id } from "../gen/c1/connector/v2/annotation_baton_id_pb.js";
import { file_c1_connector_v2_annotation_entitlement } from "../gen/c1/connector/v2/annotation_entitlement_pb.js";
import { file_c1_connector_v2_annotation_etag } from "../gen/c1/connector/v2/annotation_etag_pb.js";
import { file_c1_connector_v2_annotation_exclusion_group } from "../gen/c1/connector/v2/annotation_exclusion_group_pb.js";
import { file_c1_connector_v2_annotation_external_link } from "../gen/c1/connector/v2/annotation_external_link_pb.js";
import { file_c1_connector_v2_annotation_external_ticket } from "../gen/c1/connector/v2/annotation_external_ticket_pb.js";
import { file_c1_connector_v2_annotation_grant } from "../gen/c1/connector/v2/annotation_grant_pb.js";
import { file_c1_connector_v2_annotation_grant_replaced } from "../gen/c1/connector/v2/annotation_grant_replaced_pb.js";
import { file_c1_connector_v2_annotation_id_alias } from "../gen/c1/connector/v2/annotation_id_alias_pb.js";
import { file_c1_connector_v2_annotation_ratelimit } from "../gen/c1/connector/v2/annotation_ratelimit_pb.js";
import { file_c1_connector_v2_annotation_raw_id } from "../gen/c1/connector/v2/annotation_raw_id_pb.js";
import { file_c1_connector_v2_annotation_request } from "../gen/c1/connector/v2/annotation_request_pb.js";
import { file_c1_connector_v2_annotation_resource_deleted } from "../gen/c1/connector/v2/annotation_resource_deleted_pb.js";
import { file_c1_connector_v2_annotation_resource } from "../gen/c1/connector/v2/annotation_resource_pb.js";
import { file_c1_connector_v2_annotation_resource_tree } from "../gen/c1/connector/v2/annotation_resource_tree_pb.js";
import { file_c1_connector_v2_annotation_security_insight } from "../gen/c1/connector/v2/annotation_security_insight_pb.js";
import { file_c1_connector_v2_annotation_session } from "../gen/c1/connector/v2/annotation_session_pb.js";
import { file_c1_connector_v2_annotation_source_cache } from "../gen/c1/connector/v2/annotation_source_cache_pb.js";
import { file_c1_connector_v2_annotation_trait } from "../gen/c1/connector/v2/annotation_trait_pb.js";
import { file_c1_connector_v2_annotation_type_scoped_entitlements } from "../gen/c1/connector/v2/annotation_type_scoped_entitlements_pb.js";
import { file_c1_connector_v2_annotation_type_scoped_grants } from "../gen/c1/connector/v2/annotation_type_scoped_grants_pb.js";
import { file_c1_connector_v2_annotation_v1_identifier } from "../gen/c1/connector/v2/annotation_v1_identifier_pb.js";
import { file_c1_connector_v2_annotation_vendor_agreement } from "../gen/c1/connector/v2/annotation_vendor_agreement_pb.js";
import { file_c1_connector_v2_annotation_vendor } from "../gen/c1/connector/v2/annotation_vendor_pb.js";
import { file_c1_connector_v2_asset } from "../gen/c1/connector/v2/asset_pb.js";
import { file_c1_connector_v2_entitlement } from "../gen/c1/connector/v2/entitlement_pb.js";
import { file_c1_connector_v2_event_feed } from "../gen/c1/connector/v2/event_feed_pb.js";
import { file_c1_connector_v2_grant } from "../gen/c1/connector/v2/grant_pb.js";
import { file_c1_connector_v2_resource } from "../gen/c1/connector/v2/resource_pb.js";
import { file_c1_connector_v2_ticket } from "../gen/c1/connector/v2/ticket_pb.js";
import { file_c1_config_v1_config } from "../gen/c1/config/v1/config_pb.js";
import { file_c1_config_v1_rules } from "../gen/c1/config/v1/rules_pb.js";
import { file_c1_connector_v2_connector } from "../gen/c1/connector/v2/connector_pb.js";

export const protoRegistry: Registry = createRegistry(
  file_c1_connector_v2_action,
  file_c1_connector_v2_annotation_baton_id,
  file_c1_connector_v2_annotation_entitlement,
  file_c1_connector_v2_annotation_etag,
  file_c1_connector_v2_annotation_exclusion_group,
  file_c1_connector_v2_annotation_external_link,
  file_c1_connector_v2_annotation_external_ticket,
  file_c1_connector_v2_annotation_grant,
  file_c1_connector_v2_annotation_grant_replaced,
  file_c1_connector_v2_annotation_id_alias,
  file_c1_connector_v2_annotation_ratelimit,
  file_c1_connector_v2_annotation_raw_id,
  file_c1_connector_v2_annotation_request,
  file_c1_connector_v2_annotation_resource_deleted,
  file_c1_connector_v2_annotation_resource,
  file_c1_connector_v2_annotation_resource_tree,
  file_c1_connector_v2_annotation_security_insight,
  file_c1_connector_v2_annotation_session,
  file_c1_connector_v2_annotation_source_cache,
  file_c1_connector_v2_annotation_trait,
  file_c1_connector_v2_annotation_type_scoped_entitlements,
  file_c1_connector_v2_annotation_type_scoped_grants,
  file_c1_connector_v2_annotation_v1_identifier,
  file_c1_connector_v2_annotation_vendor_agreement,
  file_c1_connector_v2_annotation_vendor,
  file_c1_connector_v2_asset,
  file_c1_connector_v2_connector,
  file_c1_connector_v2_entitlement,
  file_c1_connector_v2_event_feed,
  file_c1_connector_v2_grant,
  file_c1_connector_v2_resource,
  file_c1_connector_v2_ticket,
  file_c1_config_v1_config,
  file_c1_config_v1_rules,
);

/** Moves "@type" to the front of every object that has one, at any depth (Go's protojson order). */
export function atTypeFirst(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(atTypeFirst);
  if (value === null || typeof value !== "object") return value;
  const out: { [key: string]: JsonValue } = {};
  if ("@type" in value) out["@type"] = value["@type"]!;
  for (const [key, v] of Object.entries(value)) if (key !== "@type") out[key] = atTypeFirst(v);
  return out;
}

export function protoJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): JsonValue {
  return atTypeFirst(toJson(schema, message, { registry: protoRegistry }));
}

/** The `capabilities` output: protojson of Any(ConnectorCapabilities), "@type" first. */
export function capabilitiesJson(capabilities: ConnectorCapabilities): JsonValue {
  return protoJson(AnySchema, anyPack(ConnectorCapabilitiesSchema, capabilities));
}

/** Two-space indented JSON with a trailing newline, as the committed baton_capabilities.json / config_schema.json. */
export function prettyJson(value: JsonValue): string {
  return JSON.stringify(value, null, 2) + "\n";
}
