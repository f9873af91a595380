/**
 * The nodejs24.x handler end to end: createLambdaHandler(datadogHosted) cold-starts against the hosted test
 * platform (DPoP token, age-encrypted config, served policy) and serves the real Datadog connector on the
 * simulator, invoked by the platform's invoker in both encodings (Lambda's JSON round trip included).
 */
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { datadogHosted } from "../../connectors/datadog/hosted.ts";
import type { Simulator } from "../../connectors/datadog/simulator/index.ts";
import { Code } from "../../src/connector/errors.ts";
import { ConnectorServiceGetMetadataRequestSchema, ConnectorServiceValidateRequestSchema } from "../../src/gen/c1/connector/v2/connector_pb.js";
import { EntitlementsServiceListEntitlementsRequestSchema, type EntitlementsServiceListEntitlementsResponse } from "../../src/gen/c1/connector/v2/entitlement_pb.js";
import {
  GrantManagerServiceGrantRequestSchema,
  GrantManagerServiceRevokeRequestSchema,
  type GrantManagerServiceGrantResponse,
} from "../../src/gen/c1/connector/v2/grant_pb.js";
import { ResourcesServiceListResourcesRequestSchema, type ResourcesServiceListResourcesResponse } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { createLambdaHandler } from "../../src/hosted/handler.ts";
import { createLogger } from "../../src/log/index.ts";
import { buildEvent, decodeResult, invoke, invokeRaw, startHostedPlatform, type HostedPlatform } from "./platform/index.ts";
import { cliSyncCounts, hostedConfig, hostedWalk, newSyncId, simulatedOrg, type Counts } from "./hosted-walk.ts";

let sim: Simulator;
let platform: HostedPlatform;
let reference: Counts;
let handler: ReturnType<typeof createLambdaHandler>;
const logLines: string[] = [];

beforeAll(async () => {
  sim = await simulatedOrg();
  reference = await cliSyncCounts(sim);
  platform = await startHostedPlatform({ config: { config: hostedConfig(sim), version: "cv-1" } });
  const logger = createLogger({ level: "debug", destination: { write: (l: string) => void logLines.push(l) } });
  handler = createLambdaHandler(datadogHosted, { env: { ...platform.env }, logger });
}, 60_000);
afterAll(async () => {
  await handler?.close();
  await platform?.close();
  await sim?.close();
});

const jwt = () => platform.mintInvocationJwt();
const validate = async (opts: { configVersion?: string; jwt?: string } = {}) =>
  invoke(handler, "/c1.connector.v2.ConnectorService/Validate", create(ConnectorServiceValidateRequestSchema), { jwt: opts.jwt ?? (await jwt()), configVersion: opts.configVersion });
/** The 1 s floor between rebuilds (§1.4) would skip a reload asked for sooner. */
const pastReloadFloor = () => new Promise((r) => setTimeout(r, 1100));

