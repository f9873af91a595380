/**
 * Service-mode credentials: the client id (`<name>@<tokenHost>/<suffix>`), the client secret (4 parts joined by
 * ':', the third `v1`, the fourth base64url of an Ed25519 private JWK), where the platform lives, and the
 * EdDSA client-assertion JWT exchanged for an access token.
 *
 * Every error names what is malformed and how to fix it, and never contains the secret or any part of it:
 * a mangled secret is often a different secret pasted into the wrong place.
 */
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from "node:crypto";
import { SignJWT } from "jose";
import { ConfigError } from "../config/errors.ts";
import { registerSecret } from "../log/secrets.ts";

export const CLIENT_ID_LABEL = "--client-id / BATON_CLIENT_ID";
export const CLIENT_SECRET_LABEL = "--client-secret / BATON_CLIENT_SECRET";
export const API_HOST_LABEL = "BATON_C1_API_HOST";

/** Which way a credential is malformed; tests and callers match on this, users read the message. */
export type CredentialsProblem =
  | "client-id-format"
  | "secret-parts"
  | "secret-version"
  | "secret-base64url"
  | "secret-json"
  | "secret-not-jwk"
  | "secret-key-type"
  | "secret-missing-d"
  | "secret-bad-key"
  | "secret-key-mismatch"
  | "api-host";

/** A malformed --client-id, --client-secret or BATON_C1_API_HOST (the CLI exits 2, as for any config error). */
export class ClientCredentialsError extends ConfigError {
  readonly problem: CredentialsProblem;

  constructor(problem: CredentialsProblem, label: string, message: string) {
    super([{ label, message }]);
    this.name = "ClientCredentialsError";
    this.problem = problem;
  }
}

export interface ClientId {
  /** The whole client id: the JWT's iss and sub, and the token request's client_id. */
  value: string;
  name: string;
  /** `host` or `host:port` as written in the client id. */
  tokenHost: string;
  suffix: string;
}

export function parseClientId(clientId: string, label: string = CLIENT_ID_LABEL): ClientId {
  const value = clientId.trim();
  const fail = (why: string) =>
    new ClientCredentialsError(
      "client-id-format",
      label,
      `${why}; a client id looks like <name>@<host>/<suffix> (copy it from the connector's page in ConductorOne)`,
    );
  const at = value.indexOf("@");
  if (at < 0) throw fail("the client id has no '@'");
  const name = value.slice(0, at);
  const rest = value.slice(at + 1);
  const slash = rest.indexOf("/");
  if (slash < 0) throw fail("the client id has no '/' after the host");
  const tokenHost = rest.slice(0, slash);
  const suffix = rest.slice(slash + 1);
  if (!name) throw fail("the client id has an empty name before '@'");
  if (!tokenHost) throw fail("the client id has an empty host between '@' and '/'");
  if (!suffix) throw fail("the client id has an empty part after '/'");
  if (/\s/.test(value)) throw fail("the client id contains whitespace");
  parseHostPort(tokenHost, label); // a bad port is a client id problem, found now rather than at connect time
  return { value, name, tokenHost, suffix };
}

export interface ClientSecret {
  privateKey: KeyObject;
  /** The public half (base64url of the 32-byte Ed25519 public key), what the platform verifies assertions with. */
  publicKeyX: string;
  /** The JWK's own `kid`, when it has one (the hosted runtime's client assertion carries it). */
  kid?: string;
}

