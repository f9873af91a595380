/**
 * The connector as the sync engine and the provisioning runner see it: the c1.connector.v2 RPCs as async
 * functions. Two implementations exist and give identical results: the in-process one (service.ts) and a gRPC
 * client of a connector served elsewhere (src/grpc/connector-client.ts).
 */
import type { DescMessage, DescMethodUnary, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import {
  AccountManagerService,
  CredentialManagerService,
  ResourceDeleterService,
  ResourceGetterService,
  ResourceManagerService,
  ResourcesService,
  ResourceTypesService,
} from "../gen/c1/connector/v2/resource_pb.js";
import { ConnectorService } from "../gen/c1/connector/v2/connector_pb.js";
import { EntitlementsService } from "../gen/c1/connector/v2/entitlement_pb.js";
import { GrantManagerService, GrantsService } from "../gen/c1/connector/v2/grant_pb.js";
import { ActionService } from "../gen/c1/connector/v2/action_pb.js";
import { EventService } from "../gen/c1/connector/v2/event_feed_pb.js";
import type { SessionBackend } from "./session.ts";

export interface RpcOptions {
  signal?: AbortSignal;
  /** In process only: where ctx.session keeps this call's values (the sync engine passes its c1z's). */
  sessions?: SessionBackend;
}

export type UnaryRpc<I extends DescMessage, O extends DescMessage> = (
  request: MessageInitShape<I>,
  options?: RpcOptions,
) => Promise<MessageShape<O>>;

/** The unary methods of a service, keyed by their local (lowerCamelCase) names. */
export type ServiceRpc<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends DescMethodUnary<infer I, infer O> ? UnaryRpc<I, O> : never;
};

/** The services a connector built on this SDK answers. Asset and ticket services answer UNIMPLEMENTED. */
export const connectorServices = [
  ConnectorService,
  ResourceTypesService,
  ResourcesService,
  ResourceGetterService,
  EntitlementsService,
  GrantsService,
  GrantManagerService,
  ResourceManagerService,
  ResourceDeleterService,
  AccountManagerService,
  CredentialManagerService,
  ActionService,
  EventService,
] as const;

export type ConnectorRpc = ServiceRpc<typeof ConnectorService> &
  ServiceRpc<typeof ResourceTypesService> &
  ServiceRpc<typeof ResourcesService> &
  ServiceRpc<typeof ResourceGetterService> &
  ServiceRpc<typeof EntitlementsService> &
  ServiceRpc<typeof GrantsService> &
  ServiceRpc<typeof GrantManagerService> &
  ServiceRpc<typeof ResourceManagerService> &
  ServiceRpc<typeof ResourceDeleterService> &
  ServiceRpc<typeof AccountManagerService> &
  ServiceRpc<typeof CredentialManagerService> &
  ServiceRpc<typeof ActionService> &
  ServiceRpc<typeof EventService>;
