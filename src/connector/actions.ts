/**
 * The author API of actions (c1.connector.v2.ActionService, PROTOCOL-2 §3): named operations the platform can
 * run on demand, each described by a schema of arguments. Global actions hang off `Connector.actions`;
 * resource-scoped ones off `ResourceSyncer.actions` (the SDK sets their `resource_type_id` to the syncer's type).
 *
 * The SDK owns everything around the handler: the invocation id (a KSUID), the inline wait, the in-memory
 * status table that GetActionStatus reads, constraint checks on the arguments, and turning a thrown error into
 * a FAILED status whose response carries `"error"`. See action-manager.ts.
 */
import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import type { ConstraintSchema, FieldSchema } from "../gen/c1/config/v1/config_pb.js";
import type { ActionType } from "../gen/c1/connector/v2/action_pb.js";
import type { ResourceId } from "../gen/c1/connector/v2/resource_pb.js";
import type { CallContext } from "./types.ts";

/** One argument or return value of an action: a c1.config.v1.Field init, e.g. `{ name: "reason", displayName: "Reason", field: { case: "stringField", value: {} } }`. */
export type ActionField = MessageInitShape<typeof FieldSchema>;
/** A rule over several arguments (REQUIRED_TOGETHER, AT_LEAST_ONE, MUTUALLY_EXCLUSIVE, DEPENDENT_ON), checked by the SDK before the handler runs. */
export type ActionConstraint = MessageInitShape<typeof ConstraintSchema>;

/**
 * What a handler answers. `complete` settles the action now (status COMPLETE). `pending` says the work goes on
 * elsewhere: the status stays RUNNING until `ActionDefinition.status` reports it settled. A handler that fails
 * throws (a ConnectorError names the reason); the SDK records FAILED with `{"error": message}`.
 */
export type ActionOutcome =
  | { status: "complete"; response?: JsonObject; annotations?: Any[] }
  | {
      status: "pending";
      response?: JsonObject;
      annotations?: Any[];
      /** The connector's own handle on the remote work, passed back to `status`. Never shown to callers. */
      handle?: string;
    };

/** What `status` may answer for pending work: still going, done, or failed (with a message callers see). */
export type ActionProgress =
  | { status: "pending"; response?: JsonObject }
  | { status: "complete"; response?: JsonObject; annotations?: Any[] }
  | { status: "failed"; error: string; response?: JsonObject };

export interface ActionDefinition {
  /** Unique among the global actions, or among one resource type's actions. 1–1024 bytes. */
  readonly name: string;
  readonly displayName: string;
  readonly description?: string;
  /** What kind of operation this is. Within one resource type, each type other than UNSPECIFIED/DYNAMIC may be used by one action only. */
  readonly actionTypes: readonly ActionType[];
  readonly arguments: readonly ActionField[];
  readonly constraints?: readonly ActionConstraint[];
  readonly returnTypes?: readonly ActionField[];
  /**
   * True for actions that change the target system (disable a user…): they are refused with FAILED_PRECONDITION
   * unless the connector runs with `--provisioning`, like grants and revokes. Read-only actions leave it unset.
   */
  readonly requiresProvisioning?: boolean;
  /**
   * Runs the action. `args` is the request's `google.protobuf.Struct` as JSON. For a resource-scoped action,
   * `resourceId` is read from its first argument of kind `resourceIdField` (a struct with `resource_type_id` /
   * `resourceTypeId` and `resource_id` / `resourceId`); it is undefined when the schema has no such argument.
   * The handler runs detached from the RPC (the caller may get RUNNING and poll), with `ctx.signal` aborting
   * only when the connector shuts down or the 1 h bound passes.
   */
  invoke(ctx: CallContext, args: JsonObject, resourceId: ResourceId | undefined): Promise<ActionOutcome>;
  /** Polled by GetActionStatus while an invocation is pending (only after `invoke` answered `pending`). */
  status?(ctx: CallContext, handle: string | undefined): Promise<ActionProgress>;
}
