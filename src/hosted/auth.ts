/**
 * Invocation authentication (HOSTED-LAMBDA.md §4.7): every invocation carries `authorization: Bearer <JWT>`
 * signed by the platform's key — a JWK given at start-up (BATON_LAMBDA_AUTH_JWT_SIGNER) or a JWKS URL
 * (BATON_LAMBDA_AUTH_JWT_JWKS_URL, fetched at cold start, then refreshed by jose with its cool-down). The token
 * must name the expected issuer, subject and audience, and carry an `exp` no later than 24 h from now; `nbf` is
 * honoured; there is no clock-skew allowance. Failures are UNAUTHENTICATED with the SDK's messages.
 */
import * as jose from "jose";
import { Code, ConnectorError } from "../connector/errors.ts";
import type { HeaderMap } from "./envelope.ts";
import type { InvocationAuthSettings } from "./settings.ts";

export type { InvocationAuthSettings };

/** The algorithms the SDK's verifier allows (pquerna/xjwt). */
export const ALLOWED_ALGS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"];
export const MAX_TOKEN_LIFETIME_S = 24 * 60 * 60;
/** Bounds for what a JWKS endpoint may send: a key set, not a download. */
export const MAX_JWKS_BYTES = 256 * 1024;
export const MAX_JWKS_KEYS = 100;
const JWKS_TIMEOUT_MS = 10_000;
const MAX_TOKEN_CHARS = 16 * 1024;

export type InvocationClaims = jose.JWTPayload;

export interface InvocationVerifier {
  /** Checks the call's `authorization` header; resolves with the token's claims, rejects UNAUTHENTICATED. */
  verify(headers: HeaderMap): Promise<InvocationClaims>;
}

const unauthenticated = (message: string) => new ConnectorError(Code.UNAUTHENTICATED, message);

/** A start-up setting that cannot work: names the env var and what to give instead. */
export class InvocationAuthConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "InvocationAuthConfigError";
  }
}

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k"];

function parseSignerJwk(text: string): jose.JWK {
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new InvocationAuthConfigError("BATON_LAMBDA_AUTH_JWT_SIGNER is not JSON: give the signer's public key as a JWK object");
  }
  if (jwk === null || typeof jwk !== "object" || Array.isArray(jwk) || typeof (jwk as jose.JWK).kty !== "string") {
    throw new InvocationAuthConfigError('BATON_LAMBDA_AUTH_JWT_SIGNER must be a JWK object with a "kty" (a public key)');
  }
  if (PRIVATE_MEMBERS.some((m) => Object.hasOwn(jwk as object, m))) {
    throw new InvocationAuthConfigError("BATON_LAMBDA_AUTH_JWT_SIGNER holds private key material: give the public JWK only");
  }
  return jwk as jose.JWK;
}

/** fetch with a timeout and a size cap, for jose's remote key set. */
function boundedFetch(fetchImpl: typeof fetch): jose.FetchImplementation {
  return async (url, options) => {
    const res = await fetchImpl(url, { ...options, signal: AbortSignal.any([options.signal, AbortSignal.timeout(JWKS_TIMEOUT_MS)]) });
    const declared = Number(res.headers.get("content-length"));
    if (Number.isFinite(declared) && declared > MAX_JWKS_BYTES) {
      await res.body?.cancel();
      throw new Error(`JWKS at ${url} is ${declared} bytes; at most ${MAX_JWKS_BYTES}`);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    if (res.body) {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        total += chunk.byteLength;
        if (total > MAX_JWKS_BYTES) throw new Error(`JWKS at ${url} is larger than ${MAX_JWKS_BYTES} bytes`);
        chunks.push(chunk);
      }
    }
    const body = Buffer.concat(chunks);
    const parsed: unknown = res.ok ? JSON.parse(body.toString("utf8") || "null") : undefined;
    const keys = (parsed as { keys?: unknown } | undefined)?.keys;
    if (Array.isArray(keys)) {
      if (keys.length > MAX_JWKS_KEYS) throw new Error(`JWKS at ${url} has ${keys.length} keys; at most ${MAX_JWKS_KEYS}`);
      // Only public keys verify (§4.7): a private member makes a key unusable, not the whole set.
      (parsed as { keys: unknown[] }).keys = keys.filter(
        (k) => k !== null && typeof k === "object" && !PRIVATE_MEMBERS.some((m) => Object.hasOwn(k as object, m)),
      );
    }
    return new Response(res.ok ? JSON.stringify(parsed) : body, { status: res.status, statusText: res.statusText, headers: { "content-type": "application/json" } });
  };
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return "(not a URL)";
  }
}

