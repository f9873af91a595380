/**
 * The ActionService behind every transport (in-process, gRPC, hosted): registration checks, schema listing,
 * invocation with an inline wait, and the status table GetActionStatus reads (PROTOCOL-2 §3.2–3.3).
 *
 * An invocation runs detached from the call that started it: the call waits `inline_wait` (≤ 0 → 1 s, at most
 * 1 h) and answers COMPLETE/FAILED if the handler settled by then, else RUNNING with an id to poll. The table is
 * in this process's memory (a restart forgets it, as in Go) and bounded: past MAX_TRACKED the oldest settled
 * entries go; when every entry is still running, new invocations are refused rather than growing without end.
 */
import { create, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import type { Duration } from "@bufbuild/protobuf/wkt";
import type { Logger } from "pino";
import { ConstraintKind, ConstraintSchema, type Constraint } from "../gen/c1/config/v1/config_pb.js";
import {
  ActionType,
  BatonActionSchemaSchema,
  BatonActionStatus,
  GetActionSchemaResponseSchema,
  GetActionStatusResponseSchema,
  InvokeActionResponseSchema,
  ListActionSchemasResponseSchema,
  type BatonActionSchema,
  type GetActionSchemaResponse,
  type GetActionStatusResponse,
  type InvokeActionResponse,
  type ListActionSchemasResponse,
} from "../gen/c1/connector/v2/action_pb.js";
import { ResourceIdSchema, type ResourceId } from "../gen/c1/connector/v2/resource_pb.js";
import { newKsuid } from "../store/ksuid.ts";
import type { ActionDefinition, ActionOutcome, ActionProgress } from "./actions.ts";
import { Code, ConnectorError } from "./errors.ts";
import { checkId } from "./limits.ts";
import type { CallContext, Connector } from "./types.ts";

/** Settled entries kept for GetActionStatus (Go keeps 1000 too). */
export const MAX_TRACKED_ACTIONS = 1000;
/** A handler is aborted after this long, whatever it is doing. */
export const ACTION_TIMEOUT_MS = 60 * 60 * 1000;
const DEFAULT_INLINE_WAIT_MS = 1000;
const MAX_INLINE_WAIT_SECONDS = 86_400;

interface Registered {
  definition: ActionDefinition;
  schema: BatonActionSchema;
  constraints: Constraint[];
}

interface Invocation {
  id: string;
  name: string;
  status: BatonActionStatus;
  response?: JsonObject;
  annotations: NonNullable<ActionOutcome["annotations"]>;
  definition: ActionDefinition;
  /** The handler answered `pending`: GetActionStatus asks its `status` until settled. */
  pending?: boolean;
  handle?: string;
  /** Set while a `status` poll is running, so concurrent GetActionStatus calls share it. */
  polling?: Promise<void>;
}

export interface ActionInvokeRequest {
  name?: string;
  args?: JsonObject;
  resourceTypeId?: string;
  inlineWait?: { seconds?: bigint; nanos?: number } | Duration;
}

export interface ActionManager {
  readonly count: number;
  listActionSchemas(req: { resourceTypeId?: string }): ListActionSchemasResponse;
  getActionSchema(req: { name?: string }): GetActionSchemaResponse;
  invokeAction(req: ActionInvokeRequest, signal?: AbortSignal): Promise<InvokeActionResponse>;
  getActionStatus(req: { id?: string }, signal?: AbortSignal): Promise<GetActionStatusResponse>;
  /** Aborts running handlers (the connector is shutting down). */
  close(): void;
}

const isSettled = (s: BatonActionStatus) => s === BatonActionStatus.COMPLETE || s === BatonActionStatus.FAILED;
const invalid = (message: string) => new ConnectorError(Code.INVALID_ARGUMENT, message);

function schemaOf(d: ActionDefinition, resourceTypeId: string): Registered {
  const constraints = (d.constraints ?? []).map((c) => create(ConstraintSchema, c));
  const schema = create(BatonActionSchemaSchema, {
    name: d.name,
    displayName: d.displayName,
    description: d.description ?? "",
    actionType: [...d.actionTypes],
    arguments: [...d.arguments],
    constraints,
    returnTypes: [...(d.returnTypes ?? [])],
    resourceTypeId,
  });
  return { definition: d, schema, constraints };
}

/** Registration rules of §3.2; a connector that breaks them fails at start, naming the action. */
function register(connector: Connector): { global: Map<string, Registered>; byType: Map<string, Map<string, Registered>> } {
  const checkName = (d: ActionDefinition, where: string) => {
    if (!d || typeof d.invoke !== "function") throw new Error(`${where}: an action needs a name and an invoke handler`);
    const n = Buffer.byteLength(d.name ?? "", "utf8");
    if (n === 0 || n > 1024) throw new Error(`${where}: action name must be 1–1024 bytes, got ${n}`);
  };
  const global = new Map<string, Registered>();
  for (const d of connector.actions ?? []) {
    checkName(d, "global actions");
    if (global.has(d.name)) throw new Error(`global actions: duplicate action name "${d.name}"`);
    global.set(d.name, schemaOf(d, ""));
  }
  const byType = new Map<string, Map<string, Registered>>();
  for (const s of connector.syncers) {
    if (!s.actions?.length) continue;
    const typeId = s.resourceType.id;
    const actions = new Map<string, Registered>();
    const typeOwner = new Map<ActionType, string>();
    for (const d of s.actions) {
      checkName(d, `actions of resource type "${typeId}"`);
      if (actions.has(d.name)) throw new Error(`actions of resource type "${typeId}": duplicate action name "${d.name}"`);
      for (const t of d.actionTypes) {
        if (t === ActionType.UNSPECIFIED || t === ActionType.DYNAMIC) continue;
        const other = typeOwner.get(t);
        if (other !== undefined && other !== d.name) {
          throw new Error(`actions of resource type "${typeId}": "${other}" and "${d.name}" both declare action type ${ActionType[t]}; each type may have one action of a kind`);
        }
        typeOwner.set(t, d.name);
      }
      actions.set(d.name, schemaOf(d, typeId));
    }
    byType.set(typeId, actions);
  }
  return { global, byType };
}

/** §3.3: a field counts as present when its key is there and its value is not null. */
export function checkConstraints(constraints: readonly Constraint[], args: JsonObject): void {
  const present = (name: string) => args[name] !== undefined && args[name] !== null;
  for (const c of constraints) {
    const names = c.fieldNames;
    const have = names.filter(present);
    const list = names.join(", ");
    switch (c.kind) {
      case ConstraintKind.REQUIRED_TOGETHER:
        if (have.length > 0 && have.length < names.length) {
          throw invalid(`arguments ${list} must be given together (missing: ${names.filter((n) => !present(n)).join(", ")})`);
        }
        break;
      case ConstraintKind.MUTUALLY_EXCLUSIVE:
        if (have.length > 1) throw invalid(`arguments ${have.join(", ")} are mutually exclusive: give at most one of ${list}`);
        break;
      case ConstraintKind.AT_LEAST_ONE:
        if (have.length === 0) throw invalid(`at least one of the arguments ${list} is required`);
        break;
      case ConstraintKind.DEPENDENT_ON:
        if (have.length > 0) {
          const missing = c.secondaryFieldNames.filter((n) => !present(n));
          if (missing.length > 0) throw invalid(`argument ${have.join(", ")} needs ${missing.join(", ")} as well`);
        }
        break;
    }
  }
}

const str = (v: JsonValue | undefined) => (typeof v === "string" ? v : undefined);

/** The resource a resource-scoped action is about: its first `resourceIdField` argument (SDK arg helper shape, §3.1). */
function resourceArgument(reg: Registered, args: JsonObject, resourceTypeId: string): ResourceId | undefined {
  const field = reg.schema.arguments.find((f) => f.field.case === "resourceIdField");
  if (!field) return undefined;
  const raw = args[field.name];
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw invalid(`argument ${field.name} must be a resource id object {"resource_type_id": "...", "resource_id": "..."}`);
  }
  const type = str(raw.resource_type_id) ?? str(raw.resourceTypeId) ?? str(raw.resource_type) ?? str(raw.resourceType) ?? resourceTypeId;
  const id = str(raw.resource_id) ?? str(raw.resourceId) ?? str(raw.resource);
  if (!id) throw invalid(`argument ${field.name} has no resource_id`);
  checkId(`${field.name}.resource_id`, id);
  checkId(`${field.name}.resource_type_id`, type);
  if (resourceTypeId && type !== resourceTypeId) {
    throw invalid(`argument ${field.name} names a resource of type "${type.slice(0, 64)}"; action "${reg.schema.name}" acts on "${resourceTypeId}"`);
  }
  return create(ResourceIdSchema, { resourceType: type, resource: id });
}

