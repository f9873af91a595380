/**
 * The EventService behind every transport (PROTOCOL-2 §4.1–4.2): the connector's feeds, checked once at start,
 * and ListEvents routed by feed id with the request's bounds checked before a feed sees it and the page's after.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { TimestampSchema, timestampDate } from "@bufbuild/protobuf/wkt";
import {
  EventFeedMetadataSchema,
  EventSchema,
  EventType,
  ListEventFeedsResponseSchema,
  ListEventsResponseSchema,
  type ListEventFeedsResponse,
  ListEventsRequestSchema,
  type ListEventsResponse,
} from "../gen/c1/connector/v2/event_feed_pb.js";
import type { EventFeed } from "./events.ts";
import { Code, ConnectorError } from "./errors.ts";
import type { CallContext, Connector } from "./types.ts";

/** The id Go gives a connector's single legacy feed; an empty event_feed_id means it (§4.2). */
export const LEGACY_FEED_ID = "baton_feed_event";
export const MAX_EVENT_PAGE_SIZE = 1000;
export const DEFAULT_EVENT_PAGE_SIZE = 100;
export const MAX_EVENT_CURSOR_BYTES = 4096;
const MAX_FEED_ID_BYTES = 1024;

const bytes = (s: string) => Buffer.byteLength(s, "utf8");
const invalid = (message: string) => new ConnectorError(Code.INVALID_ARGUMENT, message);
const definedKinds = new Set<number>([EventType.UNSPECIFIED, EventType.USAGE, EventType.RESOURCE_CHANGE, EventType.CREATE_GRANT, EventType.CREATE_REVOKE]);

export interface EventService {
  readonly count: number;
  listEventFeeds(): ListEventFeedsResponse;
  listEvents(req: MessageInitShape<typeof ListEventsRequestSchema>, ctx: CallContext): Promise<ListEventsResponse>;
}

function registerFeeds(connector: Connector): Map<string, EventFeed> {
  const feeds = new Map<string, EventFeed>();
  for (const feed of connector.eventFeeds ?? []) {
    const n = bytes(feed?.id ?? "");
    if (n === 0 || n > MAX_FEED_ID_BYTES) throw new Error(`event feeds: a feed id must be 1–${MAX_FEED_ID_BYTES} bytes, got ${n}`);
    if (feeds.has(feed.id)) throw new Error(`event feeds: duplicate feed id "${feed.id}"`);
    if (typeof feed.list !== "function") throw new Error(`event feed "${feed.id}" has no list function`);
    const seen = new Set<EventType>();
    for (const k of feed.eventKinds) {
      if (!definedKinds.has(k)) throw new Error(`event feed "${feed.id}": ${k} is not a defined EventType`);
      if (seen.has(k)) throw new Error(`event feed "${feed.id}": event kind ${EventType[k]} is listed twice`);
      seen.add(k);
    }
    feeds.set(feed.id, feed);
  }
  return feeds;
}

export function createEventService(connector: Connector): EventService {
  const feeds = registerFeeds(connector);
  const metadata = [...feeds.values()].map((f) => create(EventFeedMetadataSchema, { id: f.id, supportedEventTypes: [...f.eventKinds] }));

  return {
    count: feeds.size,

    listEventFeeds() {
      return create(ListEventFeedsResponseSchema, { list: metadata });
    },

    async listEvents(req, ctx) {
      const cursor = req.cursor ?? "";
      if (bytes(cursor) > MAX_EVENT_CURSOR_BYTES) throw invalid(`cursor is ${bytes(cursor)} bytes; the limit is ${MAX_EVENT_CURSOR_BYTES}`);
      const requested = req.pageSize ?? 0;
      if (requested > MAX_EVENT_PAGE_SIZE) throw invalid(`page_size ${requested} is over the limit of ${MAX_EVENT_PAGE_SIZE}`);
      const pageSize = requested || DEFAULT_EVENT_PAGE_SIZE;
      const feedId = req.eventFeedId || LEGACY_FEED_ID;
      if (bytes(feedId) > MAX_FEED_ID_BYTES) throw invalid(`event_feed_id is ${bytes(feedId)} bytes; the limit is ${MAX_FEED_ID_BYTES}`);
      const feed = feeds.get(feedId);
      if (!feed) {
        throw new ConnectorError(Code.NOT_FOUND, `error: event feed id ${feedId.slice(0, 64)} not found (feeds: ${[...feeds.keys()].join(", ") || "none"})`);
      }
      const startAt = req.startAt ? timestampDate(create(TimestampSchema, req.startAt)) : undefined;
      const page = await feed.list(ctx, { cursor, startAt, pageSize });

      // The feed's answer goes to the platform as is: hold it to the same bounds the platform holds requests to.
      if (bytes(page.cursor ?? "") > MAX_EVENT_CURSOR_BYTES) {
        throw new ConnectorError(Code.INTERNAL, `event feed ${feedId} returned a cursor of ${bytes(page.cursor)} bytes; the limit is ${MAX_EVENT_CURSOR_BYTES}`);
      }
      if (page.events.length > pageSize) {
        throw new ConnectorError(Code.INTERNAL, `event feed ${feedId} returned ${page.events.length} events for a page of ${pageSize}`);
      }
      const events = page.events.map((e) => create(EventSchema, e));
      for (const e of events) {
        if (!e.id) throw new ConnectorError(Code.INTERNAL, `event feed ${feedId} returned an event without an id`);
        if (e.event.case === undefined) throw new ConnectorError(Code.INTERNAL, `event feed ${feedId} returned event ${e.id.slice(0, 64)} with no event kind set`);
      }
      return create(ListEventsResponseSchema, { events, cursor: page.cursor ?? "", hasMore: page.hasMore, annotations: page.annotations ?? [] });
    },
  };
}
