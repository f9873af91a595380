/**
 * The connector author's interface. A connector declares its resource types and, per type, a syncer that
 * lists resources, entitlements and grants one page at a time (a type without entitlements or grants leaves
 * those methods out). Every call gets a CallContext whose `session` keeps values for the rest of the sync.
 * Provisioning is opt-in per type: a syncer that
 * implements `provisioner`, `accountManager`, `credentialManager` or `deleter` gets the matching capability,
 * and nothing else has to be declared (capabilities are derived, never written by hand).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import type { Logger } from "pino";
import type {
  AccountInfo,
  CredentialOptions,
  PlaintextData,
  Resource,
  ResourceId,
  ResourceType,
} from "../gen/c1/connector/v2/resource_pb.js";
import type { Entitlement } from "../gen/c1/connector/v2/entitlement_pb.js";
import type { Grant } from "../gen/c1/connector/v2/grant_pb.js";
import type {
  CapabilityDetailCredentialOption,
  ConnectorAccountCreationSchema_FieldSchema,
} from "../gen/c1/connector/v2/connector_pb.js";
import type { TenantIdentity } from "./tenant.ts";
import type { SessionStore } from "./session.ts";
import type { ActionDefinition } from "./actions.ts";
import type { EventFeed } from "./events.ts";
import type { CredentialIssuer } from "./credential-issuer.ts";

export type { TenantIdentity } from "./tenant.ts";
export type { SessionStore } from "./session.ts";

/** What every connector call receives: cancellation and a logger scoped to the call. */
export interface CallContext {
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** The sync this call belongs to, when the caller is a sync. */
  readonly activeSyncId?: string;
  /**
   * Values kept for the rest of this sync (a lookup fetched once, a discovery index), resumed with it when the
   * sync is backed by a c1z. Always present: outside a sync it keeps values for this call only. See session.ts.
   */
  readonly session: SessionStore;
}

/** A resource the SDK hands to a syncer: its id is always there (the request was refused without one). */
export type ListedResource = Resource & { readonly id: ResourceId };

/** One page of a listing. An empty or absent `nextPageToken` ends the listing. */
export interface Page<T> {
  items: T[];
  nextPageToken?: string;
  annotations?: Any[];
}

export interface Annotated {
  annotations?: Any[];
}

export interface Provisioner {
  /** Grants `entitlement` to `principal`. Already held → succeed with a GrantAlreadyExists annotation. */
  grant(ctx: CallContext, principal: Resource, entitlement: Entitlement): Promise<Annotated & { grants?: Grant[] }>;
  /** Revokes `grant`. Already absent → succeed with a GrantAlreadyRevoked annotation. */
  revoke(ctx: CallContext, grant: Grant): Promise<Annotated>;
}

export type CreateAccountResult =
  | { kind: "success"; resource: Resource; invitationExpiresAt?: Date; plaintext?: PlaintextData[]; annotations?: Any[] }
  | { kind: "already_exists"; resource: Resource; annotations?: Any[] }
  | { kind: "action_required"; resource: Resource; message: string; annotations?: Any[] }
  | { kind: "in_progress"; resource: Resource; annotations?: Any[] };

export interface AccountManager {
  /** The fields the platform asks for when creating an account (keys are profile keys). */
  readonly schema?: Record<string, MessageInitShape<typeof ConnectorAccountCreationSchema_FieldSchema>>;
  readonly credentialOptions: CapabilityDetailCredentialOption[];
  readonly preferredCredentialOption: CapabilityDetailCredentialOption;
  create(ctx: CallContext, info: AccountInfo, options: CredentialOptions | undefined): Promise<CreateAccountResult>;
}

export interface CredentialManager {
  readonly credentialOptions: CapabilityDetailCredentialOption[];
  readonly preferredCredentialOption: CapabilityDetailCredentialOption;
  /**
   * Replaces the credential of `id`. Returns the new secret as plaintext; the SDK encrypts it for the requester
   * and drops the plaintext, so an implementation must not keep or log it.
   */
  rotate(ctx: CallContext, id: ResourceId, options: CredentialOptions | undefined): Promise<Annotated & { plaintext: PlaintextData[] }>;
}

export interface ResourceDeleter {
  delete(ctx: CallContext, id: ResourceId, parent: ResourceId | undefined): Promise<Annotated>;
}

export interface ResourceSyncer {
  readonly resourceType: ResourceType;
  list(ctx: CallContext, parent: ResourceId | undefined, pageToken: string): Promise<Page<Resource>>;
  /** The entitlements of one resource. Absent: the type has none, and the SDK answers an empty page. */
  entitlements?(ctx: CallContext, resource: ListedResource, pageToken: string): Promise<Page<Entitlement>>;
  /** The grants of one resource's entitlements. Absent: the type has none, and the SDK answers an empty page. */
  grants?(ctx: CallContext, resource: ListedResource, pageToken: string): Promise<Page<Grant>>;
  /** Entitlements every resource of this type has; the engine copies them onto each resource. */
  staticEntitlements?(ctx: CallContext, pageToken: string): Promise<Page<Entitlement>>;
  /** Fetches one resource; throws ConnectorError NOT_FOUND when it does not exist. */
  get?(ctx: CallContext, id: ResourceId, parent: ResourceId | undefined): Promise<Resource>;
  readonly provisioner?: Provisioner;
  readonly accountManager?: AccountManager;
  readonly credentialManager?: CredentialManager;
  readonly deleter?: ResourceDeleter;
  /** Optional: actions on one resource of this type (ActionService; see actions.ts). */
  readonly actions?: readonly ActionDefinition[];
  /** Optional: issues credentials for identities of this type (IssueCredential; see credential-issuer.ts). */
  readonly credentialIssuer?: CredentialIssuer;
}

export interface ConnectorInfo {
  displayName: string;
  description?: string;
  helpUrl?: string;
}

export interface Connector {
  readonly info: ConnectorInfo;
  readonly syncers: readonly ResourceSyncer[];
  /** Checks that the configuration works; throws a ConnectorError naming what is wrong. */
  validate(ctx: CallContext): Promise<Any[] | void>;
  /**
   * Optional: which tenant (org, account, workspace) the credentials reach; see tenant.ts. Runs alongside
   * `validate` and goes out with its answer. A sync records it and will not resume an unfinished sync with
   * credentials of another tenant. Without it (or when it returns undefined) that check cannot be made. A
   * failure here does not fail Validate: it is logged and the sync goes on without an identity.
   */
  tenant?(ctx: CallContext): Promise<TenantIdentity | undefined>;
  /** Called once when the runner is done with the connector (close pools, timers). */
  close?(): Promise<void>;
  /**
   * Optional: resource types the connector has only when a setting turns them on, each with how to turn it on
   * (e.g. `{ schedule: "--sync-schedules / BATON_SYNC_SCHEDULES" }`). A request for such a type while it is
   * off is refused with FAILED_PRECONDITION naming that setting, not a bare "unknown resource type".
   */
  readonly optionalResourceTypes?: Readonly<Record<string, string>>;
  /** Optional: actions not tied to a resource type (ActionService; see actions.ts). */
  readonly actions?: readonly ActionDefinition[];
  /** Optional: event feeds (EventService; see events.ts). */
  readonly eventFeeds?: readonly EventFeed[];
}

