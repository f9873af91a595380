/**
 * The hosted runtime's cold start (HOSTED-LAMBDA.md §1.3) and its generations: settings, a fresh DPoP key, the
 * first token (client assertion + id_att), GetConnectorConfig, decryption, validation against the connector's
 * own config fields, and one build of the connector, reused by every invocation until a config version change
 * reloads it (§1.4). A failure anywhere in the cold start rejects startHostedRuntime with a clear message and
 * leaves nothing open; the handler reports it as the function's init error.
 */
import type { Logger } from "pino";
import type { SessionBackend } from "../connector/session.ts";
import { SDK_WIRE_VERSION } from "../connector/service.ts";
import { createLogger } from "../log/logger.ts";
import { connectorConfigFrom } from "./connector-config.ts";
import { fetchConnectorConfig } from "./config-fetch.ts";
import type { HostedConnectorDefinition } from "./definition.ts";
import { generateDpopKey } from "./dpop.ts";
import { idAttestor } from "./id-attestation.ts";
import { applyLogLevel } from "./log-level.ts";
import { hostedPlatformAuth } from "./platform-auth.ts";
import { platformGrpc } from "./platform-grpc.ts";
import { Generations, type Acquired, type LiveGeneration } from "./reload.ts";
import { platformSessionBackend, type PlatformSessionBackend } from "./session-backend.ts";
import { readHostedSettings, type HostedSettings, type InvocationAuthSettings } from "./settings.ts";

export type { InvocationAuthSettings } from "./settings.ts";
export type { Generation } from "./reload.ts";
export { HostedReloadError } from "./reload.ts";

/** Where the cold start spent its time, in ms (the closing note reports these). */
export interface ColdStartTimings {
  settingsMs: number;
  tokenMs: number;
  configFetchMs: number;
  decryptMs: number;
  validateMs: number;
  buildMs: number;
  totalMs: number;
}

export interface HostedRuntime {
  readonly auth: InvocationAuthSettings;
  /** §1.4's reload rules for a call carrying x-baton-connector-config-version = requested (or none); throws
   *  HostedReloadError (UNAVAILABLE, always legacy encoding) when a needed reload fails. */
  acquire(requestedVersion: string | undefined, signal?: AbortSignal): Promise<Acquired>;
  close(): Promise<void>;
  readonly coldStart: ColdStartTimings;
  readonly settings: HostedSettings;
  /** Successful reloads since cold start. */
  readonly reloads: number;
  readonly logger: Logger;
}

/** The session backend is made on first use: a connector that never touches ctx.session never needs it. */
function lazySessions(make: () => PlatformSessionBackend): SessionBackend & { readonly calls: number } {
  let backend: PlatformSessionBackend | undefined;
  const get = () => (backend ??= make());
  return {
    get calls() {
      return backend?.calls ?? 0;
    },
    get: (syncId, key) => get().get(syncId, key),
    set: (syncId, key, value) => get().set(syncId, key, value),
    delete: (syncId, key) => get().delete(syncId, key),
    clear: (syncId) => get().clear(syncId),
  };
}

export async function startHostedRuntime<C>(
  def: HostedConnectorDefinition<C>,
  env: NodeJS.ProcessEnv,
  opts: { logger?: Logger; fetch?: typeof fetch } = {},
): Promise<HostedRuntime> {
  const t0 = performance.now();
  const settings = readHostedSettings(env);
  const attestor = idAttestor(env);
  const logger =
    opts.logger ??
    createLogger({
      level: settings.logLevel,
      // JSON lines: the platform's invoker filters them out of customer-visible error summaries (§6).
      format: settings.logFormat ?? "json",
      base: { ...settings.logFields, connector_name: def.name, connector_version: def.version },
    });
  const dpopKey = generateDpopKey();
  const auth = hostedPlatformAuth(settings, dpopKey, attestor, `baton-lambda/${settings.clientId.value} v${SDK_WIRE_VERSION}`);
  const grpc = platformGrpc(settings, auth);
  const sessions = lazySessions(() => platformSessionBackend(grpc, { cacheBytes: settings.sessionCacheBytes }));
  const baseLevel = { level: settings.logLevel, debugExpiresAt: settings.logLevelDebugExpiresAt };
  const t1 = performance.now();
  const timings: ColdStartTimings = { settingsMs: t1 - t0, tokenMs: 0, configFetchMs: 0, decryptMs: 0, validateMs: 0, buildMs: 0, totalMs: 0 };

  const build = async (requested: string, signal: AbortSignal | undefined, cold: boolean): Promise<LiveGeneration> => {
    const fetched = await fetchConnectorConfig(grpc, dpopKey, requested, { signal });
    const v0 = performance.now();
    const cfg = connectorConfigFrom<C>(def.config, fetched.values, { env, logLevel: baseLevel });
    const v1 = performance.now();
    const genLogger = logger.child({ config_version: fetched.label });
    // The new level applies before the connector is constructed, so its construction logs at that level.
    applyLogLevel(genLogger, cfg.logLevel);
    if (cfg.ignoredKeys.length > 0) genLogger.warn({ keys: cfg.ignoredKeys.slice(0, 20) }, "the platform's config has keys this connector does not declare; ignored");
    for (const warning of fetched.egress.warnings) genLogger.warn(warning);
    genLogger.info({ egress: fetched.egress.reason, provisioning: cfg.provisioning }, "connector config loaded");
    const built = await def.build(cfg.config, { logger: genLogger, provisioning: cfg.provisioning, egress: fetched.egress.policy, sessions });
    const v2 = performance.now();
    if (cold) {
      timings.configFetchMs = fetched.timings.fetchMs;
      timings.decryptMs = fetched.timings.decryptMs;
      timings.validateMs = v1 - v0;
      timings.buildMs = v2 - v1;
    }
    return {
      version: fetched.label,
      rpc: built.rpc,
      provisioning: cfg.provisioning,
      egress: fetched.egress.policy,
      logger: genLogger,
      logLevel: cfg.logLevel,
      close: () => built.close(),
    };
  };

  let generations: Generations;
  try {
    const tokenStart = performance.now();
    grpc.warm();
    await auth.tokens.token();
    timings.tokenMs = performance.now() - tokenStart;
    const initial = await build("", undefined, true);
    generations = new Generations(initial, { build: (requested, signal) => build(requested, signal, false), logger });
  } catch (err) {
    grpc.close();
    await auth.close().catch(() => {});
    throw err;
  }
  timings.totalMs = performance.now() - t0;
  logger.info({ cold_start_ms: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v * 10) / 10])) }, "hosted runtime ready");

  let closed: Promise<void> | undefined;
  return {
    auth: settings.auth,
    settings,
    coldStart: timings,
    logger,
    get reloads() {
      return generations.reloads;
    },
    acquire: (requested, signal) => generations.acquire(requested, signal),
    close: () =>
      (closed ??= (async () => {
        await generations.close();
        grpc.close();
        await auth.close();
      })()),
  };
}
