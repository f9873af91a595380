/**
 * The platform session backend's local cache and client-side checks, over the hosted test platform's real
 * BatonSessionService (so every miss is a counted gRPC call with a DPoP proof).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectorError } from "../../../src/connector/errors.ts";
import { MAX_SESSION_VALUE_BYTES } from "../../../src/connector/session.ts";
import { generateDpopKey } from "../../../src/hosted/dpop.ts";
import { idAttestor } from "../../../src/hosted/id-attestation.ts";
import { hostedPlatformAuth, type HostedPlatformAuth } from "../../../src/hosted/platform-auth.ts";
import { platformGrpc, type PlatformGrpc } from "../../../src/hosted/platform-grpc.ts";
import { platformSessionBackend } from "../../../src/hosted/session-backend.ts";
import { readHostedSettings } from "../../../src/hosted/settings.ts";
import { startHostedPlatform, type HostedPlatform } from "../platform/index.ts";

const SYNC = "2c5Kq0wVvS3pX9yZ1aB4cD6eF8g";
const OTHER = "2c5Kq0wVvS3pX9yZ1aB4cD6eF8h";
let platform: HostedPlatform;
let auth: HostedPlatformAuth;
let grpc: PlatformGrpc;
beforeAll(async () => {
  platform = await startHostedPlatform();
  const settings = readHostedSettings(platform.env);
  auth = hostedPlatformAuth(settings, generateDpopKey(), idAttestor(platform.env), "test");
  grpc = platformGrpc(settings, auth);
});
afterAll(async () => {
  grpc?.close();
  await auth?.close();
  await platform?.close();
});

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);
const calls = () => platform.counters.sessionCalls;

describe("platform session backend", () => {
  it("serves repeated reads from the cache until 10 minutes after the write", async () => {
    let now = 0;
    const backend = platformSessionBackend(grpc, { cacheBytes: 1024, now: () => now });
    await backend.set(SYNC, "k", bytes(10));
    const start = calls();
    expect(await backend.get(SYNC, "k")).toEqual(bytes(10));
    expect(calls()).toBe(start);
    now += 10 * 60_000 + 1;
    expect(await backend.get(SYNC, "k")).toEqual(bytes(10)); // expired locally: asked the platform
    expect(calls()).toBe(start + 1);
  });

  it("bounds the cache by weight (32 + key + value) and evicts the oldest writes; 0 turns it off", async () => {
    const backend = platformSessionBackend(grpc, { cacheBytes: 2 * (32 + 1 + 40) });
    for (const key of ["a", "b", "c"]) await backend.set(OTHER, key, bytes(40));
    let start = calls();
    await backend.get(OTHER, "c");
    await backend.get(OTHER, "b");
    expect(calls()).toBe(start);
    await backend.get(OTHER, "a"); // evicted by "c"
    expect(calls()).toBe(start + 1);
    const off = platformSessionBackend(grpc, { cacheBytes: 0 });
    await off.set(OTHER, "z", bytes(1));
    start = calls();
    await off.get(OTHER, "z");
    await off.get(OTHER, "z");
    expect(calls()).toBe(start + 2);
  });

  it("refuses bad sync ids, keys and oversized values before sending anything", async () => {
    const backend = platformSessionBackend(grpc, { cacheBytes: 1024 });
    const start = calls();
    for (const attempt of [
      () => backend.get("short", "k"),
      () => backend.set(SYNC, "", bytes(1)),
      () => backend.set(SYNC, "x".repeat(513), bytes(1)),
      () => backend.set(SYNC, "big", bytes(MAX_SESSION_VALUE_BYTES + 1)),
      () => backend.clear("has-dashes-not-a-ksuid-00000"),
    ]) {
      const err = await attempt().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectorError);
      expect((err as ConnectorError).code).toBe(Code.INVALID_ARGUMENT);
    }
    expect(calls()).toBe(start);
  });

  it("a token the platform stops accepting is replaced and the call made once more", async () => {
    const backend = platformSessionBackend(grpc, { cacheBytes: 0 });
    await backend.set(SYNC, "before", bytes(1));
    const tokens = platform.counters.tokenRequests;
    platform.revokeTokens();
    await backend.set(SYNC, "after", bytes(2));
    expect(await backend.get(SYNC, "after")).toEqual(bytes(2));
    expect(platform.counters.tokenRequests).toBe(tokens + 1);
    expect(platform.grpcCalls.filter((c) => c.outcome === "unauthenticated")).toHaveLength(1);
  });

  it("a rotated nonce costs one retry; one that rotates again right after fails that exchange clearly, and the next uses it", async () => {
    auth.tokens.invalidate();
    platform.fail.token.nonceRotations = 1;
    let before = platform.counters.tokenRequests;
    await auth.tokens.token();
    expect(platform.counters.tokenRequests).toBe(before + 2);
    auth.tokens.invalidate();
    platform.fail.token.nonceRotations = 2;
    const err = await auth.tokens.token().then(() => undefined, (e: unknown) => e);
    expect((err as Error).message).toMatch(/asked for a new DPoP nonce again right after the retry/);
    before = platform.counters.tokenRequests;
    await auth.tokens.token();
    expect(platform.counters.tokenRequests).toBe(before + 1);
  });

  it("clear drops the sync's cached values and the platform's", async () => {
    const backend = platformSessionBackend(grpc, { cacheBytes: 1024 });
    await backend.set(SYNC, "gone", bytes(3));
    await backend.clear(SYNC);
    expect(await backend.get(SYNC, "gone")).toBeUndefined();
  });
});
