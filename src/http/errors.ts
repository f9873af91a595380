/**
 * The one error type of the HTTP layer. `code` is stable (callers branch on it; the diagnosis and the
 * ConnectorError mapping read it); `message` is for humans and never contains a credential: it is built only
 * from the method, the URL path, the status and (redacted) server error text, never from request headers.
 */
import { Code, ConnectorError } from "../connector/errors.ts";
import { redactValues } from "../log/secrets.ts";

export const HttpErrorCode = {
  /** The server answered with a status the caller did not accept (after retries, if any). */
  HTTP_STATUS: "HTTP_STATUS",
  /** No complete answer within the per-request timeout (connect, headers or body). */
  TIMEOUT: "TIMEOUT",
  /** The host name did not resolve. */
  DNS: "DNS",
  /** The TLS handshake failed (untrusted certificate, wrong host name, protocol mismatch). */
  TLS: "TLS",
  /** The TCP connection failed or broke (refused, reset, closed mid-response). */
  CONNECTION: "CONNECTION",
  /** The configured HTTP(S) proxy could not be reached or refused the tunnel. */
  PROXY: "PROXY",
  /** The response body exceeded the configured cap. */
  BODY_TOO_LARGE: "BODY_TOO_LARGE",
  /** The body was not the JSON (or the shape) the operation documents. */
  INVALID_RESPONSE: "INVALID_RESPONSE",
  /** Still rate limited after the bounded number of waits. */
  RATE_LIMITED: "RATE_LIMITED",
  /** The caller's AbortSignal fired. */
  ABORTED: "ABORTED",
  /** The request could not be built (bad URL, bad option). */
  INVALID_REQUEST: "INVALID_REQUEST",
} as const;
export type HttpErrorCode = (typeof HttpErrorCode)[keyof typeof HttpErrorCode];

export interface HttpErrorInit {
  code: HttpErrorCode;
  message: string;
  /** The operation name the caller gave (e.g. "ListUsers"); appears first in the message. */
  operation?: string;
  method?: string;
  /** Origin + path, no query string, no credentials. */
  url?: string;
  status?: number;
  /** Server error strings (e.g. JSON:API `errors`), already redacted. */
  serverErrors?: string[];
  /** Low-level error code (ENOTFOUND, UND_ERR_SOCKET, CERT_HAS_EXPIRED, ...). */
  causeCode?: string;
  /** For DNS failures: the host name that did not resolve. For PROXY: the proxy origin (no credentials). */
  host?: string;
  /** How many attempts were made before giving up. */
  attempts?: number;
  /**
   * The host refused the connection or did not resolve, and it has not answered a single request since the
   * client was made: a wrong address or a blocked egress, which waiting does not fix.
   */
  unreachable?: boolean;
  cause?: unknown;
}

export class HttpError extends Error {
  readonly code: HttpErrorCode;
  readonly operation: string | undefined;
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly status: number | undefined;
  readonly serverErrors: string[];
  readonly causeCode: string | undefined;
  readonly host: string | undefined;
  readonly attempts: number;
  readonly unreachable: boolean;
  /** The message without the operation prefix. */
  readonly detail: string;

  constructor(init: HttpErrorInit) {
    super(init.operation ? `${init.operation}: ${init.message}` : init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "HttpError";
    this.code = init.code;
    this.operation = init.operation;
    this.method = init.method;
    this.url = init.url;
    this.status = init.status;
    this.serverErrors = init.serverErrors ?? [];
    this.causeCode = init.causeCode;
    this.host = init.host;
    this.attempts = init.attempts ?? 1;
    this.unreachable = init.unreachable === true;
    this.detail = init.message;
  }
}

/** The error for a request the caller cancelled (before, between or during attempts). */
export function abortedError(operation: string, method: string, url: string, cause: unknown): HttpError {
  return new HttpError({ code: HttpErrorCode.ABORTED, operation, method, url, message: `${method} ${url}: cancelled by the caller`, cause });
}

export function isHttpError(err: unknown): err is HttpError {
  return err instanceof HttpError;
}

/** Maps an HTTP status to the gRPC code that a connector reports for it. */
export function statusToCode(status: number): Code {
  switch (status) {
    case 400:
    case 422:
      return Code.INVALID_ARGUMENT;
    case 401:
      return Code.UNAUTHENTICATED;
    case 403:
      return Code.PERMISSION_DENIED;
    case 404:
      return Code.NOT_FOUND;
    case 409:
      return Code.ALREADY_EXISTS;
    case 412:
      return Code.FAILED_PRECONDITION;
    case 429:
      return Code.UNAVAILABLE;
    case 501:
      return Code.UNIMPLEMENTED;
    default:
      // Every other 5xx (500 included) is the server's fault and usually gone on a later attempt: the engine retries it.
      return status >= 500 && status < 600 ? Code.UNAVAILABLE : Code.UNKNOWN;
  }
}

/** The gRPC code for an HttpError (UNAVAILABLE for anything a later attempt may fix). */
export function httpErrorToCode(err: HttpError): Code {
  switch (err.code) {
    case HttpErrorCode.HTTP_STATUS:
      return statusToCode(err.status ?? 0);
    case HttpErrorCode.DNS:
    case HttpErrorCode.CONNECTION:
    case HttpErrorCode.PROXY:
      // A host that has never answered is misconfigured or blocked: retrying (the engine retries UNAVAILABLE)
      // only turns the one-line answer into half a minute of noise.
      return err.unreachable ? Code.FAILED_PRECONDITION : Code.UNAVAILABLE;
    case HttpErrorCode.TIMEOUT:
    case HttpErrorCode.RATE_LIMITED:
      return Code.UNAVAILABLE;
    case HttpErrorCode.TLS:
      // A certificate problem does not fix itself; retrying only delays the real message.
      return Code.FAILED_PRECONDITION;
    case HttpErrorCode.ABORTED:
      return Code.CANCELLED;
    case HttpErrorCode.INVALID_REQUEST:
      return Code.INVALID_ARGUMENT;
    case HttpErrorCode.BODY_TOO_LARGE:
    case HttpErrorCode.INVALID_RESPONSE:
      return Code.INTERNAL;
    default:
      return Code.UNKNOWN;
  }
}

/** Wraps anything thrown by the HTTP layer (or above it) into a ConnectorError with the right code. */
export function toConnectorError(err: unknown): ConnectorError {
  if (err instanceof ConnectorError) return err;
  if (err instanceof HttpError) return new ConnectorError(httpErrorToCode(err), err.message, { cause: err });
  return ConnectorError.from(err);
}

/**
 * Replaces each secret in `text` with "[REDACTED]" by the logger's whole-value rule: long values anywhere,
 * short ones only as a token of their own, so a placeholder key does not eat letters out of the message.
 */
export function redactSecrets(text: string, secrets: Iterable<string>): string {
  return redactValues(text, secrets);
}
