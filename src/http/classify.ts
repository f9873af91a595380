/**
 * Turns the low-level errors of Node and undici (ENOTFOUND, CERT_HAS_EXPIRED, UND_ERR_SOCKET, ...) into one
 * HttpErrorCode and a sentence a person can act on.
 */
import { HttpErrorCode } from "./errors.ts";

export interface NetworkFailure {
  code: HttpErrorCode;
  /** The innermost low-level code, e.g. "ENOTFOUND". */
  causeCode: string | undefined;
  /** A short description without the operation prefix, e.g. "DNS lookup of api.example.com failed (ENOTFOUND)". */
  detail: string;
  /** May a new attempt succeed? */
  transient: boolean;
}

const TLS_CERT_CODES = new Map<string, string>([
  ["DEPTH_ZERO_SELF_SIGNED_CERT", "the server's certificate is self-signed and not trusted"],
  ["SELF_SIGNED_CERT_IN_CHAIN", "the certificate chain ends in a self-signed root that is not trusted"],
  ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "the server's certificate is not trusted (issuer unknown)"],
  ["UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "the server's certificate is not trusted (issuer certificate not found locally)"],
  ["UNABLE_TO_GET_ISSUER_CERT", "the server's certificate is not trusted (issuer certificate not found)"],
  ["CERT_UNTRUSTED", "the server's certificate is not trusted"],
  ["CERT_HAS_EXPIRED", "the server's certificate has expired"],
  ["CERT_NOT_YET_VALID", "the server's certificate is not yet valid (check the system clock)"],
  ["CERT_REVOKED", "the server's certificate has been revoked"],
  ["ERR_TLS_CERT_ALTNAME_INVALID", "the server's certificate does not match the host name"],
  ["CERT_SIGNATURE_FAILURE", "the server's certificate signature is invalid"],
]);

/** Certificates a private CA could fix: the hint about NODE_EXTRA_CA_CERTS applies. */
const UNTRUSTED_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "CERT_UNTRUSTED",
]);

export const EXTRA_CA_HINT =
  "If a proxy or TLS inspection re-signs traffic, or the endpoint uses a private CA, start the process with " +
  "NODE_EXTRA_CA_CERTS=/path/to/ca-bundle.pem (PEM file with the extra root certificates).";

const CONNECTION_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTDOWN",
  "EADDRNOTAVAIL",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_INFO",
]);

/** Walks `cause` chains and AggregateErrors (happy-eyeballs connects) looking for the first error with a code. */
export function innermostCode(err: unknown): { code: string | undefined; error: Record<string, unknown> | undefined } {
  const seen = new Set<unknown>();
  let cur: unknown = err;
  let found: { code: string | undefined; error: Record<string, unknown> | undefined } = { code: undefined, error: undefined };
  while (cur && typeof cur === "object" && !seen.has(cur)) {
    seen.add(cur);
    const rec = cur as Record<string, unknown>;
    if (typeof rec.code === "string") found = { code: rec.code, error: rec };
    if (cur instanceof AggregateError && cur.errors.length > 0) {
      cur = cur.errors[0];
      continue;
    }
    if (rec.cause === undefined) break;
    cur = rec.cause;
  }
  return found;
}

export function isTlsCode(code: string | undefined): boolean {
  if (!code) return false;
  return TLS_CERT_CODES.has(code) || code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_") || code === "EPROTO" || code.includes("CERT");
}

export function isUntrustedCertCode(code: string | undefined): boolean {
  return code !== undefined && UNTRUSTED_CODES.has(code);
}

export interface ClassifyContext {
  /** Target host name (for DNS messages). */
  host: string;
  /** Proxy origin (no credentials) when the request went through a proxy. */
  proxy: string | undefined;
}

