/**
 * Access tokens for the platform: a client assertion exchanged at `https://<host>/auth/v1/token`, cached until
 * shortly before it expires, with one exchange in flight at a time however many calls need a token.
 *
 * Errors are ConnectorErrors so the gRPC client passes them through unchanged: UNAUTHENTICATED when the platform
 * refuses the credentials (the caller retries with backoff; a refused credential does not fix itself quickly),
 * UNAVAILABLE when the endpoint cannot be reached or fails. Tokens are registered as secrets so no log shows them.
 */
import { EnvHttpProxyAgent, request, type Dispatcher } from "undici";
import { z } from "zod";
import { Code, ConnectorError } from "../connector/errors.ts";
import { redactText, registerSecret } from "../log/secrets.ts";
import { createClientAssertion, type ClientId, type ClientSecret, type PlatformEndpoint } from "./credentials.ts";

export interface AccessToken {
  /** As the endpoint sent it (usually "bearer"). */
  tokenType: string;
  accessToken: string;
  /** Epoch ms at which the token stops being valid. */
  expiresAt: number;
}

export interface TokenSourceOptions {
  clientId: ClientId;
  secret: ClientSecret;
  endpoint: PlatformEndpoint;
  /** CA certificates (PEM) to trust; see trust.ts (undefined: Node's default store). */
  ca: string[] | undefined;
  /** Whole exchange deadline (default 30 s). */
  timeoutMs?: number;
  /** Clock of the cache (when to refresh), for tests of expiry. */
  now?: () => number;
  userAgent?: string;
  /**
   * The hosted runtime's exchange (HOSTED-LAMBDA.md §2.3): a DPoP proof header on every request, one retry with
   * the nonce a `use_dpop_nonce` refusal asks for (kept for later requests), its own client assertion, and
   * oauth2's token rules (token_type DPoP or Bearer, `expires_in` or `expiry`, reused until 10 s before expiry).
   */
  /** How a refusal tells the user to fix it (default: "check --client-id and --client-secret"). */
  credentialsHint?: string;
  dpop?: {
    proof(nonce: string | undefined): Promise<string>;
    assertion(): Promise<string>;
  };
}

const tokenResponse = z.object({
  access_token: z.string().min(1),
  token_type: z.string().min(1),
  expires_in: z.number().positive(),
});

/** oauth2.Token as the hosted runtime reads it: no expires_in means already expired (fetched again per call). */
const oauth2TokenResponse = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.number().optional(),
  expiry: z.string().optional(),
});

/** oauth2's early expiry: a token counts as expired 10 s before it ends. */
const OAUTH2_EXPIRY_DELTA_MS = 10_000;

const MAX_RESPONSE_BYTES = 64 * 1024;

/** Refresh this long before expiry: a minute, or a fifth of a short lifetime. */
function refreshMargin(lifetimeMs: number): number {
  return Math.min(60_000, lifetimeMs / 5);
}

/** A short, printable excerpt of what the endpoint said, scrubbed of registered secrets. */
function describeRefusal(status: number, body: string): string {
  let text = body;
  try {
    const parsed = JSON.parse(body) as { error?: unknown; error_description?: unknown; message?: unknown };
    const parts = [parsed.error, parsed.error_description ?? parsed.message].filter((p) => typeof p === "string" && p);
    if (parts.length > 0) text = parts.join(": ");
  } catch {
    // not JSON: use the text as is
  }
  // eslint-disable-next-line no-control-regex
  text = text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim().slice(0, 300);
  return redactText(text || `HTTP ${status}`);
}

export class PlatformTokenSource {
  readonly #opts: TokenSourceOptions;
  readonly #dispatcher: Dispatcher;
  readonly #now: () => number;
  #current: AccessToken | undefined;
  #refreshAt = 0;
  #inflight: Promise<AccessToken> | undefined;
  #exchanges = 0;
  #nonce: string | undefined;

