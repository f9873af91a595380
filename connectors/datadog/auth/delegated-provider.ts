/**
 * Datadog credentials from the workload's AWS identity: the provider proves the AWS role to Datadog, receives a
 * short-lived access token, and hands the API client `Authorization: Bearer <token>` in place of the key headers.
 *
 * Lifetime rules (why each exists):
 * - Refresh ahead of expiry (in the background while the current token still works), so requests rarely wait.
 * - One refresh at a time: every caller shares one in-flight exchange; nothing is locked while it runs.
 * - A refresh that completes after a newer token was installed is discarded (generation counter), so a slow
 *   exchange cannot replace a fresher credential.
 * - A failed refresh keeps the current token until it expires and retries with jittered exponential backoff.
 * - If the very first token cannot be had and static keys are configured, switch to them for good and say so once.
 */
import type { Logger } from "pino";
import type { Dispatcher } from "undici";
import { Code, ConnectorError, type EgressPolicy } from "../../../src/api-client.ts";
import { backoffDelay, raceAbort, registerSecret } from "../../../src/api-client.ts";
import { AwsCredentialSource, AwsCredentialsError } from "./aws-credentials.ts";
import type { CredentialProvider } from "../client/credentials.ts";
import { exchangeProofForToken, EXCHANGE_MAX_BYTES, EXCHANGE_TIMEOUT_MS } from "./exchange.ts";
import { buildDelegatedProof, isUuid, ProofError, stsTarget } from "./proof.ts";
import { assertProofDestination } from "./proof-destination.ts";

export interface DelegatedTokenProviderOptions {
  /** Datadog org UUID (--delegated-auth-org-uuid); signed into the proof as x-ddog-org-id. */
  readonly orgUuid: string;
  /** Where the exchange goes: https://api.<site>, or the --base-url. */
  readonly apiBaseUrl: string;
  /** The operator's explicit --base-url, if any: the only non-Datadog destination the proof may go to. */
  readonly explicitBaseUrl?: string;
  /** --aws-region: regional STS endpoint in the proof; global endpoint when absent. */
  readonly region?: string;
  /** AWS credentials; defaults to the standard chain. */
  readonly aws?: AwsCredentialSource;
  /** Static-key provider to fall back to when no first token can be had. */
  readonly fallback?: CredentialProvider;
  readonly logger?: Logger;
  /** undici dispatcher for the exchange (e.g. the client's pool). */
  readonly dispatcher?: Dispatcher;
  readonly exchangeTimeoutMs?: number;
  readonly exchangeMaxBytes?: number;
  /** Hosted mode's served policy, checked before each exchange. */
  readonly egress?: EgressPolicy;
  /** Backoff after a failed refresh: first delay and cap, in ms (jittered in [d/2, d]). */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** Test seams. */
  readonly now?: () => number;
  readonly random?: () => number;
}

interface TokenState {
  readonly token: string;
  readonly obtainedAt: number;
  readonly expiresAt: number;
  readonly generation: number;
}

export interface DelegatedTokenStats {
  /** Exchanges started (successful or not). */
  readonly exchanges: number;
  readonly failedExchanges: number;
  /** Tokens installed so far (the current token's generation). */
  readonly generation: number;
  /** Most exchanges ever in flight at once: 1 when single-flight holds. */
  readonly maxConcurrentExchanges: number;
  readonly usingFallback: boolean;
}

/** Refresh when less than this share of the lifetime is left... */
const REFRESH_AHEAD_FRACTION = 0.2;
/** ...or less than this, whichever comes first for short tokens and last for long ones (see #refreshDue). */
const REFRESH_AHEAD_MAX_MS = 2 * 60_000;
/** Clock differences below this are Date-header rounding and network time, not skew worth correcting. */
const CLOCK_SKEW_TOLERANCE_MS = 5_000;
const BEARER = /^Bearer (.+)$/;
const AUTHORIZATION = "Authorization";

export class DelegatedTokenProvider implements CredentialProvider {
  readonly secretHeaderNames: readonly string[];

