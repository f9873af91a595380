/**
 * Shared by the hosted end-to-end tests: a simulated Datadog org, the counts a CLI sync of it stores (read back
 * from its c1z), the hosted platform serving that org's config, and a full walk through a hosted target with the
 * platform's invoker (metadata, validate, resource types, resources paged, entitlements and grants paged).
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { create, type Message } from "@bufbuild/protobuf";
import { startSimulator, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { ConnectorServiceGetMetadataRequestSchema, ConnectorServiceValidateRequestSchema } from "../../src/gen/c1/connector/v2/connector_pb.js";
import { EntitlementsServiceListEntitlementsRequestSchema, type EntitlementsServiceListEntitlementsResponse } from "../../src/gen/c1/connector/v2/entitlement_pb.js";
import { GrantsServiceListGrantsRequestSchema, type GrantsServiceListGrantsResponse } from "../../src/gen/c1/connector/v2/grant_pb.js";
import {
  ResourcesServiceListResourcesRequestSchema,
  ResourceTypesServiceListResourceTypesRequestSchema,
  type Resource,
  type ResourcesServiceListResourcesResponse,
  type ResourceTypesServiceListResourceTypesResponse,
} from "../../src/gen/c1/connector/v2/resource_pb.js";
import { anyIs, anyUnpack, type Any } from "@bufbuild/protobuf/wkt";
import { EnqueuePageTokensSchema } from "../../src/gen/c1/connector/v2/annotation_type_scoped_grants_pb.js";
import { c1zRows } from "../helpers/c1z-rows.ts";
import { runDatadogCliInProcess } from "../helpers/cli-in-process.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";
import { invoke, type Encoding, type InvokeTarget } from "./platform/index.ts";

export const ORG_COUNTS = { users: 45, teams: 4, roles: 4, schedules: 3, apiKeys: 3, appKeys: 3, serviceAccounts: 2 };
export const PAGE_SIZE = 7;

export interface Counts {
  resourceTypes: number;
  resources: number;
  entitlements: number;
  grants: number;
}

export async function simulatedOrg(seed = 23): Promise<Simulator> {
  return startSimulator({ seed, counts: ORG_COUNTS });
}

/** The hosted config of the org (the platform's JSON keys are the config fields' names). */
export function hostedConfig(sim: Simulator, extra: Record<string, unknown> = {}) {
  return { "api-key": sim.apiKey, "app-key": sim.appKey, "base-url": sim.baseUrl, "sync-schedules": true, "sync-secrets": true, ...extra };
}

/** A CLI sync of the org (in-process), counted from its c1z: the reference the hosted walk must match. */
export async function cliSyncCounts(sim: Simulator): Promise<Counts> {
  const { dir, cleanup } = makeTempDir("hosted-walk-");
  try {
    const file = join(dir, "sync.c1z");
    const env = { BATON_API_KEY: sim.apiKey, BATON_APP_KEY: sim.appKey, BATON_BASE_URL: sim.baseUrl };
    const run = await runDatadogCliInProcess(["--sync-schedules", "--sync-secrets", "-f", file], { env, cwd: dir });
    if (run.code !== 0) throw new Error(`CLI sync failed: ${run.stderr}`);
    const { rows } = await c1zRows(file);
    const count = (prefix: string) => rows.filter((r) => r.startsWith(prefix)).length;
    return { resourceTypes: count("rt|"), resources: count("r|"), entitlements: count("e|"), grants: count("g|") };
  } finally {
    cleanup();
  }
}

export interface WalkOptions {
  jwt: () => Promise<string>;
  /** Sent as active_sync_id, as a sync engine does: ctx.session (the platform's session service) is per sync. */
  syncId: string;
  encoding?: Encoding;
  configVersion?: string;
}

async function call<M extends Message>(target: InvokeTarget, method: string, req: Message, o: WalkOptions): Promise<M> {
  const r = await invoke<M>(target, method, req, { jwt: await o.jwt(), encoding: o.encoding, configVersion: o.configVersion });
  if (r.status.code !== 0 || !r.response) throw new Error(`${method}: ${r.status.code} ${r.status.message}`);
  return r.response;
}

/**
 * Every page of a listing, as the sync engine walks it: next page tokens, and the extra tokens a page hands out
 * in an EnqueuePageTokens annotation (Datadog's schedules are reached team by team that way).
 */
async function pages<T>(fetch: (pageToken: string) => Promise<{ list: T[]; nextPageToken: string; annotations: Any[] }>): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  const queue = [""];
  let n = 0;
  while (queue.length > 0) {
    const page = await fetch(queue.shift()!);
    items.push(...page.list);
    if (page.nextPageToken !== "") queue.push(page.nextPageToken);
    for (const a of page.annotations) {
      if (anyIs(a, EnqueuePageTokensSchema)) queue.push(...anyUnpack(a, EnqueuePageTokensSchema)!.pageTokens);
    }
    if (++n > 10_000) throw new Error("listing does not end");
  }
  return { items, pages: n };
}

/** A sync id in the session service's shape (27 alphanumerics), new per walk. */
export function newSyncId(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(randomBytes(27), (b) => alphabet[b % alphabet.length]).join("");
}

export async function hostedWalk(target: InvokeTarget, o: WalkOptions): Promise<Counts & { resourcePages: number; displayName: string }> {
  const meta = await call<Message & { metadata?: { displayName: string } }>(target, "/c1.connector.v2.ConnectorService/GetMetadata", create(ConnectorServiceGetMetadataRequestSchema), o);
  await call(target, "/c1.connector.v2.ConnectorService/Validate", create(ConnectorServiceValidateRequestSchema), o);
  const types = await call<ResourceTypesServiceListResourceTypesResponse>(target, "/c1.connector.v2.ResourceTypesService/ListResourceTypes", create(ResourceTypesServiceListResourceTypesRequestSchema, { activeSyncId: o.syncId }), o);
  const resources: Resource[] = [];
  let resourcePages = 0;
  for (const rt of types.list) {
    const listed = await pages((pageToken) =>
      call<ResourcesServiceListResourcesResponse>(target, "/c1.connector.v2.ResourcesService/ListResources", create(ResourcesServiceListResourcesRequestSchema, { resourceTypeId: rt.id, pageSize: PAGE_SIZE, pageToken, activeSyncId: o.syncId }), o),
    );
    resources.push(...listed.items);
    resourcePages += listed.pages;
  }
  let entitlements = 0;
  let grants = 0;
  for (const resource of resources) {
    entitlements += (
      await pages((pageToken) =>
        call<EntitlementsServiceListEntitlementsResponse>(target, "/c1.connector.v2.EntitlementsService/ListEntitlements", create(EntitlementsServiceListEntitlementsRequestSchema, { resource, pageSize: PAGE_SIZE, pageToken, activeSyncId: o.syncId }), o),
      )
    ).items.length;
    grants += (
      await pages((pageToken) =>
        call<GrantsServiceListGrantsResponse>(target, "/c1.connector.v2.GrantsService/ListGrants", create(GrantsServiceListGrantsRequestSchema, { resource, pageSize: PAGE_SIZE, pageToken, activeSyncId: o.syncId }), o),
      )
    ).items.length;
  }
  return { resourceTypes: types.list.length, resources: resources.length, entitlements, grants, resourcePages, displayName: meta.metadata?.displayName ?? "" };
}
