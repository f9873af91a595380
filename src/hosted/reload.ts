/**
 * Config generations and reload (HOSTED-LAMBDA.md §1.4): the connector is built once per config version and
 * reused; an invocation naming another version rebuilds it, within the Go runtime's rate caps (1 s since the
 * last successful rebuild; 5 s for the same requested version again). The old generation keeps serving the calls
 * it has, is closed once they drain (at most 30 s, then at most 10 s for close), and stays current when a
 * rebuild fails — that invocation then gets UNAVAILABLE, and the next one tries again.
 */
import type { Logger } from "pino";
import { Code, ConnectorError } from "../connector/errors.ts";
import type { ConnectorRpc } from "../connector/rpc.ts";
import type { EgressPolicy } from "../http/egress.ts";
import { redactText } from "../log/secrets.ts";
import { applyLogLevel, type LogLevelConfig } from "./log-level.ts";

export const RELOAD_FLOOR_MS = 1000;
export const SAME_VERSION_FLOOR_MS = 5000;
export const DRAIN_TIMEOUT_MS = 30_000;
export const CLOSE_TIMEOUT_MS = 10_000;

export interface Generation {
  readonly version: string;
  readonly rpc: ConnectorRpc;
  readonly provisioning: boolean;
  readonly egress: EgressPolicy;
  readonly logger: Logger;
}

/** A generation as the runtime holds it: the connector and what it takes to retire it. */
export interface LiveGeneration extends Generation {
  readonly logLevel: LogLevelConfig;
  close(): Promise<void>;
}

/**
 * A reload (or its log level) failed: UNAVAILABLE, answered outside the transport server and so always in the
 * legacy encoding (§1.4). The message is the Go runtime's, with the cause scrubbed of secrets.
 */
export class HostedReloadError extends ConnectorError {
  readonly kind: "reload" | "log-level";
  constructor(kind: "reload" | "log-level", cause: unknown) {
    const why = redactText(cause instanceof Error ? cause.message : String(cause));
    super(
      Code.UNAVAILABLE,
      kind === "reload" ? `lambda-run: failed to reload connector config: ${why}` : `lambda-run: failed to apply log level: ${why}`,
      { cause },
    );
    this.name = "HostedReloadError";
    this.kind = kind;
  }
}

export interface GenerationsOptions {
  /** Builds the generation for a requested version ("" at cold start); applies its log level before building. */
  build(requestedVersion: string, signal: AbortSignal | undefined): Promise<LiveGeneration>;
  logger: Logger;
  now?: () => number;
  drainTimeoutMs?: number;
  closeTimeoutMs?: number;
}

export interface Acquired {
  generation: Generation;
  release(): void;
}

export class Generations {
  readonly #opts: GenerationsOptions;
  readonly #now: () => number;
  #current: LiveGeneration;
  readonly #inflight = new Map<LiveGeneration, number>();
  readonly #drained = new Map<LiveGeneration, () => void>();
  #lastBuildAt: number;
  #lastRequested: string;
  #warnedSinceBuild = false;
  #building: { requested: string; promise: Promise<void> } | undefined;
  readonly #retiring = new Set<Promise<void>>();
  #reloads = 0;
  #closed = false;

  constructor(initial: LiveGeneration, opts: GenerationsOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#current = initial;
    this.#lastBuildAt = this.#now();
    this.#lastRequested = "";
  }

  get current(): LiveGeneration {
    return this.#current;
  }

  /** Successful rebuilds since cold start. */
  get reloads(): number {
    return this.#reloads;
  }

