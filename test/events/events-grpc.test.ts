/**
 * The EventService (PROTOCOL-2 §4) of a connector built on the public API, over real gRPC on loopback through
 * the generated-proto client: feeds listed with their kinds, events paged with the feed's cursor from a
 * start_at until has_more is false, the request bounds, unknown and legacy feed ids, and a feed whose answer
 * breaks the bounds refused instead of passed on.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createConnectorService } from "../../src/connector/service.ts";
import { Code } from "../../src/connector/errors.ts";
import type { ConnectorRpc } from "../../src/connector/rpc.ts";
import type { Connector, EventFeed } from "../../src/index.ts";
import { serveConnector, type ServedConnector } from "../../src/grpc/connector-server.ts";
import { connectorClient } from "../../src/grpc/connector-client.ts";
import { EventType } from "../../src/gen/c1/connector/v2/event_feed_pb.js";
import { silentLogger } from "../helpers/logger.ts";
import { EVENT_COUNT, FEED_ID, FIRST_EVENT_AT, testConnector, testState } from "../actions/test-connector.ts";

const servers: ServedConnector[] = [];
const clients: (ConnectorRpc & { close(): void })[] = [];

async function served(connector: Connector): Promise<ConnectorRpc> {
  const rpc = createConnectorService(connector, { logger: silentLogger(), provisioning: false });
  const s = await serveConnector(rpc, { address: "127.0.0.1:0", credentials: grpc.ServerCredentials.createInsecure(), logger: silentLogger() });
  servers.push(s);
  const client = connectorClient(`127.0.0.1:${s.port}`, grpc.credentials.createInsecure());
  clients.push(client);
  return client;
}

let rpc: ConnectorRpc;
beforeAll(async () => {
  rpc = await served(testConnector(testState()));
});
afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
});

describe("feeds", () => {
  it("ListEventFeeds gives each feed's id and kinds", async () => {
    const r = await rpc.listEventFeeds({});
    expect(r.list.map((f) => ({ id: f.id, kinds: f.supportedEventTypes }))).toEqual([{ id: FEED_ID, kinds: [EventType.USAGE, EventType.RESOURCE_CHANGE] }]);
  });

  it("pages from start_at with the feed's cursor until has_more is false, each event once and in order", async () => {
    const startIndex = 37;
    const startAt = timestampFromDate(new Date(FIRST_EVENT_AT.getTime() + startIndex * 60_000));
    const ids: string[] = [];
    let cursor = "";
    let pages = 0;
    for (;;) {
      const page = await rpc.listEvents({ eventFeedId: FEED_ID, startAt, cursor, pageSize: 40 });
      pages++;
      expect(page.events.length).toBeLessThanOrEqual(40);
      for (const e of page.events) {
        expect(timestampDate(e.occurredAt!).getTime()).toBeGreaterThanOrEqual(timestampDate(startAt).getTime());
        ids.push(e.id);
      }
      cursor = page.cursor;
      if (!page.hasMore) break;
      expect(pages).toBeLessThan(20);
    }
    expect(ids).toEqual(Array.from({ length: EVENT_COUNT - startIndex }, (_, i) => `ev-${startIndex + i}`));
    expect(pages).toBe(Math.ceil((EVENT_COUNT - startIndex) / 40));
    // The last cursor resumes where the caller caught up: nothing new yet.
    const after = await rpc.listEvents({ eventFeedId: FEED_ID, cursor, pageSize: 40 });
    expect(after).toMatchObject({ events: [], hasMore: false });
  });

  it("events carry their kind: usage with target and actor, resource change with the resource id", async () => {
    const page = await rpc.listEvents({ eventFeedId: FEED_ID, pageSize: 2 });
    const [usage, change] = page.events;
    expect(usage!.event.case).toBe("usageEvent");
    expect(usage!.event.case === "usageEvent" && usage!.event.value.targetResource?.id?.resource).toBe("u0");
    expect(change!.event.case).toBe("resourceChangeEvent");
    expect(change!.event.case === "resourceChangeEvent" && change!.event.value.resourceId?.resource).toBe("u1");
  });

  it("page_size 0 means 100; over 1000 is refused; the cursor and feed id are bounded", async () => {
    expect((await rpc.listEvents({ eventFeedId: FEED_ID })).events).toHaveLength(100);
    await expect(rpc.listEvents({ eventFeedId: FEED_ID, pageSize: 1001 })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(rpc.listEvents({ eventFeedId: FEED_ID, cursor: "x".repeat(4097) })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(rpc.listEvents({ eventFeedId: "f".repeat(1025) })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
  });

  it("an unknown feed id is NOT_FOUND; an empty one means the legacy feed baton_feed_event", async () => {
    await expect(rpc.listEvents({ eventFeedId: "nope" })).rejects.toMatchObject({ code: Code.NOT_FOUND, message: expect.stringContaining("error: event feed id nope not found") });
    await expect(rpc.listEvents({})).rejects.toMatchObject({ code: Code.NOT_FOUND, message: expect.stringContaining("baton_feed_event") });
  });
});

describe("a feed's answer is held to the bounds", () => {
  const feed = (list: EventFeed["list"]): Connector => ({ ...testConnector(testState()), eventFeeds: [{ id: "bad", eventKinds: [EventType.USAGE], list }] });

  it("more events than the page, a huge cursor, an event without a kind: INTERNAL, not passed on", async () => {
    const usage = (i: number) => ({ id: `e${i}`, event: { case: "usageEvent" as const, value: {} } });
    const tooMany = await served(feed(async (_ctx, { pageSize }) => ({ events: Array.from({ length: pageSize + 1 }, (_, i) => usage(i)), cursor: "", hasMore: false })));
    await expect(tooMany.listEvents({ eventFeedId: "bad", pageSize: 5 })).rejects.toMatchObject({ code: Code.INTERNAL });
    const hugeCursor = await served(feed(async () => ({ events: [], cursor: "c".repeat(5000), hasMore: false })));
    await expect(hugeCursor.listEvents({ eventFeedId: "bad" })).rejects.toMatchObject({ code: Code.INTERNAL });
    const noKind = await served(feed(async () => ({ events: [{ id: "e1" }], cursor: "", hasMore: false })));
    await expect(noKind.listEvents({ eventFeedId: "bad" })).rejects.toMatchObject({ code: Code.INTERNAL, message: expect.stringContaining("no event kind") });
  });

  it("misdeclared feeds fail at start, naming the feed", () => {
    const base = testConnector(testState());
    const list: EventFeed["list"] = async () => ({ events: [], cursor: "", hasMore: false });
    const start = (eventFeeds: EventFeed[]) => () => createConnectorService({ ...base, eventFeeds }, { logger: silentLogger(), provisioning: false });
    expect(start([{ id: "a", eventKinds: [], list }, { id: "a", eventKinds: [], list }])).toThrow(/duplicate feed id "a"/);
    expect(start([{ id: "", eventKinds: [], list }])).toThrow(/1–1024 bytes/);
    expect(start([{ id: "k", eventKinds: [EventType.USAGE, EventType.USAGE], list }])).toThrow(/listed twice/);
    expect(start([{ id: "k", eventKinds: [2 as EventType], list }])).toThrow(/not a defined EventType/);
  });
});
