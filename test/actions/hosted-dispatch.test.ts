/**
 * The hosted runtime answers actions, event feeds and IssueCredential with the same ConnectorRpc as gRPC and
 * service mode: transport Requests for those methods, dispatched as a Lambda invocation is, reach the test
 * connector (not UNIMPLEMENTED), and a refused one carries the contract's code in its status.
 */
import { describe, expect, it } from "vitest";
import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { anyPack, anyUnpack } from "@bufbuild/protobuf/wkt";
import { createConnectorService } from "../../src/connector/service.ts";
import { Code } from "../../src/connector/errors.ts";
import { dispatch } from "../../src/hosted/dispatch.ts";
import { BatonActionStatus, InvokeActionRequestSchema, InvokeActionResponseSchema } from "../../src/gen/c1/connector/v2/action_pb.js";
import { ListEventsRequestSchema, ListEventsResponseSchema, ListEventFeedsRequestSchema, ListEventFeedsResponseSchema } from "../../src/gen/c1/connector/v2/event_feed_pb.js";
import { IssueCredentialRequestSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { RequestSchema } from "../../src/gen/c1/transport/v1/transport_pb.js";
import { StatusSchema } from "../../src/gen/google/rpc/status_pb.js";
import { silentLogger } from "../helpers/logger.ts";
import { FEED_ID, testConnector, testState } from "./test-connector.ts";

const rpc = createConnectorService(testConnector(testState()), { logger: silentLogger(), provisioning: false });
const ctx = { rpc, verifier: { verify: async () => ({}) as never }, remainingMs: 30_000 };

async function call<I extends DescMessage>(method: string, schema: I, req: MessageInitShape<I>) {
  const request = create(RequestSchema, { method, req: anyPack(schema, create(schema, req)) });
  const response = await dispatch(request, new Map(), ctx);
  return { response, status: anyUnpack(response.status!, StatusSchema)! };
}

describe("hosted dispatch of the new services", () => {
  it("InvokeAction answers from the connector", async () => {
    const { response, status } = await call("/c1.connector.v2.ActionService/InvokeAction", InvokeActionRequestSchema, { name: "echo", args: { message: "from lambda" } });
    expect(status.code).toBe(0);
    expect(anyUnpack(response.resp!, InvokeActionResponseSchema)).toMatchObject({ status: BatonActionStatus.COMPLETE, response: { message: "from lambda" } });
  });

  it("ListEventFeeds and ListEvents answer from the connector", async () => {
    const feeds = await call("/c1.connector.v2.EventService/ListEventFeeds", ListEventFeedsRequestSchema, {});
    expect(anyUnpack(feeds.response.resp!, ListEventFeedsResponseSchema)!.list.map((f) => f.id)).toEqual([FEED_ID]);
    const events = await call("/c1.connector.v2.EventService/ListEvents", ListEventsRequestSchema, { eventFeedId: FEED_ID, pageSize: 3 });
    expect(anyUnpack(events.response.resp!, ListEventsResponseSchema)).toMatchObject({ cursor: "3", hasMore: true });
  });

  it("refusals keep their codes: a write action without provisioning, IssueCredential without provisioning", async () => {
    const action = await call("/c1.connector.v2.ActionService/InvokeAction", InvokeActionRequestSchema, { name: "disable_user", resourceTypeId: "user", args: { user: { resource_id: "u1" } } });
    expect(action.status.code).toBe(Code.FAILED_PRECONDITION);
    const issue = await call("/c1.connector.v2.CredentialManagerService/IssueCredential", IssueCredentialRequestSchema, { identityId: { resourceType: "service_account", resource: "sa1" } });
    expect(issue.status.code).toBe(Code.FAILED_PRECONDITION);
  });
});
