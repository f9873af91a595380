/**
 * Capabilities are derived from what a connector implements, never declared by hand: a syncer with a
 * provisioner can grant and revoke, one with an account manager can create accounts, and so on.
 */
import { create } from "@bufbuild/protobuf";
import {
  Capability,
  ConnectorAccountCreationSchemaSchema,
  ConnectorAccountCreationSchema_FieldSchema,
  ConnectorCapabilitiesSchema,
  ConnectorMetadataSchema,
  CredentialDetailsAccountProvisioningSchema,
  CredentialDetailsCredentialRotationSchema,
  CredentialDetailsSchema,
  ResourceTypeCapabilitySchema,
  type ConnectorCapabilities,
  type ConnectorMetadata,
} from "../gen/c1/connector/v2/connector_pb.js";
import { ResourceType_Trait } from "../gen/c1/connector/v2/resource_pb.js";
import type { Connector, ResourceSyncer } from "./types.ts";
import { credentialIssueDetails, issuerSyncers } from "./credential-issue.ts";

function syncerCapabilities(s: ResourceSyncer): Capability[] {
  const caps: Capability[] = [Capability.SYNC];
  // A type that can fetch one resource by id can be synced on its own (GetResource, PROTOCOL-2 §8).
  if (s.get) caps.push(Capability.TARGETED_SYNC);
  if (s.provisioner) caps.push(Capability.PROVISION);
  if (s.accountManager) caps.push(Capability.ACCOUNT_PROVISIONING);
  // Go's order (§8): delete, rotation, issuance.
  if (s.deleter) caps.push(Capability.RESOURCE_DELETE);
  if (s.credentialManager) caps.push(Capability.CREDENTIAL_ROTATION);
  if (s.credentialIssuer) caps.push(Capability.CREDENTIAL_ISSUE);
  if (s.resourceType.traits.includes(ResourceType_Trait.SECRET)) caps.push(Capability.SYNC_SECRETS);
  return caps;
}

export function connectorCapabilities(connector: Connector): ConnectorCapabilities {
  const all = new Set<Capability>();
  const bySyncerType = issuerSyncers(connector);
  const resourceTypeCapabilities = connector.syncers.map((s) => {
    const capabilities = syncerCapabilities(s);
    for (const c of capabilities) all.add(c);
    // Checked here (§8): a misdeclared issuer fails GetMetadata and `capabilities`, naming what is wrong.
    const credentialIssue = credentialIssueDetails(s, bySyncerType);
    return create(ResourceTypeCapabilitySchema, { resourceType: s.resourceType, capabilities, credentialIssue });
  });
  // Sorted by resource type id, as Go sorts them (§8), so the output does not depend on declaration order.
  resourceTypeCapabilities.sort((a, b) => (a.resourceType!.id < b.resourceType!.id ? -1 : a.resourceType!.id > b.resourceType!.id ? 1 : 0));
  // Actions add nothing per type (§8); feeds and actions are connector-level capabilities.
  if ((connector.actions?.length ?? 0) > 0 || connector.syncers.some((s) => (s.actions?.length ?? 0) > 0)) all.add(Capability.ACTIONS);
  if ((connector.eventFeeds?.length ?? 0) > 0) all.add(Capability.EVENT_FEED_V2);
  // Service mode runs targeted sync_full tasks whenever some type can be targeted.
  if (all.has(Capability.TARGETED_SYNC)) all.add(Capability.SERVICE_MODE_TARGETED_SYNC);
  const accounts = connector.syncers.find((s) => s.accountManager)?.accountManager;
  const rotation = connector.syncers.find((s) => s.credentialManager)?.credentialManager;
  return create(ConnectorCapabilitiesSchema, {
    resourceTypeCapabilities,
    connectorCapabilities: [...all].sort((a, b) => a - b),
    credentialDetails:
      accounts || rotation
        ? create(CredentialDetailsSchema, {
            capabilityAccountProvisioning: accounts
              ? create(CredentialDetailsAccountProvisioningSchema, {
                  supportedCredentialOptions: accounts.credentialOptions,
                  preferredCredentialOption: accounts.preferredCredentialOption,
                })
              : undefined,
            capabilityCredentialRotation: rotation
              ? create(CredentialDetailsCredentialRotationSchema, {
                  supportedCredentialOptions: rotation.credentialOptions,
                  preferredCredentialOption: rotation.preferredCredentialOption,
                })
              : undefined,
          })
        : undefined,
  });
}

export function connectorMetadata(connector: Connector): ConnectorMetadata {
  const accountSchema = connector.syncers.find((s) => s.accountManager?.schema)?.accountManager?.schema;
  return create(ConnectorMetadataSchema, {
    displayName: connector.info.displayName,
    description: connector.info.description ?? "",
    helpUrl: connector.info.helpUrl ?? "",
    capabilities: connectorCapabilities(connector),
    accountCreationSchema: accountSchema
      ? create(ConnectorAccountCreationSchemaSchema, {
          fieldMap: Object.fromEntries(
            Object.entries(accountSchema).map(([k, v]) => [k, create(ConnectorAccountCreationSchema_FieldSchema, v)]),
          ),
        })
      : undefined,
  });
}
