/**
 * Baton's generated messages a connector author uses (resources, traits, entitlements, grants, annotations),
 * re-exported from `src/gen` so connectors never reach into generated paths. `src/gen` itself is generated
 * (`npm run generate`) and never edited.
 */
export * from "./gen/c1/connector/v2/resource_pb.js";
export * from "./gen/c1/connector/v2/entitlement_pb.js";
export * from "./gen/c1/connector/v2/grant_pb.js";
export * from "./gen/c1/connector/v2/annotation_trait_pb.js";
export * from "./gen/c1/connector/v2/annotation_grant_pb.js";
export * from "./gen/c1/connector/v2/annotation_type_scoped_grants_pb.js";
export {
  CapabilityDetailCredentialOption,
  type ConnectorCapabilities,
  ConnectorCapabilitiesSchema,
} from "./gen/c1/connector/v2/connector_pb.js";