/**
 * Builds the verifier; with a JWKS URL the key set is fetched now, and a failure is a start-up error (§1.3 step 7).
 * Exactly one of signerJwk / jwksUrl must be set.
 */
export async function createInvocationVerifier(settings: InvocationAuthSettings, opts: { fetch?: typeof fetch; now?: () => number } = {}): Promise<InvocationVerifier> {
  if (Boolean(settings.signerJwk) === Boolean(settings.jwksUrl)) {
    throw new InvocationAuthConfigError(
      "lambda-run: must specify exactly one of BATON_LAMBDA_AUTH_JWT_SIGNER (a public JWK) or BATON_LAMBDA_AUTH_JWT_JWKS_URL",
    );
  }
  let keys: jose.JWTVerifyGetKey;
  if (settings.signerJwk) {
    const jwk = parseSignerJwk(settings.signerJwk);
    try {
      // Import once now so a JWK that is no key fails at start-up, not on every call.
      await jose.importJWK(jwk, jwk.alg ?? defaultAlg(jwk));
    } catch (err) {
      throw new InvocationAuthConfigError(`BATON_LAMBDA_AUTH_JWT_SIGNER is not a usable public key: ${(err as Error).message}`, { cause: err });
    }
    keys = jose.createLocalJWKSet({ keys: [jwk] });
  } else {
    let url: URL;
    try {
      url = new URL(settings.jwksUrl!);
    } catch {
      throw new InvocationAuthConfigError("BATON_LAMBDA_AUTH_JWT_JWKS_URL is not a URL");
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new InvocationAuthConfigError("BATON_LAMBDA_AUTH_JWT_JWKS_URL must be an https URL");
    const remote = jose.createRemoteJWKSet(url, { [jose.customFetch]: boundedFetch(opts.fetch ?? fetch), timeoutDuration: JWKS_TIMEOUT_MS });
    try {
      await remote.reload();
    } catch (err) {
      throw new InvocationAuthConfigError(`lambda-run: cannot fetch the invocation JWKS from ${redactUrl(settings.jwksUrl!)}: ${(err as Error).message}`, { cause: err });
    }
    keys = remote;
  }
  const now = opts.now ?? Date.now;

  return {
    async verify(headers) {
      const value = headers.get("authorization")?.[0];
      if (value === undefined) throw unauthenticated("missing authorization header");
      if (!value.startsWith("Bearer ") || value.length <= "Bearer ".length) throw unauthenticated("invalid authorization header");
      const token = value.slice("Bearer ".length);
      if (token.length > MAX_TOKEN_CHARS) throw unauthenticated(`invalid token: longer than ${MAX_TOKEN_CHARS} characters`);
      let payload: jose.JWTPayload;
      try {
        const nowS = Math.floor(now() / 1000);
        ({ payload } = await jose.jwtVerify(token, keys, {
          algorithms: ALLOWED_ALGS,
          issuer: settings.issuer,
          subject: settings.subject,
          audience: settings.audience,
          requiredClaims: ["exp"],
          currentDate: new Date(nowS * 1000),
          clockTolerance: 0,
        }));
        if (typeof payload.exp !== "number" || payload.exp > nowS + MAX_TOKEN_LIFETIME_S) {
          throw new Error(`"exp" is more than ${MAX_TOKEN_LIFETIME_S / 3600} h in the future`);
        }
      } catch (err) {
        throw unauthenticated(`invalid token: ${(err as Error).message}`);
      }
      return payload;
    },
  };
}

function defaultAlg(jwk: jose.JWK): string {
  switch (jwk.kty) {
    case "OKP":
      return "EdDSA";
    case "EC":
      return jwk.crv === "P-384" ? "ES384" : jwk.crv === "P-521" ? "ES512" : "ES256";
    default:
      return "RS256";
  }
}
