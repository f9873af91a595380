/**
 * Baton's one-shot action and event-feed flags (PROTOCOL-2 §3.4, §4.3): --list-action-schemas, --invoke-action
 * (polls GetActionStatus every second until the action settles; FAILED exits 1), and --event-feed (pages
 * ListEvents by 100 from --event-feed-start-at or --event-feed-cursor until has_more is false). Output is one
 * protojson object a line on stdout, so it pipes into jq; the cursor to resume from goes to stderr.
 */
import { toJson, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  BatonActionSchemaSchema,
  BatonActionStatus,
  GetActionStatusResponseSchema,
  InvokeActionResponseSchema,
} from "../gen/c1/connector/v2/action_pb.js";
import { EventSchema } from "../gen/c1/connector/v2/event_feed_pb.js";
import { Code, ConnectorError } from "../connector/errors.ts";
import type { ConnectorRpc } from "../connector/rpc.ts";
import type { SdkConfig } from "../config/sdk-fields.ts";
import { UsageError } from "./errors.ts";
import type { OutStream } from "./spec.ts";

export type LocalOperation =
  | { kind: "listActionSchemas"; resourceTypeId: string }
  | { kind: "invokeAction"; name: string; args: JsonObject; resourceTypeId: string }
  | { kind: "eventFeed"; feedId: string; startAt: Date; cursor: string };

const POLL_MS = 1000;
const EVENT_PAGE_SIZE = 100;
const DEFAULT_LOOKBACK_MS = 24 * 60 * 60 * 1000;

/** The action or event-feed operation the SDK flags ask for, if any; more than one is a usage error. */
export function localOperation(sdk: SdkConfig, now = new Date()): LocalOperation | undefined {
  const ops: LocalOperation[] = [];
  if (sdk.listActionSchemas) ops.push({ kind: "listActionSchemas", resourceTypeId: sdk.listActionSchemasResourceType ?? "" });
  if (sdk.invokeAction) {
    // The flag's schema already checked that it is a JSON object.
    ops.push({ kind: "invokeAction", name: sdk.invokeAction, args: JSON.parse(sdk.invokeActionArgs ?? "{}") as JsonObject, resourceTypeId: sdk.invokeActionResourceType ?? "" });
  }
  if (sdk.eventFeed === "true" || sdk.eventFeed === "1") {
    const startAt = sdk.eventFeedStartAt ? new Date(sdk.eventFeedStartAt) : new Date(now.getTime() - DEFAULT_LOOKBACK_MS);
    ops.push({ kind: "eventFeed", feedId: sdk.eventFeedId ?? "", startAt, cursor: sdk.eventFeedCursor ?? "" });
  }
  if (ops.length > 1) throw new UsageError(`one of --list-action-schemas, --invoke-action, --event-feed at a time (got ${ops.map((o) => o.kind).join(", ")})`);
  return ops[0];
}

const line = (out: OutStream, value: unknown) => out.write(JSON.stringify(value) + "\n");

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });
}

const settled = (s: BatonActionStatus) => s === BatonActionStatus.COMPLETE || s === BatonActionStatus.FAILED;

export async function runLocalOperation(op: LocalOperation, rpc: ConnectorRpc, io: { stdout: OutStream; stderr: OutStream }, signal: AbortSignal): Promise<void> {
  switch (op.kind) {
    case "listActionSchemas": {
      const r = await rpc.listActionSchemas({ resourceTypeId: op.resourceTypeId }, { signal });
      const schemas = [...r.schemas].sort((a, b) => a.resourceTypeId.localeCompare(b.resourceTypeId) || a.name.localeCompare(b.name));
      for (const s of schemas) line(io.stdout, toJson(BatonActionSchemaSchema, s));
      if (schemas.length === 0) io.stderr.write(`no actions${op.resourceTypeId ? ` for resource type ${op.resourceTypeId}` : ""}\n`);
      return;
    }
    case "invokeAction": {
      const invoked = await rpc.invokeAction({ name: op.name, args: op.args, resourceTypeId: op.resourceTypeId }, { signal });
      let answer: { id: string; status: BatonActionStatus; response?: JsonObject } = invoked;
      let json = toJson(InvokeActionResponseSchema, invoked);
      while (!settled(answer.status)) {
        io.stderr.write(`action ${op.name} (${answer.id}) is ${BatonActionStatus[answer.status]?.toLowerCase() ?? answer.status}; checking again in 1 s\n`);
        await sleep(POLL_MS, signal);
        const status = await rpc.getActionStatus({ id: invoked.id }, { signal });
        answer = status;
        json = toJson(GetActionStatusResponseSchema, status);
      }
      line(io.stdout, json);
      if (answer.status === BatonActionStatus.FAILED) {
        const error = answer.response?.error;
        throw new ConnectorError(Code.UNKNOWN, `action ${op.name} failed: ${typeof error === "string" && error ? error : "no reason given"}`);
      }
      return;
    }
    case "eventFeed": {
      let cursor = op.cursor;
      const startAt = timestampFromDate(op.startAt);
      let total = 0;
      for (;;) {
        const page = await rpc.listEvents({ eventFeedId: op.feedId, startAt, cursor, pageSize: EVENT_PAGE_SIZE }, { signal });
        for (const e of page.events) line(io.stdout, toJson(EventSchema, e));
        total += page.events.length;
        // A feed that says "more" without moving on would loop for ever.
        if (page.hasMore && page.events.length === 0 && page.cursor === cursor) {
          throw new ConnectorError(Code.INTERNAL, `event feed ${op.feedId || "(default)"} answered has_more with no events and the same cursor; stopping`);
        }
        cursor = page.cursor;
        if (!page.hasMore) break;
      }
      io.stderr.write(`${total} events; resume with --event-feed-cursor ${JSON.stringify(cursor)}\n`);
      return;
    }
  }
}