function inlineWaitMs(wait: ActionInvokeRequest["inlineWait"]): number {
  if (!wait) return DEFAULT_INLINE_WAIT_MS;
  const seconds = Number(wait.seconds ?? 0n);
  const nanos = wait.nanos ?? 0;
  if (seconds < 0 || nanos < 0 || seconds > MAX_INLINE_WAIT_SECONDS || (seconds === MAX_INLINE_WAIT_SECONDS && nanos > 0)) {
    throw invalid(`inline_wait must be between 0 and ${MAX_INLINE_WAIT_SECONDS} s`);
  }
  const ms = seconds * 1000 + Math.floor(nanos / 1e6);
  if (ms <= 0) return DEFAULT_INLINE_WAIT_MS;
  return Math.min(ms, ACTION_TIMEOUT_MS);
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err)) || "action failed";

export interface ActionManagerOptions {
  logger: Logger;
  provisioning: boolean;
  /** The refusal text for `requiresProvisioning` actions when provisioning is off. */
  provisioningDisabled: string;
  /** Builds a handler's context (the connector service's, so handlers see what every other call sees). */
  contextFor(signal: AbortSignal): CallContext;
}

export function createActionManager(connector: Connector, options: ActionManagerOptions): ActionManager {
  const { global, byType } = register(connector);
  const invocations = new Map<string, Invocation>();
  const shutdown = new AbortController();
  const count = global.size + [...byType.values()].reduce((n, m) => n + m.size, 0);

  const ctx = options.contextFor;

  const answer = (inv: Invocation) => ({
    id: inv.id,
    name: inv.name,
    status: inv.status,
    response: inv.response,
    annotations: inv.annotations,
  });

  const settle = (inv: Invocation, outcome: ActionOutcome | ActionProgress) => {
    if (outcome.status === "failed") {
      inv.status = BatonActionStatus.FAILED;
      inv.response = { ...(outcome.response ?? {}), error: outcome.error || "action failed" };
      return;
    }
    if (outcome.response !== undefined) inv.response = outcome.response;
    if ("annotations" in outcome && outcome.annotations) inv.annotations = outcome.annotations;
    if (outcome.status === "complete") {
      inv.status = BatonActionStatus.COMPLETE;
    } else {
      inv.status = BatonActionStatus.RUNNING;
      inv.pending = true;
      if ("handle" in outcome) inv.handle = outcome.handle;
    }
  };

  const fail = (inv: Invocation, err: unknown) => {
    inv.status = BatonActionStatus.FAILED;
    inv.response = { ...(inv.response ?? {}), error: errorText(err) };
    options.logger.warn({ action: inv.name, id: inv.id, err: errorText(err) }, "action failed");
  };

  /** Makes room for one more entry: oldest settled first (Map iteration is insertion order). */
  const makeRoom = () => {
    if (invocations.size < MAX_TRACKED_ACTIONS) return;
    for (const [id, inv] of invocations) {
      if (isSettled(inv.status)) {
        invocations.delete(id);
        if (invocations.size < MAX_TRACKED_ACTIONS) return;
      }
    }
    throw new ConnectorError(Code.RESOURCE_EXHAUSTED, `${MAX_TRACKED_ACTIONS} actions are still running; try again when some have finished`);
  };

  const lookup = (name: string, resourceTypeId: string): Registered => {
    if (resourceTypeId) {
      checkId("resource_type_id", resourceTypeId);
      const actions = byType.get(resourceTypeId);
      if (!actions) throw new ConnectorError(Code.NOT_FOUND, `no actions found for resource type ${resourceTypeId.slice(0, 64)}`);
      const reg = actions.get(name);
      if (!reg) throw new ConnectorError(Code.NOT_FOUND, `handler for action ${name.slice(0, 64)} not found for resource type ${resourceTypeId} (known: ${[...actions.keys()].join(", ")})`);
      return reg;
    }
    const reg = global.get(name);
    if (!reg) {
      const scoped = [...byType].filter(([, m]) => m.has(name)).map(([t]) => t);
      const hint = scoped.length ? `; it is an action of resource type ${scoped.join(", ")}: give resource_type_id` : "";
      throw new ConnectorError(Code.NOT_FOUND, `handler for action ${name.slice(0, 64)} not found${hint}`);
    }
    return reg;
  };

  return {
    count,

    listActionSchemas(req) {
      const typeId = req.resourceTypeId ?? "";
      if (typeId) checkId("resource_type_id", typeId);
      const schemas = typeId
        ? [...(byType.get(typeId)?.values() ?? [])].map((r) => r.schema)
        : [...global.values(), ...[...byType.values()].flatMap((m) => [...m.values()])].map((r) => r.schema);
      return create(ListActionSchemasResponseSchema, { schemas });
    },

    getActionSchema(req) {
      const name = req.name ?? "";
      checkId("name", name);
      const reg = global.get(name);
      if (!reg) throw new ConnectorError(Code.NOT_FOUND, `action ${name.slice(0, 64)} not found among the global actions (resource-scoped ones are listed by ListActionSchemas)`);
      return create(GetActionSchemaResponseSchema, { schema: reg.schema });
    },

    async invokeAction(req, signal) {
      const name = req.name ?? "";
      checkId("name", name);
      const resourceTypeId = req.resourceTypeId ?? "";
      const reg = lookup(name, resourceTypeId);
      const waitMs = inlineWaitMs(req.inlineWait);
      if (reg.definition.requiresProvisioning && !options.provisioning) {
        throw new ConnectorError(Code.FAILED_PRECONDITION, `action ${name} changes the target system: ${options.provisioningDisabled}`);
      }
      const args = req.args ?? {};
      checkConstraints(reg.constraints, args);
      const resourceId = resourceArgument(reg, args, resourceTypeId);
      makeRoom();

      const inv: Invocation = { id: newKsuid(), name, status: BatonActionStatus.RUNNING, annotations: [], definition: reg.definition };
      invocations.set(inv.id, inv);
      const handlerSignal = AbortSignal.any([shutdown.signal, AbortSignal.timeout(ACTION_TIMEOUT_MS)]);
      const done = (async () => {
        try {
          settle(inv, await reg.definition.invoke(ctx(handlerSignal), args, resourceId));
        } catch (err) {
          fail(inv, err);
        }
      })();

      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), waitMs);
      });
      const cancelled = new Promise<"cancelled">((resolve) => {
        if (signal?.aborted) resolve("cancelled");
        signal?.addEventListener("abort", () => resolve("cancelled"), { once: true });
      });
      const first = await Promise.race([done.then(() => "done" as const), waited, cancelled]);
      clearTimeout(timer);
      if (first === "cancelled" && !isSettled(inv.status)) {
        // Provisional: the handler's own outcome replaces it when it settles.
        inv.status = BatonActionStatus.FAILED;
        inv.response = { error: "the caller cancelled while waiting" };
        throw signal?.reason ?? new ConnectorError(Code.CANCELLED, "cancelled");
      }
      return create(InvokeActionResponseSchema, answer(inv));
    },

    async getActionStatus(req, signal) {
      const id = req.id ?? "";
      checkId("id", id);
      const inv = invocations.get(id);
      if (!inv) throw new ConnectorError(Code.NOT_FOUND, `action id ${id.slice(0, 64)} not found (ids live in the connector process's memory: a restart forgets them)`);
      if (inv.status === BatonActionStatus.RUNNING && inv.pending && inv.definition.status) {
        inv.polling ??= (async () => {
          try {
            settle(inv, await inv.definition.status!(ctx(signal ?? shutdown.signal), inv.handle));
          } catch (err) {
            fail(inv, err);
          } finally {
            inv.polling = undefined;
          }
        })();
        await inv.polling;
      }
      return create(GetActionStatusResponseSchema, answer(inv));
    },

    close() {
      shutdown.abort(new ConnectorError(Code.UNAVAILABLE, "the connector is shutting down"));
    },
  };
}