/** Classifies an error thrown while sending a request or reading its response. */
export function classifyNetworkError(err: unknown, ctx: ClassifyContext): NetworkFailure {
  const { code, error } = innermostCode(err);
  const message = err instanceof Error ? err.message : String(err);
  const innerMessage = typeof error?.message === "string" ? error.message : message;

  // Proxy failures first: with a proxy in the path, a failure to connect is the proxy's (the proxy resolves the
  // target host itself and reports its own failure as a non-200 answer to CONNECT).
  if (ctx.proxy !== undefined) {
    if (code === "UND_ERR_PRX_CONN" || code === "UND_ERR_PRX_TLS" || /Proxy response \((\d+)\)/.test(message) || /Proxy Authentication Required/.test(message)) {
      const m = /Proxy response \((\d+)\)/.exec(message);
      const why = m ? `the proxy answered ${m[1]} to the tunnel request` : /Proxy Authentication Required/.test(message) ? "the proxy requires authentication (407)" : `the connection to the proxy failed (${code})`;
      return { code: HttpErrorCode.PROXY, causeCode: code, detail: `proxy ${ctx.proxy} failed: ${why}`, transient: false };
    }
    if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EHOSTUNREACH" || code === "ENETUNREACH") {
      return { code: HttpErrorCode.PROXY, causeCode: code, detail: `cannot reach proxy ${ctx.proxy} (${code}); check HTTPS_PROXY / HTTP_PROXY / NO_PROXY`, transient: false };
    }
  }

  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME" || code === "EAI_FAIL" || code === "EAI_NODATA") {
    const host = typeof error?.hostname === "string" ? error.hostname : ctx.host;
    return {
      code: HttpErrorCode.DNS,
      causeCode: code,
      detail: `DNS lookup of ${host} failed (${code}${code === "EAI_AGAIN" ? ": temporary failure" : ": host not found"})`,
      transient: code === "EAI_AGAIN",
    };
  }

  if (code === "UND_ERR_CONNECT_TIMEOUT") {
    return { code: HttpErrorCode.TIMEOUT, causeCode: code, detail: `timed out connecting to ${ctx.host}`, transient: true };
  }
  if (code === "UND_ERR_HEADERS_TIMEOUT") {
    return { code: HttpErrorCode.TIMEOUT, causeCode: code, detail: `timed out waiting for the response headers from ${ctx.host}`, transient: true };
  }
  if (code === "UND_ERR_BODY_TIMEOUT") {
    return { code: HttpErrorCode.TIMEOUT, causeCode: code, detail: `timed out reading the response body from ${ctx.host}`, transient: true };
  }

  if (isTlsCode(code)) {
    const what = (code && TLS_CERT_CODES.get(code)) ?? `TLS handshake failed (${innerMessage})`;
    const hint = isUntrustedCertCode(code) ? ` ${EXTRA_CA_HINT}` : "";
    return { code: HttpErrorCode.TLS, causeCode: code, detail: `TLS with ${ctx.host} failed: ${what} (${code}).${hint}`, transient: false };
  }

  if (code && CONNECTION_CODES.has(code)) {
    const what =
      code === "ECONNREFUSED"
        ? `connection to ${ctx.host} refused`
        : code === "ECONNRESET" || code === "UND_ERR_SOCKET" || code === "UND_ERR_CLOSED"
          ? `connection to ${ctx.host} was reset or closed before the response was complete`
          : code === "UND_ERR_RES_CONTENT_LENGTH_MISMATCH"
            ? `response from ${ctx.host} ended before its announced length`
            : `connection to ${ctx.host} failed`;
    return { code: HttpErrorCode.CONNECTION, causeCode: code, detail: `${what} (${code})`, transient: true };
  }

  if (/socket hang up|other side closed|terminated/i.test(message)) {
    return { code: HttpErrorCode.CONNECTION, causeCode: code, detail: `connection to ${ctx.host} closed unexpectedly (${message})`, transient: true };
  }

  return { code: HttpErrorCode.CONNECTION, causeCode: code, detail: `request to ${ctx.host} failed: ${message}${code ? ` (${code})` : ""}`, transient: false };
}
