/**
 * The action and event-feed tasks of service mode (PROTOCOL-2 §3.4, §4.3): each is one connector call whose
 * answer goes back packed in Any. What differs from the other tasks: an invoked action that FAILED finishes the
 * task as an error carrying the action's `error` text (and no response); task annotations are forwarded to the
 * action RPCs but not to the event RPCs, and the event answers go back without the connector's annotations.
 */
import { create } from "@bufbuild/protobuf";
import { anyPack, type Any } from "@bufbuild/protobuf/wkt";
import {
  BatonActionStatus,
  GetActionSchemaResponseSchema,
  GetActionStatusResponseSchema,
  InvokeActionResponseSchema,
  ListActionSchemasResponseSchema,
} from "../gen/c1/connector/v2/action_pb.js";
import { ListEventFeedsResponseSchema, ListEventsResponseSchema } from "../gen/c1/connector/v2/event_feed_pb.js";
import type { Task } from "../gen/c1/connectorapi/baton/v1/baton_pb.js";
import { Code } from "../connector/errors.ts";
import type { ConnectorRpc } from "../connector/rpc.ts";
import { TaskFailure } from "./task-rules.ts";

type TaskOf<K extends NonNullable<Task["taskType"]["case"]>> = Extract<Task["taskType"], { case: K }>["value"];

export async function actionListSchemas(rpc: ConnectorRpc, t: TaskOf<"actionListSchemas">, signal: AbortSignal): Promise<Any> {
  const r = await rpc.listActionSchemas({ annotations: t.annotations, resourceTypeId: t.resourceTypeId }, { signal });
  return anyPack(ListActionSchemasResponseSchema, r);
}

export async function actionGetSchema(rpc: ConnectorRpc, t: TaskOf<"actionGetSchema">, signal: AbortSignal): Promise<Any> {
  const r = await rpc.getActionSchema({ name: t.name, annotations: t.annotations }, { signal });
  return anyPack(GetActionSchemaResponseSchema, r);
}

/** No inline_wait is sent, so the connector waits its default (1 s): a slower action answers RUNNING. */
export async function actionInvoke(rpc: ConnectorRpc, t: TaskOf<"actionInvoke">, signal: AbortSignal): Promise<Any> {
  const r = await rpc.invokeAction({ name: t.name, args: t.args, annotations: t.annotations, resourceTypeId: t.resourceTypeId }, { signal });
  if (r.status === BatonActionStatus.FAILED) {
    const error = r.response?.error;
    throw new TaskFailure(Code.UNKNOWN, typeof error === "string" && error ? error : "action failed", false);
  }
  return anyPack(InvokeActionResponseSchema, r);
}

/** A FAILED status is still a successful status task: the answer is the status. */
export async function actionStatus(rpc: ConnectorRpc, t: TaskOf<"actionStatus">, signal: AbortSignal): Promise<Any> {
  const r = await rpc.getActionStatus({ name: t.name, id: t.id, annotations: t.annotations }, { signal });
  return anyPack(GetActionStatusResponseSchema, r);
}

export async function listEventFeeds(rpc: ConnectorRpc, signal: AbortSignal): Promise<Any> {
  const r = await rpc.listEventFeeds({}, { signal });
  return anyPack(ListEventFeedsResponseSchema, create(ListEventFeedsResponseSchema, { list: r.list }));
}

export async function listEvents(rpc: ConnectorRpc, t: TaskOf<"listEvents">, signal: AbortSignal): Promise<Any> {
  const r = await rpc.listEvents({ eventFeedId: t.eventFeedId, startAt: t.startAt, cursor: t.cursor, pageSize: t.pageSize }, { signal });
  return anyPack(ListEventsResponseSchema, create(ListEventsResponseSchema, { events: r.events, cursor: r.cursor, hasMore: r.hasMore }));
}