  readonly #orgUuid: string;
  readonly #apiBaseUrl: string;
  readonly #region: string | undefined;
  readonly #aws: AwsCredentialSource;
  readonly #fallback: CredentialProvider | undefined;
  readonly #log: Logger | undefined;
  readonly #dispatcher: Dispatcher | undefined;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #backoffBaseMs: number;
  readonly #backoffMaxMs: number;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #closed = new AbortController();

  #current: TokenState | undefined;
  #generation = 0;
  #inflight: Promise<TokenState> | undefined;
  #startup: Promise<void> | undefined;
  #usingFallback = false;
  #consecutiveFailures = 0;
  #nextAttemptAt = 0;
  readonly #egress: EgressPolicy | undefined;
  #exchanges = 0;
  #failedExchanges = 0;
  #concurrent = 0;
  #maxConcurrent = 0;

  constructor(options: DelegatedTokenProviderOptions) {
    if (!isUuid(options.orgUuid)) {
      throw new ConnectorError(
        Code.INVALID_ARGUMENT,
        "--delegated-auth-org-uuid must be your Datadog organization's UUID (8-4-4-4-12 hex digits); GET /api/v2/current_user shows it",
      );
    }
    try {
      this.#apiBaseUrl = assertProofDestination(options.apiBaseUrl, options.explicitBaseUrl);
      stsTarget(options.region); // validates the region up front
    } catch (err) {
      throw new ConnectorError(Code.INVALID_ARGUMENT, (err as Error).message);
    }
    this.#orgUuid = options.orgUuid.toLowerCase();
    this.#region = options.region === "" ? undefined : options.region;
    this.#aws = options.aws ?? new AwsCredentialSource(this.#region !== undefined ? { region: this.#region } : {});
    this.#fallback = options.fallback;
    this.#log = options.logger;
    this.#dispatcher = options.dispatcher;
    this.#egress = options.egress;
    this.#timeoutMs = options.exchangeTimeoutMs ?? EXCHANGE_TIMEOUT_MS;
    this.#maxBytes = options.exchangeMaxBytes ?? EXCHANGE_MAX_BYTES;
    this.#backoffBaseMs = options.backoffBaseMs ?? 1_000;
    this.#backoffMaxMs = options.backoffMaxMs ?? 30_000;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.secretHeaderNames = [AUTHORIZATION, ...(options.fallback?.secretHeaderNames ?? [])];
  }

  describe(): string {
    if (this.#usingFallback && this.#fallback) {
      return `${this.#fallback.describe()} (fallback: delegated auth for org ${this.#orgUuid} could not get a token)`;
    }
    return `delegated auth via AWS identity (org ${this.#orgUuid}, exchange at ${this.#apiBaseUrl})`;
  }

  get usingFallback(): boolean {
    return this.#usingFallback;
  }

  stats(): DelegatedTokenStats {
    return {
      exchanges: this.#exchanges,
      failedExchanges: this.#failedExchanges,
      generation: this.#generation,
      maxConcurrentExchanges: this.#maxConcurrent,
      usingFallback: this.#usingFallback,
    };
  }

