/**
 * One proof → token exchange: POST <apiBase>/api/v2/delegated-token with `Authorization: Delegated <proof>` and an
 * empty body. Bounded in time (30 s) and size (1 MiB). Errors quote Datadog's own error text and nothing we sent.
 */
import type { Dispatcher } from "undici";
import { z } from "zod";
import { Code, ConnectorError, EgressDeniedError, type EgressPolicy } from "../../../src/api-client.ts";
import type { DelegatedProof } from "./proof.ts";

export const DELEGATED_TOKEN_PATH = "/api/v2/delegated-token";
export const EXCHANGE_TIMEOUT_MS = 30_000;
export const EXCHANGE_MAX_BYTES = 1024 * 1024;
/** Datadog's documented default when `expires` is absent. */
export const DEFAULT_TOKEN_LIFETIME_S = 15 * 60;

export interface ExchangeOptions {
  /** Already checked with assertProofDestination. */
  readonly apiBaseUrl: string;
  readonly proof: DelegatedProof;
  readonly dispatcher?: Dispatcher;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
  /** Clock for the default lifetime (ms since epoch). */
  readonly now?: () => number;
  /** Hosted mode's served policy: an exchange to a host it does not allow is refused before anything is sent. */
  readonly egress?: EgressPolicy;
}

export interface ExchangedToken {
  readonly accessToken: string;
  /** Expiry in ms since epoch by Datadog's clock (from `expires`), or by ours (now + 15 min) when absent. */
  readonly expiresAtMs: number;
  /** Datadog's clock when it answered (the Date header, whole seconds), when it sent one and `expires` was given. */
  readonly serverDateMs?: number;
}

const tokenResponse = z.object({
  data: z.object({
    attributes: z.object({
      access_token: z.string().min(1),
      expires: z.number().int().positive().optional(),
    }),
  }),
});

const errorResponse = z.object({ errors: z.array(z.unknown()) });

/** Exchange failure. `refused` = Datadog answered 401/403: the proof or the persona mapping is wrong. */
export class DelegatedExchangeError extends ConnectorError {
  readonly status: number | undefined;
  readonly refused: boolean;
  readonly datadogErrors: readonly string[];
  constructor(code: Code, message: string, options: { status?: number; datadogErrors?: readonly string[]; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DelegatedExchangeError";
    this.status = options.status;
    this.refused = options.status === 401 || options.status === 403;
    this.datadogErrors = options.datadogErrors ?? [];
  }
}

export async function exchangeProofForToken(options: ExchangeOptions): Promise<ExchangedToken> {
  // undici's index (109 modules) loads with the first exchange: a sync with API keys never makes one.
  const { request } = await import("undici");
  const timeoutMs = options.timeoutMs ?? EXCHANGE_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? EXCHANGE_MAX_BYTES;
  const now = options.now ?? Date.now;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const url = `${options.apiBaseUrl}${DELEGATED_TOKEN_PATH}`;
  if (options.egress && !options.egress.allows(new URL(url))) throw new EgressDeniedError(new URL(url), options.egress, "delegated auth token exchange");

  let status: number;
  let text: string;
  let dateHeader: string | undefined;
  try {
    const res = await request(url, {
      method: "POST",
      headers: {
        authorization: `Delegated ${options.proof.reveal()}`,
        accept: "application/json",
        "content-length": "0",
      },
      body: "",
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
    status = res.statusCode;
    const date = res.headers.date;
    dateHeader = Array.isArray(date) ? date[0] : date;
    text = await readCapped(res.body, maxBytes, url);
  } catch (err) {
    if (err instanceof DelegatedExchangeError) throw err;
    if (options.signal?.aborted) {
      throw new DelegatedExchangeError(Code.CANCELLED, "delegated auth: the token exchange was cancelled", { cause: err });
    }
    if (timeout.aborted || isUndiciTimeout(err)) {
      throw new DelegatedExchangeError(
        Code.DEADLINE_EXCEEDED,
        `delegated auth: the token exchange at ${url} did not answer within ${Math.round(timeoutMs / 1000)} s`,
        { cause: err },
      );
    }
    throw new DelegatedExchangeError(
      Code.UNAVAILABLE,
      `delegated auth: could not reach ${url} for the token exchange: ${networkReason(err)}`,
      { cause: err },
    );
  }

  if (status < 200 || status > 299) {
    const datadogErrors = extractErrors(text);
    const said = datadogErrors.length > 0 ? `: ${datadogErrors.join("; ")}` : "";
    const code = status === 401 ? Code.UNAUTHENTICATED : status === 403 ? Code.PERMISSION_DENIED
      : status === 429 || status >= 500 ? Code.UNAVAILABLE : Code.FAILED_PRECONDITION;
    const hint = status === 401 || status === 403
      ? " (check --delegated-auth-org-uuid and that a Datadog persona mapping exists for this AWS role)"
      : "";
    throw new DelegatedExchangeError(code, `delegated auth: Datadog refused the token exchange with HTTP ${status}${said}${hint}`, {
      status,
      datadogErrors,
    });
  }

  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new DelegatedExchangeError(Code.UNAVAILABLE, `delegated auth: the token exchange answered HTTP ${status} with a body that is not JSON`, { status });
  }
  const parsed = tokenResponse.safeParse(body);
  if (!parsed.success) {
    throw new DelegatedExchangeError(
      Code.UNAVAILABLE,
      `delegated auth: the token exchange answered HTTP ${status} without data.attributes.access_token`,
      { status },
    );
  }
  const { access_token, expires } = parsed.data.data.attributes;
  if (expires === undefined) return { accessToken: access_token, expiresAtMs: now() + DEFAULT_TOKEN_LIFETIME_S * 1000 };
  const serverDateMs = dateHeader === undefined ? Number.NaN : Date.parse(dateHeader);
  return {
    accessToken: access_token,
    expiresAtMs: expires * 1000,
    ...(Number.isFinite(serverDateMs) ? { serverDateMs } : {}),
  };
}

async function readCapped(body: AsyncIterable<Buffer | Uint8Array> & { destroy(err?: Error): unknown }, maxBytes: number, url: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      body.destroy();
      throw new DelegatedExchangeError(
        Code.UNAVAILABLE,
        `delegated auth: the token exchange response from ${url} exceeded ${maxBytes} bytes; refusing to read more`,
      );
    }
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Datadog's `{"errors": [...]}` as short single-line strings (its text only; nothing of ours is in it). */
export function extractErrors(text: string): string[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return [];
  }
  const parsed = errorResponse.safeParse(json);
  if (!parsed.success) return [];
  return parsed.data.errors
    .map((e) => (typeof e === "string" ? e : e && typeof e === "object" && "detail" in e ? String((e as { detail: unknown }).detail) : ""))
    .map((e) => e.replace(/[\u0000-\u001f\u007f]+/g, " ").trim().slice(0, 300))
    .filter((e) => e !== "")
    .slice(0, 5);
}

function isUndiciTimeout(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT" || code === "UND_ERR_CONNECT_TIMEOUT";
}

function networkReason(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } } | null;
  const code = e?.cause?.code ?? e?.code;
  const message = e?.cause?.message ?? e?.message;
  return [typeof code === "string" ? code : undefined, typeof message === "string" ? message : undefined]
    .filter(Boolean)
    .join(" ")
    .slice(0, 200) || "unknown network error";
}
