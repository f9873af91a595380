/**
 * Datadog simulator: a real HTTP server with the endpoints the connector calls, in the JSON:API shapes of
 * Datadog's OpenAPI v2 spec, over a deterministic in-memory org. Used by the demo, the tests and the benchmark.
 *
 *   const sim = await startSimulator({ seed: 7, counts: { users: 500 } });
 *   // sim.baseUrl, sim.apiKey, sim.appKey ... then sim.close()
 */
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { Credentials, type BearerGrant } from "./auth.ts";
import { FaultSet, type FaultSpec } from "./faults.ts";
import { generateOrg, type OrgCounts } from "./generate.ts";
import type { Org } from "./model.ts";
import { RateLimiter } from "./rate-limit.ts";
import type { RateLimitConfig } from "./settings.ts";
import { Router, type RouteDef, type RouteHandler, type RouteOptions } from "./router.ts";
import { auditRoutes } from "./routes/audit.ts";
import { authnMappingRoutes } from "./routes/authn-mappings.ts";
import { keyRoutes } from "./routes/keys.ts";
import { onCallRoutes } from "./routes/on-call.ts";
import { roleRoutes } from "./routes/roles.ts";
import { teamRoutes } from "./routes/teams.ts";
import { userRoutes } from "./routes/users.ts";
import { validateRoutes } from "./routes/validate.ts";
import { createSimulatorServer } from "./server.ts";
import { newStats, resetStats, type SimulatorStats } from "./stats.ts";

export { ApiError } from "./errors.ts";
export type { AuditActor, AuditEvent } from "./audit-log.ts";
export type { AppKeyGrant, BearerGrant, Principal } from "./auth.ts";
export type { FaultKind, FaultSpec, WrongShapeVariant } from "./faults.ts";
export { expectedCounts, generateOrg, reachableSchedules, resolveCounts } from "./generate.ts";
export type { ExpectedCounts, OrgCounts } from "./generate.ts";
export { INVITATION_TTL_MS, Org } from "./model.ts";
export type {
  PolicyTarget,
  SimApiKey,
  SimAppKey,
  SimAuthnMapping,
  SimInvitation,
  SimLayer,
  SimMembership,
  SimPermission,
  SimPolicy,
  SimRole,
  SimRoutingRule,
  SimSchedule,
  SimTeam,
  SimUser,
  TeamRole,
  UserStatus,
} from "./model.ts";
export { DEFAULT_COUNTS, parseRateLimit } from "./settings.ts";
export type { RateLimitConfig } from "./settings.ts";
export type { AuthMode, RouteContext, RouteDef, RouteHandler, RouteOptions, RouteResult } from "./router.ts";
export type { SimulatorStats } from "./stats.ts";

export interface SimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Org generator seed (default 1). */
  seed?: number;
  counts?: Partial<OrgCounts>;
  /** Fixed delay before every answer. */
  latencyMs?: number;
  /** The same fixed-window limit for every named limit ("users", "roles", "team", "on_call", ...). */
  rateLimit?: RateLimitConfig;
  /** Per-name limits that override `rateLimit`. */
  rateLimits?: Record<string, RateLimitConfig>;
  /** DD-API-KEY to accept; random per start by default. */
  apiKey?: string;
  /** DD-APPLICATION-KEY to accept; random per start by default. */
  appKey?: string;
  /** Scopes of the simulator's application key; null/absent = unrestricted. */
  appKeyScopes?: readonly string[] | null;
  /** The org's UUID (default: derived from the seed). */
  orgUuid?: string;
}