  /**
   * Gets the first token now (or switches to the fallback). Optional: headers() does the same lazily. Calling it
   * at startup makes a misconfiguration fail before any work starts.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#current || this.#usingFallback) return;
    this.#startup ??= this.#firstToken();
    await raceAbort(this.#startup, signal);
  }

  async headers(signal?: AbortSignal): Promise<Record<string, string>> {
    signal?.throwIfAborted();
    if (!this.#current && !this.#usingFallback) await this.start(signal);
    if (this.#usingFallback) return this.#fallback!.headers(signal);

    const current = this.#current!;
    const now = this.#now();
    if (now < current.expiresAt) {
      if (this.#refreshDue(current, now) && now >= this.#nextAttemptAt) this.#refreshInBackground();
      return bearer(current.token);
    }
    // Expired: this request has to wait for a new token.
    const next = await this.#refreshNow(signal);
    return bearer(next.token);
  }

  /** A 401 with `used`: get one new token (unless a newer one is already there) so the client retries once. */
  async onUnauthorized(used: Record<string, string>, signal?: AbortSignal): Promise<boolean> {
    if (this.#usingFallback) return (await this.#fallback!.onUnauthorized?.(used, signal)) ?? false;
    const usedToken = BEARER.exec(headerValue(used, "authorization") ?? "")?.[1];
    const current = this.#current;
    if (current && usedToken !== undefined && current.token !== usedToken) return true;
    try {
      const next = await this.#refreshNow(signal, current?.generation);
      return next.token !== usedToken;
    } catch (err) {
      if (signal?.aborted) throw err;
      return false;
    }
  }

  /** Aborts an in-flight exchange; later calls fail. */
  close(): void {
    this.#closed.abort(new ConnectorError(Code.CANCELLED, "delegated auth provider closed"));
  }

  async #firstToken(): Promise<void> {
    try {
      await this.#refreshNow(undefined);
    } catch (err) {
      if (this.#fallback && !this.#closed.signal.aborted) {
        this.#usingFallback = true;
        this.#log?.warn(
          { event: "delegated_auth_fallback", org: this.#orgUuid, reason: errorText(err) },
          "delegated auth: could not get a Datadog access token from the AWS identity; falling back to the configured " +
            "static API and application keys for the rest of this run",
        );
        return;
      }
      this.#startup = undefined; // a later call may try again (service mode keeps running)
      throw asConnectorError(
        err,
        "delegated auth: could not get a Datadog access token and no static API/application keys are configured to fall back to",
      );
    }
  }

