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
// Security insights (a connector's findings about risky access: SecurityInsightTrait on a resource).
export * from "./gen/c1/connector/v2/annotation_security_insight_pb.js";
export {
  CapabilityDetailCredentialOption,
  type ConnectorCapabilities,
  ConnectorCapabilitiesSchema,
  type CredentialIssueOptionDescriptor,
  CredentialIssueOptionDescriptorSchema,
  IssuanceExpiryCapabilitySchema,
} from "./gen/c1/connector/v2/connector_pb.js";
// Actions, event feeds and the argument schemas they use (c1.config.v1 Field / Constraint).
export * from "./gen/c1/connector/v2/action_pb.js";
export * from "./gen/c1/connector/v2/event_feed_pb.js";
export { type Field, FieldSchema, type Constraint, ConstraintSchema, ConstraintKind } from "./gen/c1/config/v1/config_pb.js";