export interface Simulator {
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly baseUrl: string;
  readonly port: number;
  readonly apiKey: string;
  readonly appKey: string;
  readonly orgUuid: string;
  /** The live org: writes through the API change it; tests may read it (and expectedCounts(org)). */
  readonly org: Org;
  /** Live counters; see resetStats(). */
  readonly stats: SimulatorStats;
  resetStats(): void;
  injectFaults(faults: readonly FaultSpec[]): void;
  clearFaults(): void;
  /** Faults still armed. */
  pendingFaults(): FaultSpec[];
  /** Adds (or overrides) a route; `auth: "none"` for token-exchange style endpoints. */
  addRoute(method: string, template: string, handler: RouteHandler, options?: RouteOptions): void;
  /** The route table (method, template, rateLimit, permissions, auth), plug-ins first. */
  routes(): Omit<RouteDef, "handler">[];
  /** Makes `Authorization: Bearer <token>` valid until `expiresAt`, acting as `userId`. */
  registerBearerToken(token: string, grant: BearerGrant): void;
  revokeBearerToken(token: string): void;
  /** Restricts (or, with null, unrestricts) the simulator's own application key at run time. */
  setAppKeyScopes(scopes: readonly string[] | null): void;
  /** Creates an application key listed in the org and usable for auth. Owner defaults to the admin user. */
  createApplicationKey(options?: { ownerId?: string; name?: string; scopes?: readonly string[] | null }): { id: string; key: string };
  setLatency(ms: number): void;
  /** Records a login in the Audit Trail (and the user's last_login_time), as if the user had signed in with `method`. */
  recordLogin(userId: string, method?: string): void;
  /** Records a request made with an org API key or application key (by id) in the Audit Trail. */
  recordKeyUse(keyId: string, path?: string): void;
  /** Stops listening and drops every connection (hanging faults included). */
  close(): Promise<void>;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const host = options.host ?? "127.0.0.1";
  const org = generateOrg(options.seed ?? 1, options.counts ?? {}, options.orgUuid);
  const apiKey = options.apiKey ?? randomBytes(16).toString("hex");
  const appKey = options.appKey ?? randomBytes(20).toString("hex");
  if (!apiKey || !appKey) throw new Error("apiKey and appKey must not be empty");
  const adminId = org.users.values()[0]?.id ?? null;

  const credentials = new Credentials();
  credentials.addApiKey(apiKey);
  credentials.addAppKey(appKey, { appKeyId: null, ownerId: adminId, scopes: options.appKeyScopes ?? null });

  const router = new Router();
  for (const route of [
    ...validateRoutes(),
    ...userRoutes(),
    ...roleRoutes(),
    ...teamRoutes(),
    ...onCallRoutes(),
    ...keyRoutes(credentials),
    ...auditRoutes(org.audit),
    ...authnMappingRoutes(),
  ]) {
    router.add(route);
  }

  const stats = newStats();
  const faults = new FaultSet();
  const closing = new AbortController();
  let latencyMs = checkLatency(options.latencyMs ?? 0);
  let baseUrl = "";
  const server = createSimulatorServer({
    router,
    org,
    credentials,
    rateLimiter: new RateLimiter(options.rateLimit ?? null, options.rateLimits ?? {}),
    faults,
    stats,
    latencyMs: () => latencyMs,
    baseUrl: () => baseUrl,
    closing: closing.signal,
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  let closed: Promise<void> | null = null;
  return {
    baseUrl,
    port,
    apiKey,
    appKey,
    orgUuid: org.uuid,
    org,
    stats,
    resetStats: () => resetStats(stats),
    injectFaults: (specs) => faults.add(specs),
    clearFaults: () => faults.clear(),
    pendingFaults: () => faults.pending(),
    addRoute: (method, template, handler, routeOptions = {}) => router.add({ ...routeOptions, method, template, handler }),
    routes: () => router.list(),
    registerBearerToken: (token, grant) => credentials.registerBearerToken(token, grant),
    revokeBearerToken: (token) => credentials.revokeBearerToken(token),
    setAppKeyScopes: (scopes) => credentials.setAppKeyScopes(appKey, scopes),
    createApplicationKey: ({ ownerId, name, scopes = null } = {}) => {
      const owner = org.user(ownerId ?? adminId ?? "");
      const created = org.createAppKey(owner, name ?? `simulator-key-${org.appKeys.size}`, scopes);
      credentials.addAppKey(created.secret, { appKeyId: created.appKey.id, ownerId: owner.id, scopes: created.appKey.scopes });
      return { id: created.appKey.id, key: created.secret };
    },
    recordLogin: (userId, method) => org.recordLogin(userId, method),
    recordKeyUse: (keyId, path) => org.recordKeyUse(keyId, path),
    setLatency: (ms) => {
      latencyMs = checkLatency(ms);
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        closing.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function checkLatency(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`latencyMs must be a number >= 0, got ${ms}`);
  return ms;
}