describe("nodejs24.x handler on the hosted platform", () => {
  it("cold-starts on the first invocation, then walks the org with the CLI sync's counts (v2, then legacy)", async () => {
    expect(platform.counters.configFetches).toBe(0);
    const v2 = await hostedWalk(handler, { jwt, encoding: "v2", syncId: newSyncId() });
    expect(platform.counters.configFetches).toBe(1);
    expect(v2.displayName).toMatch(/Datadog/);
    expect({ resourceTypes: v2.resourceTypes, resources: v2.resources, entitlements: v2.entitlements, grants: v2.grants }).toEqual(reference);
    expect(v2.resourcePages).toBeGreaterThan(v2.resourceTypes); // paged: PAGE_SIZE is below the user count
    const legacy = await hostedWalk(handler, { jwt, encoding: "legacy", syncId: newSyncId() });
    expect({ resourceTypes: legacy.resourceTypes, resources: legacy.resources, entitlements: legacy.entitlements, grants: legacy.grants }).toEqual(reference);
    expect(platform.counters.configFetches).toBe(1); // reused, not rebuilt per invocation
    expect(platform.counters.sessionCalls).toBeGreaterThan(0); // ctx.session went to the platform's session service
  }, 60_000);

  it("a cold start that fails fails the invocation with the reason (no secret in it) and is tried again by the next one", async () => {
    const env = { ...platform.env, BATON_LAMBDA_CLIENT_SECRET: "secret-token:nope" };
    const broken = createLambdaHandler(datadogHosted, { env });
    try {
      const tokens = platform.counters.tokenRequests;
      const event = () => platform.mintInvocationJwt().then((token) => buildEvent("/c1.connector.v2.ConnectorService/GetMetadata", create(ConnectorServiceGetMetadataRequestSchema), { jwt: token }));
      const err = await broken(await event(), {}).then(() => undefined, (e: unknown) => e as Error);
      expect(err?.message).toMatch(/BATON_LAMBDA_CLIENT_SECRET/);
      expect(err?.message).not.toContain("secret-token:nope");
      expect(platform.counters.tokenRequests).toBe(tokens); // refused before contacting the platform
      env.BATON_LAMBDA_CLIENT_SECRET = platform.env.BATON_LAMBDA_CLIENT_SECRET; // the next invocation cold-starts again
      const ok = decodeResult(await broken(await event(), {}));
      expect(ok.status.code).toBe(0);
    } finally {
      await broken.close();
    }
  });

  it("refuses unauthenticated, wrong-audience and expired invocations", async () => {
    const noJwt = await invoke(handler, "/c1.connector.v2.ConnectorService/Validate", create(ConnectorServiceValidateRequestSchema), {});
    expect(noJwt.status).toMatchObject({ code: Code.UNAUTHENTICATED, message: "missing authorization header" });
    const wrongAud = await validate({ jwt: await platform.mintInvocationJwt({ aud: "another-function" }) });
    expect(wrongAud.status.code).toBe(Code.UNAUTHENTICATED);
    expect(wrongAud.status.message).toMatch(/^invalid token: .*aud/);
    const expired = await validate({ jwt: await platform.mintInvocationJwt({ exp: Math.floor(Date.now() / 1000) - 10 }) });
    expect(expired.status.code).toBe(Code.UNAUTHENTICATED);
    expect(expired.status.message).toMatch(/^invalid token: .*exp/);
    const otherKey = await validate({ jwt: await platform.mintInvocationJwt({ key: "other" }) });
    expect(otherKey.status.code).toBe(Code.UNAUTHENTICATED);
  });

  it("a malformed frame is a function error; an unknown method and service are UNIMPLEMENTED", async () => {
    const raw = await invokeRaw(handler, { v: 2, frame: Buffer.from([0x0a, 0xff]).toString("base64") });
    expect(raw.ok).toBe(false);
    const noVersion = await invokeRaw(handler, { frame: Buffer.from([0x0a, 0x01, 0x2f]).toString("base64") });
    expect(noVersion).toMatchObject({ ok: false, error: { errorMessage: "transport: unsupported wire frame version 0" } });
    const method = await invoke(handler, "/c1.connector.v2.ConnectorService/Explode", create(ConnectorServiceValidateRequestSchema), { jwt: await jwt() });
    expect(method.status).toEqual({ code: Code.UNIMPLEMENTED, message: "unknown method Explode for service c1.connector.v2.ConnectorService", details: [] });
    const service = await invoke(handler, "/c1.nope.v1.Nope/Validate", create(ConnectorServiceValidateRequestSchema), { jwt: await jwt(), encoding: "legacy" });
    expect(service.status).toMatchObject({ code: Code.UNIMPLEMENTED, message: "unknown service c1.nope.v1.Nope" });
    expect(service.encoding).toBe("legacy");
  });

  it("provisioning: refused with it off; grant and revoke after a reload to a config that turns it on", async () => {
    const role = sim.org.roles.values()[0]!;
    const user = sim.org.users.values().find((u) => !role.users.has(u.id) && !u.disabled && !u.serviceAccount)!;
    const users = await invoke<ResourcesServiceListResourcesResponse>(handler, "/c1.connector.v2.ResourcesService/ListResources", create(ResourcesServiceListResourcesRequestSchema, { resourceTypeId: "user", pageSize: 100 }), { jwt: await jwt() });
    const principal = users.response!.list.find((r) => r.id?.resource === user.id)!;
    const roles = await invoke<ResourcesServiceListResourcesResponse>(handler, "/c1.connector.v2.ResourcesService/ListResources", create(ResourcesServiceListResourcesRequestSchema, { resourceTypeId: "role", pageSize: 100 }), { jwt: await jwt() });
    const roleResource = roles.response!.list.find((r) => r.id?.resource === role.id)!;
    const ents = await invoke<EntitlementsServiceListEntitlementsResponse>(handler, "/c1.connector.v2.EntitlementsService/ListEntitlements", create(EntitlementsServiceListEntitlementsRequestSchema, { resource: roleResource }), { jwt: await jwt() });
    const entitlement = ents.response!.list.find((e) => e.id.endsWith(":member"))!;
    const grantReq = create(GrantManagerServiceGrantRequestSchema, { entitlement, principal });

    const refused = await invoke(handler, "/c1.connector.v2.GrantManagerService/Grant", grantReq, { jwt: await jwt() });
    expect(refused.status.code).toBe(Code.FAILED_PRECONDITION);
    expect(refused.status.message).toMatch(/^provisioning is not enabled/);
    expect(role.users.has(user.id)).toBe(false);

    platform.setConfig(hostedConfig(sim, { provisioning: true }), "cv-2");
    await pastReloadFloor();
    const fetches = platform.counters.configFetches;
    const granted = await invoke<GrantManagerServiceGrantResponse>(handler, "/c1.connector.v2.GrantManagerService/Grant", grantReq, { jwt: await jwt(), configVersion: "cv-2" });
    expect(granted.status.code, granted.status.message).toBe(0);
    expect(platform.counters.configFetches).toBe(fetches + 1);
    expect(platform.lastConfigRequest?.requestedVersion).toBe("cv-2");
    expect(role.users.has(user.id)).toBe(true);

    const grant = granted.response!.grants[0] ?? { id: `${entitlement.id}:user:${user.id}`, entitlement, principal };
    const revoked = await invoke(handler, "/c1.connector.v2.GrantManagerService/Revoke", create(GrantManagerServiceRevokeRequestSchema, { grant }), { jwt: await jwt(), configVersion: "cv-2", encoding: "legacy" });
    expect(revoked.status.code, revoked.status.message).toBe(0);
    expect(role.users.has(user.id)).toBe(false);
    // The same version again: no refetch.
    await pastReloadFloor();
    expect((await validate({ configVersion: "cv-2" })).status.code).toBe(0);
    expect(platform.counters.configFetches).toBe(fetches + 1);
  }, 30_000);

  it("a config version change reloads once; the same version does not refetch", async () => {
    platform.setConfig(hostedConfig(sim), "cv-3");
    await pastReloadFloor();
    const before = platform.counters.configFetches;
    for (let i = 0; i < 3; i++) expect((await validate({ configVersion: "cv-3" })).status.code).toBe(0);
    expect(platform.counters.configFetches).toBe(before + 1);
    expect((await validate()).status.code).toBe(0); // no header: no reload
    expect(platform.counters.configFetches).toBe(before + 1);
  });

  it("a reload that fails answers UNAVAILABLE in legacy protojson (even to a v2 request); the previous generation keeps serving", async () => {
    platform.setConfig(hostedConfig(sim), "cv-3b");
    await pastReloadFloor();
    platform.fail.config.undecryptable = 1;
    const failed = await validate({ configVersion: "cv-3b" });
    expect(failed.encoding).toBe("legacy");
    expect(failed.status.code).toBe(Code.UNAVAILABLE);
    expect(failed.status.message).toMatch(/^lambda-run: failed to reload connector config: /);
    expect((await validate()).status.code).toBe(0); // the old generation still answers
    expect((await validate({ configVersion: "cv-3b" })).status.code).toBe(0); // a failed build is retried at once
  });

  it("a served policy that does not allow the Datadog host fails every call with the egress error and sends nothing", async () => {
    platform.setConfig(hostedConfig(sim), "cv-4", { allowedHosts: ["api.datadoghq.com"], mode: "enforce" });
    await pastReloadFloor();
    const sent = sim.stats.requests;
    const v = await validate({ configVersion: "cv-4" });
    expect(v.status.code).toBe(Code.PERMISSION_DENIED);
    expect(v.status.message).toMatch(/egress to http:\/\/127\.0\.0\.1:\d+ is not allowed by the egress policy, which allows api\.datadoghq\.com/);
    for (const resourceTypeId of ["user", "role", "team"]) {
      const r = await invoke(handler, "/c1.connector.v2.ResourcesService/ListResources", create(ResourcesServiceListResourcesRequestSchema, { resourceTypeId }), { jwt: await jwt(), configVersion: "cv-4", encoding: "legacy" });
      expect(r.status.code, resourceTypeId).toBe(Code.PERMISSION_DENIED);
      expect(r.status.message).toMatch(/is not allowed by the egress policy/);
    }
    expect(sim.stats.requests).toBe(sent);
  });
});
