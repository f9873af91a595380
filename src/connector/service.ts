/**
 * The in-process implementation of the c1.connector.v2 services for a Connector. Everything that must behave
 * the same whichever transport is used lives here: request limits, routing by resource type, the provisioning
 * switch, the repeated-token guard's precondition (tokens are passed through untouched) and encryption of
 * returned secrets.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Logger } from "pino";
import {
  ConnectorServiceCleanupResponseSchema,
  ConnectorServiceGetMetadataResponseSchema,
  ConnectorServiceValidateResponseSchema,
} from "../gen/c1/connector/v2/connector_pb.js";
import {
  CreateAccountResponse_ActionRequiredResultSchema,
  CreateAccountResponse_AlreadyExistsResultSchema,
  CreateAccountResponse_InProgressResultSchema,
  CreateAccountResponse_SuccessResultSchema,
  CreateAccountResponseSchema,
  DeleteResourceResponseSchema,
  DeleteResourceV2ResponseSchema,
  ResourceGetterServiceGetResourceResponseSchema,
  ResourcesServiceListResourcesResponseSchema,
  ResourceTypesServiceListResourceTypesResponseSchema,
  RotateCredentialResponseSchema,
  ResourceSchema,
  CreateAccountRequestSchema,
  RotateCredentialRequestSchema,
  AccountInfoSchema,
  type Resource,
  type ResourceId,
} from "../gen/c1/connector/v2/resource_pb.js";
import {
  EntitlementsServiceListEntitlementsResponseSchema,
  EntitlementsServiceListStaticEntitlementsResponseSchema,
  EntitlementSchema,
  type Entitlement,
} from "../gen/c1/connector/v2/entitlement_pb.js";
import {
  GrantManagerServiceGrantResponseSchema,
  GrantManagerServiceRevokeResponseSchema,
  GrantsServiceListGrantsResponseSchema,
  GrantSchema,
  type Grant,
} from "../gen/c1/connector/v2/grant_pb.js";
import { checkId, checkPaging, checkResourceId } from "./limits.ts";
import { Code, ConnectorError } from "./errors.ts";
import { connectorMetadata } from "./capabilities.ts";
import { encryptAll } from "./encryption.ts";
import type { ConnectorRpc, RpcOptions } from "./rpc.ts";
import { tenantAnnotation } from "./tenant.ts";
import { createActionManager } from "./action-manager.ts";
import { createEventService } from "./event-service.ts";
import { issueCredential } from "./credential-issue.ts";
import { envName, flagName } from "../config/names.ts";
import type { CallContext, Connector, ListedResource, Page, ResourceSyncer } from "./types.ts";
import { sessionStoreFor, type SessionBackend } from "./session.ts";
import { annotate, hasAnnotation } from "./annotations.ts";
import { RateLimitDescriptionSchema } from "../gen/c1/connector/v2/annotation_ratelimit_pb.js";
import { collectRateLimit } from "../http/rate-limit-report.ts";

/**
 * A list page with the rate limit its requests ran under, as a RateLimitDescription (what Go connectors attach to
 * their list responses), unless the connector put one there itself. Requests through the SDK's HttpClient report
 * it (http/rate-limit-report.ts); the sync engine serves the type whose limit is tightest first (sync/limit-aware.ts).
 */
async function reportingRateLimit<P extends Page<unknown>>(list: () => Promise<P>): Promise<P> {
  const { value: page, rateLimit } = await collectRateLimit(list);
  if (rateLimit === undefined || hasAnnotation(page.annotations, RateLimitDescriptionSchema)) return page;
  const reported = annotate.rateLimit({ limit: rateLimit.limit, remaining: rateLimit.remaining, resetAt: new Date(rateLimit.resetAt), overLimit: false });
  return { ...page, annotations: [...(page.annotations ?? []), reported] };
}

/** The baton-sdk release whose wire contract we follow; ≥ 0.4.3 tells a Go engine it may send active_sync_id. */
export const SDK_WIRE_VERSION = "0.25.0";

/** The provisioning switch is the SDK's own `--provisioning` setting, so the refusal names it. */
export const PROVISIONING_DISABLED = `provisioning is not enabled: start the connector with -p (${flagName("provisioning")}) or set ${envName("provisioning")}=true`;

export interface ConnectorServiceOptions {
  logger: Logger;
  /** Provisioning RPCs answer FAILED_PRECONDITION unless this is true. */
  provisioning: boolean;
  /**
   * Where ctx.session keeps values per sync (the c1z for a one-shot sync, memory for `serve`). Without it, or
   * for a call that names no sync, ctx.session keeps values for that call only.
   */
  sessions?: SessionBackend;
}