const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;
// PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410): lets us import `d` alone, then derive `x` ourselves.
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export function parseClientSecret(secret: string, label: string = CLIENT_SECRET_LABEL): ClientSecret {
  const value = secret.trim();
  registerSecret(value);
  const fail = (problem: CredentialsProblem, message: string) =>
    new ClientCredentialsError(problem, label, `${message} (the secret is not shown)`);

  const parts = value.split(":");
  if (parts.length !== 4) {
    throw fail(
      "secret-parts",
      `the client secret has ${parts.length} part${parts.length === 1 ? "" : "s"} separated by ':' but must have 4; ` +
        "paste the whole secret exactly as ConductorOne showed it",
    );
  }
  if (parts[2] !== "v1") {
    throw fail("secret-version", "the client secret's version (its third ':'-separated part) is not v1; this connector reads v1 secrets only");
  }
  const encoded = parts[3];
  if (!BASE64URL.test(encoded)) {
    throw fail("secret-base64url", "the client secret's key (its fourth part) is not base64url; it may have been cut or re-encoded when copied");
  }
  const json = Buffer.from(encoded, "base64url").toString("utf8");
  let jwk: unknown;
  try {
    jwk = JSON.parse(json);
  } catch {
    throw fail("secret-json", "the client secret's key (its fourth part) does not decode to JSON");
  }
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk) || typeof (jwk as { kty?: unknown }).kty !== "string") {
    throw fail("secret-not-jwk", "the client secret's key is not a JSON Web Key (a JSON object with a kty)");
  }
  const { kty, crv, d, x } = jwk as { kty: string; crv?: unknown; d?: unknown; x?: unknown };
  if (kty !== "OKP" || crv !== "Ed25519") {
    throw fail("secret-key-type", "the client secret's key is not an Ed25519 key (it must have kty OKP and crv Ed25519)");
  }
  if (typeof d !== "string" || d.length === 0) {
    throw fail("secret-missing-d", "the client secret's key has no private part (d): it is a public key, not a client secret");
  }
  const seed = BASE64URL.test(d) ? Buffer.from(d, "base64url") : Buffer.alloc(0);
  let privateKey: KeyObject;
  try {
    if (seed.length !== 32) throw new Error("an Ed25519 private key is 32 bytes");
    privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
  } catch {
    throw fail("secret-bad-key", "the client secret's key has a private part (d) that is not a valid Ed25519 private key");
  } finally {
    seed.fill(0);
  }
  const publicKeyX = (createPublicKey(privateKey).export({ format: "jwk" }) as { x: string }).x;
  if (x !== undefined && x !== publicKeyX) {
    throw fail("secret-key-mismatch", "the client secret's key has a public part (x) that does not belong to its private part (d)");
  }
  const kid = (jwk as { kid?: unknown }).kid;
  return { privateKey, publicKeyX, ...(typeof kid === "string" && kid !== "" ? { kid } : {}) };
}

/** Where the token endpoint and BatonService live (the same host and port for both). */
export interface PlatformEndpoint {
  /** Host name or IP, without brackets or port. */
  host: string;
  port: number;
  /** `host:port` for gRPC targets (IPv6 in brackets). */
  authority: string;
  /** The JWT audience: the token host without its port. */
  audience: string;
  tokenUrl: string;
}

export function parseHostPort(value: string, label: string): { host: string; port: number | undefined } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:/\s[\]@]+))(?::(\d{1,5}))?$/.exec(value);
  const port = m?.[3] === undefined ? undefined : Number(m[3]);
  if (!m || (port !== undefined && (port < 1 || port > 65535))) {
    throw new ClientCredentialsError(
      label === API_HOST_LABEL ? "api-host" : "client-id-format",
      label,
      `the host must be host or host:port with a port from 1 to 65535 (e.g. example.conductor.one or 127.0.0.1:8443)`,
    );
  }
  return { host: m[1] ?? m[2], port };
}

/**
 * The platform's address: `apiHost` (BATON_C1_API_HOST, host[:port]) when set, else the client id's host; port
 * 443 unless given.
 */
export function platformEndpoint(clientId: ClientId, apiHost: string | undefined = process.env.BATON_C1_API_HOST): PlatformEndpoint {
  const override = apiHost?.trim();
  const { host, port = 443 } = override ? parseHostPort(override, API_HOST_LABEL) : parseHostPort(clientId.tokenHost, CLIENT_ID_LABEL);
  const bracketed = host.includes(":") ? `[${host}]` : host;
  const authority = `${bracketed}:${port}`;
  return {
    host,
    port,
    authority,
    audience: host,
    tokenUrl: `https://${port === 443 ? bracketed : authority}/auth/v1/token`,
  };
}

/** Assertions are valid for 2 minutes either side of now, so modest clock skew is tolerated. */
const ASSERTION_SKEW_SECONDS = 120;

/** The EdDSA-signed client assertion the token endpoint exchanges for an access token. */
export async function createClientAssertion(
  clientId: ClientId,
  secret: ClientSecret,
  audience: string,
  nowMs: number = Date.now(),
): Promise<string> {
  const now = Math.floor(nowMs / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "EdDSA", typ: "JWT", nonce: randomBytes(16).toString("base64url") })
    .setIssuer(clientId.value)
    .setSubject(clientId.value)
    .setAudience([audience])
    .setIssuedAt(now)
    .setNotBefore(now - ASSERTION_SKEW_SECONDS)
    .setExpirationTime(now + ASSERTION_SKEW_SECONDS)
    .sign(secret.privateKey);
}
