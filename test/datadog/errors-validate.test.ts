/**
 * What callers see when Datadog misbehaves or the credentials are wrong: the right gRPC code (UNAVAILABLE for
 * 429 and 5xx, with a RateLimitDescription once the limit is known), precise Validate messages, and a clear
 * INVALID_ARGUMENT for a page token that is not ours.
 */
import { EnqueuePageTokensSchema } from "../../src/gen/c1/connector/v2/annotation_type_scoped_grants_pb.js";
import { afterEach, describe, expect, it } from "vitest";
import { findAnnotation } from "../../src/connector/annotations.ts";
import { Code, ConnectorError } from "../../src/connector/errors.ts";
import { RateLimitDescription_Status, RateLimitDescriptionSchema } from "../../src/gen/c1/connector/v2/annotation_ratelimit_pb.js";
import { createConnectorService } from "../../src/connector/service.ts";
import { DatadogClient, StaticKeyProvider } from "../../connectors/datadog/client/index.ts";
import { datadogConnector } from "../../connectors/datadog/connector.ts";
import { startHarness, type Harness } from "./harness.ts";
import { rejection } from "../helpers/rejection.ts";

const open: Harness[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});
async function harness(options: Parameters<typeof startHarness>[0]) {
  const h = await startHarness(options);
  open.push(h);
  return h;
}

const failure = (p: Promise<unknown>) => rejection(p, ConnectorError);

describe("Datadog failures while syncing", () => {
  it("a 429 storm is UNAVAILABLE with the learned rate limit as RateLimitDescription", async () => {
    const h = await harness({ rateLimit: { limit: 1000, periodSeconds: 60 }, maxRateLimitRetries: 1, pageSize: 10 });
    // The first page teaches the HTTP layer the limit's name and window.
    const first = await h.rpc.listResources({ resourceTypeId: "user" });
    // Pages are independent: the first page announces the others instead of chaining to page 1.
    expect(first.nextPageToken).toBe("");
    expect(findAnnotation(first.annotations, EnqueuePageTokensSchema)?.pageTokens[0]).toBe("1");
    h.sim.injectFaults([{ kind: "429-no-headers", match: { pathPrefix: "/api/v2/users" } }]);
    const err = await failure(h.rpc.listResources({ resourceTypeId: "user", pageToken: "1" }));
    expect(err.code).toBe(Code.UNAVAILABLE);
    expect(err.message).toContain("ListUsers");
    const rl = findAnnotation(err.details, RateLimitDescriptionSchema);
    expect(rl).toBeDefined();
    expect(rl!.status).toBe(RateLimitDescription_Status.OVERLIMIT);
    expect(Number(rl!.limit)).toBe(1000);
    expect(Number(rl!.resetAt!.seconds) * 1000).toBeGreaterThan(Date.now() - 1000);
  });

  it("a persistent 500 is UNAVAILABLE (retryable by the engine), not UNKNOWN", async () => {
    const h = await harness({ maxRetries: 1 });
    h.sim.injectFaults([{ kind: "status", status: 500, match: { pathPrefix: "/api/v2/roles" } }]);
    const err = await failure(h.rpc.listResources({ resourceTypeId: "role" }));
    expect(err.code).toBe(Code.UNAVAILABLE);
    expect(err.message).toMatch(/ListRoles.*500/);
  });

  it("a page token that is not a page number is INVALID_ARGUMENT", async () => {
    const h = await harness({});
    const err = await failure(h.rpc.listResources({ resourceTypeId: "team", pageToken: "abc" }));
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    expect(err.message).toContain("invalid page token for teams");
  });
});

describe("Validate", () => {
  it("passes with good keys and every type on", async () => {
    const h = await harness({});
    const res = await h.rpc.validate({});
    expect(res.sdkVersion).not.toBe("");
  });

  it("says the application key is wrong (UNAUTHENTICATED) when the API key is fine", async () => {
    const h = await harness({});
    const client = new DatadogClient({ baseUrl: h.sim.baseUrl, credentials: new StaticKeyProvider(h.sim.apiKey, "not-the-app-key"), logger: h.logs.logger });
    const rpc = createConnectorService(datadogConnector({ client, logger: h.logs.logger, syncSchedules: true, syncSecrets: true }), {
      logger: h.logs.logger,
      provisioning: false,
    });
    try {
      const err = await failure(rpc.validate({}));
      expect(err.code).toBe(Code.UNAUTHENTICATED);
      expect(err.message).toContain("The application key was rejected");
      expect(err.message).not.toContain("not-the-app-key");
    } finally {
      await client.close();
    }
  });

  it("names the missing permission and the resource type it blocks (PERMISSION_DENIED)", async () => {
    const h = await harness({});
    h.sim.setAppKeyScopes(["user_access_read", "api_keys_read", "org_app_keys_read", "on_call_read"]);
    const err = await failure(h.rpc.validate({}));
    expect(err.code).toBe(Code.PERMISSION_DENIED);
    expect(err.message).toContain("Missing permission teams_read: needed to sync team resources");
  });
});