  /** The generation for one invocation, reloading first when §1.4 says so; release() when the call is done. */
  async acquire(requestedVersion: string | undefined, signal?: AbortSignal): Promise<Acquired> {
    if (this.#closed) throw new ConnectorError(Code.UNAVAILABLE, "the hosted runtime is shut down");
    const requested = requestedVersion ?? "";
    if (requested !== "" && requested !== this.#current.version) await this.#maybeReload(requested, signal);
    const generation = this.#current;
    try {
      applyLogLevel(generation.logger, generation.logLevel, this.#now());
    } catch (err) {
      throw new HostedReloadError("log-level", err);
    }
    this.#inflight.set(generation, (this.#inflight.get(generation) ?? 0) + 1);
    let released = false;
    return {
      generation,
      release: () => {
        if (released) return;
        released = true;
        const left = (this.#inflight.get(generation) ?? 1) - 1;
        if (left > 0) this.#inflight.set(generation, left);
        else {
          this.#inflight.delete(generation);
          this.#drained.get(generation)?.();
        }
      },
    };
  }

  async #maybeReload(requested: string, signal: AbortSignal | undefined): Promise<void> {
    // Concurrent invocations asking for the same version share one rebuild.
    if (this.#building) {
      if (this.#building.requested === requested) return this.#building.promise;
      await this.#building.promise.catch(() => {});
      if (requested === this.#current.version) return;
    }
    const since = this.#now() - this.#lastBuildAt;
    if (since < RELOAD_FLOOR_MS) return;
    if (requested === this.#lastRequested && since < SAME_VERSION_FLOOR_MS) {
      if (!this.#warnedSinceBuild) {
        this.#warnedSinceBuild = true;
        this.#opts.logger.warn(
          { requested_version: requested, served_version: this.#current.version },
          "the platform keeps serving another config version than the one invocations ask for; re-fetching at most every 5 s",
        );
      }
      return;
    }
    const promise = this.#reload(requested, signal);
    this.#building = { requested, promise };
    try {
      await promise;
    } finally {
      this.#building = undefined;
    }
  }

  async #reload(requested: string, signal: AbortSignal | undefined): Promise<void> {
    const old = this.#current;
    let next: LiveGeneration;
    try {
      next = await this.#opts.build(requested, signal);
    } catch (err) {
      // The old generation keeps serving, at its own log level.
      try {
        applyLogLevel(old.logger, old.logLevel, this.#now());
      } catch {
        // the old level applied before; nothing more to restore
      }
      this.#opts.logger.error({ err, requested_version: requested }, "config reload failed; the previous generation keeps serving");
      throw new HostedReloadError("reload", err);
    }
    this.#current = next;
    this.#lastBuildAt = this.#now();
    this.#lastRequested = requested;
    this.#warnedSinceBuild = false;
    this.#reloads++;
    if (next.version !== requested) {
      this.#opts.logger.warn({ requested_version: requested, served_version: next.version }, "the platform served another config version than requested");
    }
    this.#opts.logger.info({ from_version: old.version, config_version: next.version }, "connector reloaded with a new config");
    this.#retire(old);
  }

  #retire(old: LiveGeneration): void {
    const drainMs = this.#opts.drainTimeoutMs ?? DRAIN_TIMEOUT_MS;
    const closeMs = this.#opts.closeTimeoutMs ?? CLOSE_TIMEOUT_MS;
    const task = (async () => {
      if ((this.#inflight.get(old) ?? 0) > 0) {
        const drained = new Promise<void>((resolve) => this.#drained.set(old, resolve));
        const timedOut = await raceTimeout(drained, drainMs);
        if (timedOut) this.#opts.logger.warn({ config_version: old.version, in_flight: this.#inflight.get(old) }, "old generation did not drain in time; closing it anyway");
      }
      this.#drained.delete(old);
      try {
        const timedOut = await raceTimeout(old.close(), closeMs);
        if (timedOut) this.#opts.logger.warn({ config_version: old.version }, `old generation did not close within ${closeMs} ms`);
      } catch (err) {
        this.#opts.logger.warn({ err, config_version: old.version }, "closing the old generation failed");
      }
    })();
    this.#retiring.add(task);
    void task.finally(() => this.#retiring.delete(task));
  }

  /** Closes the current generation (after its calls drain) and waits for retiring ones. */
  async close(): Promise<void> {
    if (!this.#closed) this.#retire(this.#current);
    this.#closed = true;
    await Promise.all([...this.#retiring]);
  }
}

/** true when `ms` passed before `p` settled (p's rejection propagates). */
async function raceTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<true>((resolve) => {
    timer = setTimeout(() => resolve(true), ms);
    timer.unref?.();
  });
  try {
    return await Promise.race([p.then(() => false as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
