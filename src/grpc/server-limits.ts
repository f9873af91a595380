/**
 * What one served connector lets its callers make it hold, and the defaults (limits.ts enforces them with
 * grpc-js; this file loads nothing, so the CLI's help can show the defaults).
 */
export interface ServerLimits {
  /** Calls the connector works on at once, across all connections. */
  maxConcurrentCalls: number;
  /** Calls that may wait for a running slot (first come, first served); beyond them: RESOURCE_EXHAUSTED. */
  maxQueuedCalls: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: open calls per connection. */
  maxStreamsPerConnection: number;
  /** Open TCP connections, the ones still in their TLS handshake included; more are closed at once. */
  maxConnections: number;
  /** From accept to a complete TLS handshake and HTTP/2 preface; a socket that has not spoken by then is closed. */
  handshakeTimeoutMs: number;
  /** A connection without a call for this long is sent GOAWAY (the client reconnects when it needs to). */
  idleTimeoutMs: number;
  /** Server pings after this much silence find dead peers (half-open TCP), whose slots are then freed. */
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  maxReceiveMessageBytes: number;
  maxSendMessageBytes: number;
}

/**
 * The platform syncs with a handful of calls at a time over one or two connections; these leave it ample room.
 * Running calls cost what the connector needs for a page (a Datadog page of users is ~170 KB parsed), queued and
 * refused calls little more than their request.
 */
export const DEFAULT_LIMITS: ServerLimits = {
  maxConcurrentCalls: 32,
  maxQueuedCalls: 128,
  maxStreamsPerConnection: 64,
  maxConnections: 128,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 5 * 60_000,
  keepaliveTimeMs: 2 * 60_000,
  keepaliveTimeoutMs: 20_000,
  // The largest request the SDK accepts carries a 1 MiB page token; 8 MiB leaves room for annotations.
  maxReceiveMessageBytes: 8 * 1024 * 1024,
  // A page is at most 250 objects; far below this. A runaway answer fails alone instead of buffering without end.
  maxSendMessageBytes: 32 * 1024 * 1024,
};