  constructor(options: TokenSourceOptions) {
    this.#opts = options;
    this.#now = options.now ?? Date.now;
    this.#dispatcher = new EnvHttpProxyAgent({
      // HTTP/1.1: one small request an hour needs no multiplexing, and every TLS front end speaks it.
      allowH2: false,
      connect: { ca: options.ca, minVersion: "TLSv1.2", timeout: 15_000 },
      headersTimeout: options.timeoutMs ?? 30_000,
      bodyTimeout: options.timeoutMs ?? 30_000,
    });
  }

  /** How many exchanges were attempted (for tests and the health status). */
  get exchanges(): number {
    return this.#exchanges;
  }

  /** A valid token: the cached one, or a fresh exchange shared by every concurrent caller. */
  async token(signal?: AbortSignal): Promise<AccessToken> {
    if (this.#current && this.#now() < this.#refreshAt) return this.#current;
    this.#inflight ??= this.#exchange().finally(() => {
      this.#inflight = undefined;
    });
    if (!signal) return this.#inflight;
    // A caller that gives up does not cancel the shared exchange others wait on.
    signal.throwIfAborted();
    const { promise, reject } = Promise.withResolvers<never>();
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await Promise.race([this.#inflight, promise]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Forgets the cached token (the platform rejected it); the next call exchanges again. */
  invalidate(): void {
    this.#current = undefined;
    this.#refreshAt = 0;
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }

  async #exchange(): Promise<AccessToken> {
    this.#exchanges++;
    const { clientId, secret, endpoint } = this.#opts;
    const started = this.#now();
    const { dpop } = this.#opts;
    const deadline = AbortSignal.timeout(this.#opts.timeoutMs ?? 30_000);
    let status = 0;
    let text = "";
    for (let attempt = 0; attempt < 2; attempt++) {
      // The assertion is judged by the platform's clock, so it always uses the real time.
      const assertion = dpop ? await dpop.assertion() : await createClientAssertion(clientId, secret, endpoint.audience, Date.now());
      const fields: Record<string, string> = {
        client_id: clientId.value,
        grant_type: "client_credentials",
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: assertion,
      };
      // Go's url.Values encodes keys sorted; the hosted platform sees the same bytes.
      const form = new URLSearchParams(dpop ? Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : 1)) : fields);
      let nonceHeader: string | undefined;
      try {
        const res = await request(endpoint.tokenUrl, {
          method: "POST",
          dispatcher: this.#dispatcher,
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            accept: "application/json",
            "user-agent": this.#opts.userAgent ?? `baton-ts (node ${process.version})`,
            ...(dpop ? { dpop: await dpop.proof(this.#nonce) } : {}),
          },
          body: form.toString(),
          signal: deadline,
        });
        status = res.statusCode;
        text = await readCapped(res.body);
        const h = res.headers["dpop-nonce"];
        nonceHeader = Array.isArray(h) ? h[0] : h;
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new ConnectorError(Code.UNAVAILABLE, `cannot reach the platform's token endpoint ${endpoint.tokenUrl}: ${redactText(why)}`, {
          cause: err,
        });
      }
      if (!dpop || status !== 400 || errorCode(text) !== "use_dpop_nonce") break;
      if (!nonceHeader) {
        throw new ConnectorError(
          Code.UNAVAILABLE,
          `the platform's token endpoint asked for a DPoP nonce (use_dpop_nonce) but sent no DPoP-Nonce header (${endpoint.tokenUrl})`,
        );
      }
      this.#nonce = nonceHeader.slice(0, 1024);
      if (attempt > 0) {
        // Retried once, as Go does; the new nonce is kept, so the next exchange can succeed.
        throw new ConnectorError(
          Code.UNAVAILABLE,
          `the platform's token endpoint asked for a new DPoP nonce again right after the retry with one (${endpoint.tokenUrl}); the next attempt uses the new nonce`,
        );
      }
    }
    if (status === 400 || status === 401 || status === 403) {
      throw new ConnectorError(
        Code.UNAUTHENTICATED,
        `the platform refused the client credentials: ${describeRefusal(status, text)} (HTTP ${status} from ${endpoint.tokenUrl}; ` +
          `${this.#opts.credentialsHint ?? "check --client-id and --client-secret"}, and that the credential was not revoked)`,
      );
    }
    if (status < 200 || status >= 300) {
      throw new ConnectorError(
        status === 429 || status >= 500 ? Code.UNAVAILABLE : Code.UNKNOWN,
        `the platform's token endpoint answered HTTP ${status}: ${describeRefusal(status, text)}`,
      );
    }
    if (dpop) return this.#acceptOauth2Token(text, started);
    let parsed: z.infer<typeof tokenResponse>;
    try {
      parsed = tokenResponse.parse(JSON.parse(text));
    } catch {
      throw new ConnectorError(Code.UNAVAILABLE, `the platform's token endpoint answered without a usable token (${endpoint.tokenUrl})`);
    }
    registerSecret(parsed.access_token);
    const lifetimeMs = parsed.expires_in * 1000;
    const token: AccessToken = { tokenType: parsed.token_type, accessToken: parsed.access_token, expiresAt: started + lifetimeMs };
    this.#current = token;
    this.#refreshAt = started + lifetimeMs - refreshMargin(lifetimeMs);
    return token;
  }

  #acceptOauth2Token(text: string, started: number): AccessToken {
    const url = this.#opts.endpoint.tokenUrl;
    let parsed: z.infer<typeof oauth2TokenResponse>;
    try {
      parsed = oauth2TokenResponse.parse(JSON.parse(text));
    } catch {
      throw new ConnectorError(Code.UNAVAILABLE, `the platform's token endpoint answered without a usable token (${url})`);
    }
    registerSecret(parsed.access_token);
    const tokenType = parsed.token_type ?? "";
    if (!["dpop", "bearer"].includes(tokenType.toLowerCase())) {
      throw new ConnectorError(
        Code.UNAVAILABLE,
        `the platform's token endpoint answered token_type ${JSON.stringify(tokenType.slice(0, 40))}; expected DPoP or Bearer (${url})`,
      );
    }
    const expiry = parsed.expiry === undefined ? Number.NaN : Date.parse(parsed.expiry);
    const expiresAt = Number.isFinite(expiry)
      ? expiry
      : parsed.expires_in !== undefined && parsed.expires_in > 0
        ? started + parsed.expires_in * 1000 - OAUTH2_EXPIRY_DELTA_MS
        : started;
    const token: AccessToken = { tokenType, accessToken: parsed.access_token, expiresAt };
    this.#current = token;
    this.#refreshAt = expiresAt - OAUTH2_EXPIRY_DELTA_MS;
    return token;
  }
}

function errorCode(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    return typeof parsed.error === "string" ? parsed.error : undefined;
  } catch {
    return undefined;
  }
}

async function readCapped(body: AsyncIterable<Buffer | Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES) throw new Error(`response larger than ${MAX_RESPONSE_BYTES} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The `authorization` header value: `<token_type> <access_token>`, with the usual "Bearer" spelling. */
export function authorizationValue(token: AccessToken): string {
  const type = token.tokenType === "" || token.tokenType.toLowerCase() === "bearer" ? "Bearer" : token.tokenType;
  return `${type} ${token.accessToken}`;
}
