/**
 * The author API of event feeds (c1.connector.v2.EventService, PROTOCOL-2 §4): what happened in the target
 * system since a point in time — usage (a login, a key used), grants and revokes, resources created or changed —
 * without a full sync. A connector lists its feeds on `Connector.eventFeeds`; the SDK serves ListEventFeeds and
 * routes ListEvents by `event_feed_id`, checking the request's bounds before a feed sees it and the feed's
 * page after (see event-service.ts).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import type { EventSchema, EventType } from "../gen/c1/connector/v2/event_feed_pb.js";
import type { CallContext } from "./types.ts";

/** One event: a c1.connector.v2.Event init (`id`, `occurredAt`, and one of the `event` cases). */
export type FeedEvent = MessageInitShape<typeof EventSchema>;

export interface EventListRequest {
  /** Where the previous page ended (the feed's own opaque cursor), or "" for the first page. */
  cursor: string;
  /** The earliest event wanted, when the caller gave one. A cursor, when given, wins over it. */
  startAt?: Date;
  /** 1–1000; the SDK substitutes its default (100) for 0. A feed may return fewer. */
  pageSize: number;
}

export interface EventPage {
  events: FeedEvent[];
  /** Where the next page starts. Returned even at the end, so a later call picks up new events from there. ≤ 4096 bytes. */
  cursor: string;
  /** True when more events are ready now; false when the caller has caught up. */
  hasMore: boolean;
  annotations?: Any[];
}

export interface EventFeed {
  /** 1–1024 bytes, unique among the connector's feeds. */
  readonly id: string;
  /** The kinds this feed produces (unique, defined values). Advertised in ListEventFeeds. */
  readonly eventKinds: readonly EventType[];
  list(ctx: CallContext, request: EventListRequest): Promise<EventPage>;
}