  #refreshDue(state: TokenState, now: number): boolean {
    const lifetime = state.expiresAt - state.obtainedAt;
    const ahead = Math.min(REFRESH_AHEAD_MAX_MS, lifetime * REFRESH_AHEAD_FRACTION);
    return state.expiresAt - now <= ahead;
  }

  #refreshInBackground(): void {
    if (this.#inflight) return;
    this.#startRefresh().catch((err: unknown) => {
      this.#log?.warn(
        {
          event: "delegated_auth_refresh_failed",
          reason: errorText(err),
          retryInMs: Math.max(0, this.#nextAttemptAt - this.#now()),
          tokenValidForMs: Math.max(0, (this.#current?.expiresAt ?? 0) - this.#now()),
        },
        "delegated auth: token refresh failed; keeping the current token until it expires",
      );
    });
  }

  /**
   * Waits for a token newer than `staleGeneration` (default: the current one). Joins an in-flight exchange if
   * there is one; honours the backoff after a failure before starting a new exchange.
   */
  async #refreshNow(signal: AbortSignal | undefined, staleGeneration = this.#current?.generation): Promise<TokenState> {
    for (;;) {
      const current = this.#current;
      if (current && staleGeneration !== undefined && current.generation > staleGeneration) return current;
      if (this.#inflight) {
        const state = await raceAbort(this.#inflight, signal);
        if (staleGeneration === undefined || state.generation > staleGeneration) return state;
        continue;
      }
      const wait = this.#nextAttemptAt - this.#now();
      if (wait > 0) {
        await sleep(wait, signal);
        continue;
      }
      return raceAbort(this.#startRefresh(), signal);
    }
  }

  /** Starts the one exchange, shared by every waiter; the caller has checked that none is in flight. */
  #startRefresh(): Promise<TokenState> {
    const startedFrom = this.#generation;
    const run = this.#exchange().then(
      ({ token, expiresAt, obtainedAt }) => {
        if (this.#generation !== startedFrom && this.#current) {
          // A newer token was installed while this exchange ran: keep the newer one.
          return this.#current;
        }
        this.#generation += 1;
        const state: TokenState = { token, expiresAt, obtainedAt, generation: this.#generation };
        this.#current = state;
        this.#consecutiveFailures = 0;
        this.#nextAttemptAt = 0;
        this.#log?.debug(
          { event: "delegated_auth_token", generation: state.generation, expiresInMs: expiresAt - obtainedAt },
          "delegated auth: obtained a Datadog access token",
        );
        return state;
      },
      (err: unknown) => {
        this.#consecutiveFailures += 1;
        this.#nextAttemptAt = this.#now() + this.#backoffDelay();
        throw err;
      },
    );
    const shared = run.finally(() => {
      if (this.#inflight === shared) this.#inflight = undefined;
    });
    this.#inflight = shared;
    // Waiters may all have gone away (aborted); the failure is still recorded above, so do not crash the process.
    shared.catch(() => {});
    return shared;
  }

  async #exchange(): Promise<{ token: string; expiresAt: number; obtainedAt: number }> {
    this.#exchanges += 1;
    this.#concurrent += 1;
    this.#maxConcurrent = Math.max(this.#maxConcurrent, this.#concurrent);
    try {
      const signal = this.#closed.signal;
      signal.throwIfAborted();
      // The credential chain has its own timeouts (IMDS, STS); this bounds the whole lookup the same as the exchange.
      const aws = await this.#aws.resolve(AbortSignal.any([signal, AbortSignal.timeout(this.#timeoutMs)]));
      registerSecret(aws.credentials.secretAccessKey);
      registerSecret(aws.credentials.sessionToken);
      const built = await buildDelegatedProof({
        credentials: aws.credentials,
        orgUuid: this.#orgUuid,
        ...(this.#region !== undefined ? { region: this.#region } : {}),
      });
      const obtainedAt = this.#now();
      const token = await exchangeProofForToken({
        apiBaseUrl: this.#apiBaseUrl,
        proof: built.proof,
        signal,
        timeoutMs: this.#timeoutMs,
        maxBytes: this.#maxBytes,
        now: this.#now,
        ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}),
        ...(this.#egress ? { egress: this.#egress } : {}),
      });
      registerSecret(token.accessToken);
      return { token: token.accessToken, expiresAt: this.#localExpiry(token, obtainedAt), obtainedAt };
    } catch (err) {
      this.#failedExchanges += 1;
      throw toConnectorError(err);
    } finally {
      this.#concurrent -= 1;
    }
  }

  /**
   * `expires` is by Datadog's clock. When ours is off by more than a few seconds (the Date header says so), shift
   * the expiry into our clock; otherwise a fast local clock would see every token as already expired.
   */
  #localExpiry(token: { expiresAtMs: number; serverDateMs?: number }, obtainedAt: number): number {
    if (token.serverDateMs === undefined) return token.expiresAtMs;
    const skew = this.#now() - token.serverDateMs;
    if (Math.abs(skew) <= CLOCK_SKEW_TOLERANCE_MS) return token.expiresAtMs;
    this.#log?.warn(
      { event: "delegated_auth_clock_skew", skewMs: skew },
      "delegated auth: the local clock differs from Datadog's; token expiry is adjusted for it (fix the host's time sync)",
    );
    return Math.max(obtainedAt, token.expiresAtMs + skew);
  }

  #backoffDelay(): number {
    return backoffDelay(this.#consecutiveFailures - 1, { baseMs: this.#backoffBaseMs, maxMs: this.#backoffMaxMs }, this.#random);
  }
}

function bearer(token: string): Record<string, string> {
  return { [AUTHORIZATION]: `Bearer ${token}` };
}

function headerValue(headers: Record<string, string>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/** The error's own message: ours or Datadog's text, never a secret (none is ever put into one). */
function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Everything the provider throws carries a gRPC code, so callers and the engine classify it the same way. */
function toConnectorError(err: unknown): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const code = err instanceof AwsCredentialsError ? Code.UNAUTHENTICATED : err instanceof ProofError ? Code.INVALID_ARGUMENT : Code.UNAVAILABLE;
  return new ConnectorError(code, errorText(err), { cause: err });
}

function asConnectorError(err: unknown, prefix: string): ConnectorError {
  const code = err instanceof ConnectorError ? err.code : Code.UNAUTHENTICATED;
  return new ConnectorError(code, `${prefix}: ${errorText(err)}`, { cause: err });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