export function createConnectorService(connector: Connector, options: ConnectorServiceOptions): ConnectorRpc {
  const syncers = new Map<string, ResourceSyncer>();
  for (const s of connector.syncers) syncers.set(s.resourceType.id, s);
  const resourceTypes = connector.syncers.map((s) => s.resourceType);
  const optionalTypes = new Map(Object.entries(connector.optionalResourceTypes ?? {}));

  const ctxOf = (opts: RpcOptions | undefined, activeSyncId = ""): CallContext => ({
    signal: opts?.signal ?? new AbortController().signal,
    logger: options.logger,
    activeSyncId: activeSyncId || undefined,
    session: sessionStoreFor(opts?.sessions ?? options.sessions, activeSyncId || undefined),
  });

  // Actions, event feeds and issuance have their own modules (one job each); a misdeclared one fails here, at start.
  const actions = createActionManager(connector, {
    logger: options.logger,
    provisioning: options.provisioning,
    provisioningDisabled: PROVISIONING_DISABLED,
    contextFor: (signal) => ctxOf({ signal }),
  });
  const eventFeeds = createEventService(connector);

  const syncerFor = (resourceTypeId: string): ResourceSyncer => {
    checkId("resource_type_id", resourceTypeId);
    const s = syncers.get(resourceTypeId);
    const enabledBy = s ? undefined : optionalTypes.get(resourceTypeId);
    if (enabledBy !== undefined) {
      throw new ConnectorError(
        Code.FAILED_PRECONDITION,
        `resource type "${resourceTypeId}" is not enabled: turn it on with ${enabledBy} (enabled: ${[...syncers.keys()].join(", ")})`,
      );
    }
    if (!s) {
      throw new ConnectorError(
        Code.INVALID_ARGUMENT,
        `unknown resource type "${resourceTypeId.slice(0, 64)}" (known: ${[...syncers.keys()].join(", ")})`,
      );
    }
    return s;
  };

  /** ListEntitlements and ListGrants: checks, routing by the resource's type, and the page as a response init. */
  const listForResource = async <T,>(
    req: { resource?: MessageInitShape<typeof ResourceSchema>; pageSize?: number; pageToken?: string; activeSyncId?: string },
    opts: RpcOptions | undefined,
    list: (syncer: ResourceSyncer, ctx: CallContext, resource: ListedResource, pageToken: string) => Promise<Page<T>>,
  ) => {
    checkPaging({ pageSize: req.pageSize ?? 0, pageToken: req.pageToken ?? "" });
    const resource = asResource(req.resource);
    const id = checkResourceId("resource.id", resource.id);
    const page = await reportingRateLimit(() =>
      list(syncerFor(id.resourceType), ctxOf(opts, req.activeSyncId), resource as ListedResource, req.pageToken ?? ""),
    );
    return { list: page.items, nextPageToken: page.nextPageToken ?? "", annotations: page.annotations ?? [] };
  };

  const requireProvisioning = () => {
    if (!options.provisioning) throw new ConnectorError(Code.FAILED_PRECONDITION, PROVISIONING_DISABLED);
  };

  // A type that takes no change at all is read-only, which is what its documentation calls it too.
  const unsupported = (what: string, resourceTypeId: string) => {
    const s = syncers.get(resourceTypeId);
    const readOnly = s !== undefined && !s.provisioner && !s.deleter && !s.credentialManager && !s.accountManager;
    return new ConnectorError(
      Code.FAILED_PRECONDITION,
      readOnly ? `resource type "${resourceTypeId}" is read-only: it does not support ${what}` : `resource type "${resourceTypeId}" does not support ${what}`,
    );
  };

  const deleteResource = async (resourceId: ResourceId | undefined, parent: ResourceId | undefined, opts?: RpcOptions) => {
    requireProvisioning();
    const id = checkResourceId("resource_id", resourceId);
    const syncer = syncerFor(id.resourceType);
    if (!syncer.deleter) throw unsupported("deletion", id.resourceType);
    return syncer.deleter.delete(ctxOf(opts), id, parent);
  };

  return {
    async getMetadata() {
      return create(ConnectorServiceGetMetadataResponseSchema, { metadata: connectorMetadata(connector) });
    },

    async validate(_req, opts) {
      const ctx = ctxOf(opts);
      // Side by side: the identity costs no extra round trip. Validate's own failure is the one reported.
      const [validated, tenant] = await Promise.allSettled([connector.validate(ctx), connector.tenant?.(ctx)]);
      if (validated.status === "rejected") throw validated.reason;
      const annotations = [...(validated.value ?? [])];
      if (tenant.status === "rejected") {
        options.logger.warn({ err: (tenant.reason as Error)?.message }, "could not tell which tenant the credentials reach; a resumed sync cannot be checked against it");
      } else if (tenant.value) {
        annotations.push(tenantAnnotation(tenant.value));
      }
      return create(ConnectorServiceValidateResponseSchema, { annotations, sdkVersion: SDK_WIRE_VERSION });
    },

    async cleanup() {
      return create(ConnectorServiceCleanupResponseSchema, {});
    },

    async listResourceTypes(req) {
      checkPaging({ pageSize: req.pageSize ?? 0, pageToken: req.pageToken ?? "" });
      return create(ResourceTypesServiceListResourceTypesResponseSchema, { list: resourceTypes });
    },

    async listResources(req, opts) {
      checkPaging({ pageSize: req.pageSize ?? 0, pageToken: req.pageToken ?? "" });
      const syncer = syncerFor(req.resourceTypeId ?? "");
      const parent = req.parentResourceId ? checkResourceId("parent_resource_id", req.parentResourceId as ResourceId) : undefined;
      const page = await reportingRateLimit(() => syncer.list(ctxOf(opts, req.activeSyncId), parent, req.pageToken ?? ""));
      return create(ResourcesServiceListResourcesResponseSchema, {
        list: page.items,
        nextPageToken: page.nextPageToken ?? "",
        annotations: page.annotations ?? [],
      });
    },

    async getResource(req, opts) {
      const id = checkResourceId("resource_id", req.resourceId as ResourceId | undefined);
      const syncer = syncerFor(id.resourceType);
      if (!syncer.get) throw new ConnectorError(Code.UNIMPLEMENTED, `resource type "${id.resourceType}" does not support get`);
      const parent = req.parentResourceId as ResourceId | undefined;
      const resource = await syncer.get(ctxOf(opts, req.activeSyncId), id, parent);
      return create(ResourceGetterServiceGetResourceResponseSchema, { resource });
    },

    async listEntitlements(req, opts) {
      const page = await listForResource(req, opts, (syncer, ctx, resource, token) =>
        // A type that declares no entitlements has none: an empty page, as a Go connector answers.
        syncer.entitlements ? syncer.entitlements(ctx, resource, token) : Promise.resolve({ items: [] }),
      );
      return create(EntitlementsServiceListEntitlementsResponseSchema, page);
    },

    async listStaticEntitlements(req, opts) {
      checkPaging({ pageSize: req.pageSize ?? 0, pageToken: req.pageToken ?? "" });
      const syncer = syncerFor(req.resourceTypeId ?? "");
      if (!syncer.staticEntitlements) return create(EntitlementsServiceListStaticEntitlementsResponseSchema, {});
      const page = await syncer.staticEntitlements(ctxOf(opts, req.activeSyncId), req.pageToken ?? "");
      return create(EntitlementsServiceListStaticEntitlementsResponseSchema, {
        list: page.items,
        nextPageToken: page.nextPageToken ?? "",
        annotations: page.annotations ?? [],
      });
    },

    async listGrants(req, opts) {
      const page = await listForResource(req, opts, (syncer, ctx, resource, token) =>
        syncer.grants ? syncer.grants(ctx, resource, token) : Promise.resolve({ items: [] }),
      );
      return create(GrantsServiceListGrantsResponseSchema, page);
    },

    async grant(req, opts) {
      requireProvisioning();
      const entitlement = asEntitlement(req.entitlement);
      const principal = asResource(req.principal);
      checkId("entitlement.id", entitlement.id);
      checkResourceId("principal.id", principal.id);
      const typeId = checkResourceId("entitlement.resource.id", entitlement.resource?.id).resourceType;
      const syncer = syncerFor(typeId);
      if (!syncer.provisioner) throw unsupported("grants", typeId);
      const result = await syncer.provisioner.grant(ctxOf(opts), principal, entitlement);
      return create(GrantManagerServiceGrantResponseSchema, {
        annotations: result.annotations ?? [],
        grants: result.grants ?? [],
      });
    },

    async revoke(req, opts) {
      requireProvisioning();
      const grant = asGrant(req.grant);
      checkId("grant.id", grant.id);
      checkResourceId("grant.principal.id", grant.principal?.id);
      const typeId = checkResourceId("grant.entitlement.resource.id", grant.entitlement?.resource?.id).resourceType;
      const syncer = syncerFor(typeId);
      if (!syncer.provisioner) throw unsupported("revoking grants", typeId);
      const result = await syncer.provisioner.revoke(ctxOf(opts), grant);
      return create(GrantManagerServiceRevokeResponseSchema, { annotations: result.annotations ?? [] });
    },

    async createResource() {
      requireProvisioning();
      throw new ConnectorError(Code.UNIMPLEMENTED, "this connector does not create resources");
    },

    async deleteResource(req, opts) {
      const r = await deleteResource(req.resourceId as ResourceId | undefined, req.parentResourceId as ResourceId | undefined, opts);
      return create(DeleteResourceResponseSchema, { annotations: r.annotations ?? [] });
    },

    async deleteResourceV2(req, opts) {
      const r = await deleteResource(req.resourceId as ResourceId | undefined, req.parentResourceId as ResourceId | undefined, opts);
      return create(DeleteResourceV2ResponseSchema, { annotations: r.annotations ?? [] });
    },

    async createAccount(req, opts) {
      requireProvisioning();
      const typeId =
        req.resourceTypeId || connector.syncers.find((s) => s.accountManager)?.resourceType.id || "";
      const syncer = syncerFor(typeId);
      if (!syncer.accountManager) throw unsupported("account creation", typeId);
      const request = create(CreateAccountRequestSchema, req);
      const result = await syncer.accountManager.create(ctxOf(opts), request.accountInfo ?? create(AccountInfoSchema), request.credentialOptions);
      const encryptedData =
        result.kind === "success" && result.plaintext?.length
          ? await encryptAll(request.encryptionConfigs, result.plaintext)
          : [];
      const annotations = result.annotations ?? [];
      switch (result.kind) {
        case "success":
          return create(CreateAccountResponseSchema, {
            result: {
              case: "success",
              value: create(CreateAccountResponse_SuccessResultSchema, {
                resource: result.resource,
                isCreateAccountResult: true,
                invitationExpiresAt: result.invitationExpiresAt ? timestampFromDate(result.invitationExpiresAt) : undefined,
              }),
            },
            encryptedData,
            annotations,
          });
        case "already_exists":
          return create(CreateAccountResponseSchema, {
            result: {
              case: "alreadyExists",
              value: create(CreateAccountResponse_AlreadyExistsResultSchema, { resource: result.resource, isCreateAccountResult: true }),
            },
            annotations,
          });
        case "action_required":
          return create(CreateAccountResponseSchema, {
            result: {
              case: "actionRequired",
              value: create(CreateAccountResponse_ActionRequiredResultSchema, {
                resource: result.resource,
                message: result.message,
                isCreateAccountResult: true,
              }),
            },
            annotations,
          });
        case "in_progress":
          return create(CreateAccountResponseSchema, {
            result: {
              case: "inProgress",
              value: create(CreateAccountResponse_InProgressResultSchema, { resource: result.resource, isCreateAccountResult: true }),
            },
            annotations,
          });
      }
    },

    async rotateCredential(req, opts) {
      requireProvisioning();
      const request = create(RotateCredentialRequestSchema, req);
      const id = checkResourceId("resource_id", request.resourceId);
      const syncer = syncerFor(id.resourceType);
      if (!syncer.credentialManager) throw unsupported("credential rotation", id.resourceType);
      if (request.encryptionConfigs.length === 0) {
        throw new ConnectorError(Code.INVALID_ARGUMENT, "rotate credential: encryption_configs is required; a new secret is never returned in plaintext");
      }
      const result = await syncer.credentialManager.rotate(ctxOf(opts), id, request.credentialOptions);
      const encryptedData = await encryptAll(request.encryptionConfigs, result.plaintext);
      return create(RotateCredentialResponseSchema, { encryptedData, resourceId: id, annotations: result.annotations ?? [] });
    },

    async issueCredential(req, opts) {
      requireProvisioning();
      return issueCredential(req, { syncerFor, syncers, ctx: ctxOf(opts) });
    },

    async listActionSchemas(req) {
      return actions.listActionSchemas(req);
    },

    async getActionSchema(req) {
      return actions.getActionSchema(req);
    },

    async invokeAction(req, opts) {
      return actions.invokeAction(req, opts?.signal);
    },

    async getActionStatus(req, opts) {
      return actions.getActionStatus(req, opts?.signal);
    },

    async listEventFeeds() {
      return eventFeeds.listEventFeeds();
    },

    async listEvents(req, opts) {
      return eventFeeds.listEvents(req, ctxOf(opts));
    },
  };
}

// Requests arrive either as decoded messages (gRPC) or as init objects (in-process callers); these normalise.
const asResource = (init: MessageInitShape<typeof ResourceSchema> | undefined): Resource => create(ResourceSchema, init ?? {});
const asEntitlement = (init: MessageInitShape<typeof EntitlementSchema> | undefined): Entitlement =>
  create(EntitlementSchema, init ?? {});
const asGrant = (init: MessageInitShape<typeof GrantSchema> | undefined): Grant => create(GrantSchema, init ?? {});
