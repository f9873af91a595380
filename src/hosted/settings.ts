/**
 * The hosted runtime's process settings (HOSTED-LAMBDA.md §1.2), read from the function's environment once at
 * cold start. Every problem is collected into one ConfigError naming the variable and the fix; secret values
 * (the client secret) are registered for redaction before anything is parsed and never appear in a message.
 */
import { readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import * as tls from "node:tls";
import { z } from "zod";
import { ConfigError, type ConfigIssue } from "../config/errors.ts";
import type { LogFormat, LogLevel } from "../log/logger.ts";
import { registerSecret } from "../log/secrets.ts";
import {
  ClientCredentialsError,
  parseClientId,
  parseClientSecret,
  parseHostPort,
  type ClientId,
  type ClientSecret,
} from "../service/credentials.ts";

export const ENV = {
  clientId: "BATON_LAMBDA_CLIENT_ID",
  clientSecret: "BATON_LAMBDA_CLIENT_SECRET",
  signer: "BATON_LAMBDA_AUTH_JWT_SIGNER",
  jwksUrl: "BATON_LAMBDA_AUTH_JWT_JWKS_URL",
  issuer: "BATON_LAMBDA_AUTH_JWT_EXPECTED_ISSUER",
  subject: "BATON_LAMBDA_AUTH_JWT_EXPECTED_SUBJECT",
  audience: "BATON_LAMBDA_AUTH_JWT_EXPECTED_AUDIENCE",
  logLevel: "BATON_LOG_LEVEL",
  debugExpiresAt: "BATON_LOG_LEVEL_DEBUG_EXPIRES_AT",
  logFormat: "BATON_LOG_FORMAT",
  sessionMax: "BATON_SESSION_STORE_MAXIMUM_SIZE",
  tokenHost: "BATON_LAMBDA_TOKEN_HOST",
  configurationHost: "BATON_LAMBDA_CONFIGURATION_HOST",
  caCertPath: "BATON_LAMBDA_CA_CERT_PATH",
} as const;

/** What an invocation JWT must satisfy (§4.7); exactly one of signerJwk / jwksUrl is set. */
export interface InvocationAuthSettings {
  issuer: string;
  subject: string;
  audience: string;
  signerJwk?: string;
  jwksUrl?: string;
}

export interface HostedSettings {
  clientId: ClientId;
  secret: ClientSecret;
  auth: InvocationAuthSettings;
  /** The start-up log level (zap's dpanic/panic/fatal map to error); the config may change it (§1.5). */
  logLevel: LogLevel;
  logLevelDebugExpiresAt: Date | undefined;
  logFormat: LogFormat | undefined;
  /** Bytes of the local session cache; 0 disables it. */
  sessionCacheBytes: number;
  /** `host[:port]` of the token endpoint, as configured. */
  tokenHost: string;
  /** `https://<token host>/auth/v1/token`, also the token proof's htu. */
  tokenUrl: string;
  /** The client assertion's aud: the token host without its port. */
  tokenAudience: string;
  /** `host[:port]` of ConnectorConfigService and BatonSessionService as configured (the proofs' htu use it). */
  configurationHost: string;
  /** The gRPC target: the configuration host with port 443 when it has none. */
  configurationTarget: string;
  /**
   * Roots for the token and gRPC TLS: undefined = Node's default store (its bundled roots, NODE_EXTRA_CA_CERTS,
   * the OS store under --use-system-ca); with BATON_LAMBDA_CA_CERT_PATH, that store plus the file's certificates.
   * Not reading the OS store by hand saves a cold start about half a second of certificate parsing.
   */
  ca: string[] | undefined;
  /** Log fields the platform sets (tenant, connector, …), under the names the Go runtime logs them as. */
  logFields: Record<string, string>;
}

const DEFAULT_SESSION_CACHE_BYTES = 15_728_640;
const ZAP_LEVELS: Record<string, LogLevel> = {
  "": "info",
  debug: "debug",
  info: "info",
  warn: "warn",
  error: "error",
  dpanic: "error",
  panic: "error",
  fatal: "error",
};
const LOG_FIELD_NAMES: Record<string, string> = {
  tenant: "tenant_id",
  connector: "connector_id",
  app: "app_id",
  version: "release_version",
  installation: "installation",
  catalog_id: "catalog_id",
  catalog_name: "catalog_name",
  tenant_name: "tenant_name",
  tenant_is_internal: "tenant_is_internal",
};
/** A CA bundle is a few hundred KiB at most; a path to something huge is a mistake. */
const MAX_CA_FILE_BYTES = 4 * 1024 * 1024;

/** zap's level names (case-insensitive); undefined when not one. */
export function parseLogLevel(raw: string): LogLevel | undefined {
  return ZAP_LEVELS[raw.trim().toLowerCase()];
}

/** An RFC 3339 timestamp (as viper's GetTime takes it), or undefined when not one. */
export function parseTimestamp(raw: string): Date | undefined {
  const text = raw.trim();
  if (!/^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

const optionalText = z.string().optional();
const envShape = z.object(Object.fromEntries(Object.values(ENV).map((name) => [name, optionalText])));

function readCaBundle(path: string, issues: ConfigIssue[]): string[] {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_CA_FILE_BYTES) throw new Error(`it is ${bytes.length} bytes, more than a CA bundle (${MAX_CA_FILE_BYTES})`);
    text = bytes.toString("utf8").trim();
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    issues.push({ label: ENV.caCertPath, message: `cannot read the CA bundle ${path} (${why}); point it at a readable PEM file` });
    return [];
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const good: string[] = [];
  for (const block of blocks) {
    try {
      new X509Certificate(block);
      good.push(block);
    } catch {
      issues.push({ label: ENV.caCertPath, message: `${path} has a certificate block that is not a valid X.509 certificate` });
      return [];
    }
  }
  if (good.length === 0) issues.push({ label: ENV.caCertPath, message: `${path} contains no PEM certificate (-----BEGIN CERTIFICATE-----)` });
  return good;
}

/**
 * Reads and checks every hosted setting. Throws one ConfigError listing all problems (the handler reports it
 * as the function's init error).
 */
export function readHostedSettings(rawEnv: NodeJS.ProcessEnv): HostedSettings {
  const env = envShape.parse(Object.fromEntries(Object.values(ENV).map((n) => [n, rawEnv[n]]))) as Record<string, string | undefined>;
  if (env[ENV.clientSecret]) registerSecret(env[ENV.clientSecret]!.trim());
  const issues: ConfigIssue[] = [];
  const required = (name: string): string | undefined => {
    const value = env[name]?.trim();
    if (!value) issues.push({ label: name, message: "is required" });
    return value || undefined;
  };
  const credential = <T>(parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (err) {
      if (err instanceof ClientCredentialsError) issues.push(...err.issues);
      else throw err;
      return undefined;
    }
  };

  const idText = required(ENV.clientId);
  const clientId = idText === undefined ? undefined : credential(() => parseClientId(idText, ENV.clientId));
  const secretText = required(ENV.clientSecret);
  const secret = secretText === undefined ? undefined : credential(() => parseClientSecret(secretText, ENV.clientSecret));

  const signerJwk = env[ENV.signer]?.trim() || undefined;
  const jwksUrl = env[ENV.jwksUrl]?.trim() || undefined;
  if ((signerJwk === undefined) === (jwksUrl === undefined)) {
    issues.push({
      label: `${ENV.signer} / ${ENV.jwksUrl}`,
      message: `set exactly one of them (${signerJwk ? "both are set" : "neither is set"}): the JWK that signs invocation tokens, or a JWKS URL`,
    });
  }
  if (signerJwk !== undefined) {
    let jwk: unknown;
    try {
      jwk = JSON.parse(signerJwk);
    } catch {
      // reported below
    }
    if (typeof jwk !== "object" || jwk === null || typeof (jwk as { kty?: unknown }).kty !== "string") {
      issues.push({ label: ENV.signer, message: "must be a JSON Web Key (a JSON object with kty), the public key that signs invocation tokens" });
    } else if ("d" in (jwk as object)) {
      issues.push({ label: ENV.signer, message: "is a private key; give the public key only (remove d)" });
    }
  }
  if (jwksUrl !== undefined && !URL.canParse(jwksUrl)) issues.push({ label: ENV.jwksUrl, message: "is not a URL" });
  const issuer = required(ENV.issuer);
  const subject = required(ENV.subject);
  const audience = required(ENV.audience);

  const levelText = env[ENV.logLevel] ?? "";
  const logLevel = parseLogLevel(levelText);
  if (logLevel === undefined) {
    issues.push({ label: ENV.logLevel, message: `got ${JSON.stringify(levelText.slice(0, 40))}; use debug, info, warn or error` });
  }
  const expiresText = env[ENV.debugExpiresAt]?.trim();
  const logLevelDebugExpiresAt = expiresText ? parseTimestamp(expiresText) : undefined;
  if (expiresText && logLevelDebugExpiresAt === undefined) {
    issues.push({ label: ENV.debugExpiresAt, message: "is not an RFC 3339 timestamp (e.g. 2026-01-02T15:04:05Z)" });
  }
  const formatText = env[ENV.logFormat]?.trim() || undefined;
  if (formatText !== undefined && formatText !== "json" && formatText !== "console") {
    issues.push({ label: ENV.logFormat, message: `got ${JSON.stringify(formatText.slice(0, 40))}; use json or console` });
  }
  const sessionText = env[ENV.sessionMax]?.trim();
  let sessionCacheBytes = DEFAULT_SESSION_CACHE_BYTES;
  if (sessionText) {
    const n = /^[+-]?\d+$/.test(sessionText) ? Number(sessionText) : Number.NaN;
    if (!Number.isSafeInteger(n)) issues.push({ label: ENV.sessionMax, message: "must be a whole number of bytes (0 or less disables the cache)" });
    else sessionCacheBytes = Math.max(0, n);
  }

  // Go: a set-but-empty BATON_LAMBDA_TOKEN_HOST overrides too, which can only fail later; say so now.
  const tokenOverride = rawEnv[ENV.tokenHost];
  let tokenHost = clientId?.tokenHost;
  if (tokenOverride !== undefined) {
    tokenHost = tokenOverride.trim();
    if (!tokenHost) issues.push({ label: ENV.tokenHost, message: "is set but empty; unset it to use the client id's host" });
    else credential(() => parseHostPort(tokenHost!, ENV.tokenHost));
  }
  const configOverride = env[ENV.configurationHost]?.trim();
  const configurationHost = configOverride || tokenHost;
  let configurationTarget = "";
  if (configOverride) {
    const parsed = credential(() => parseHostPort(configOverride, ENV.configurationHost));
    if (parsed) configurationTarget = hostPort(parsed.host, parsed.port ?? 443);
  } else if (tokenHost) {
    const parsed = credential(() => parseHostPort(tokenHost!, ENV.tokenHost));
    if (parsed) configurationTarget = hostPort(parsed.host, parsed.port ?? 443);
  }

  const caPath = env[ENV.caCertPath]?.trim();
  const extraCa = caPath ? readCaBundle(caPath, issues) : [];

  if (issues.length > 0) throw new ConfigError(issues);
  const { host } = parseHostPort(tokenHost!, ENV.tokenHost);
  const logFields: Record<string, string> = {};
  for (const [envKey, field] of Object.entries(LOG_FIELD_NAMES)) {
    const value = rawEnv[envKey];
    if (value) logFields[field] = value.slice(0, 256);
  }
  return {
    clientId: clientId!,
    secret: secret!,
    auth: { issuer: issuer!, subject: subject!, audience: audience!, ...(signerJwk ? { signerJwk } : { jwksUrl: jwksUrl! }) },
    logLevel: logLevel!,
    logLevelDebugExpiresAt,
    logFormat: formatText as LogFormat | undefined,
    sessionCacheBytes,
    tokenHost: tokenHost!,
    tokenUrl: `https://${tokenHost}/auth/v1/token`,
    tokenAudience: host,
    configurationHost: configurationHost!,
    configurationTarget,
    ca: extraCa.length > 0 ? [...tls.getCACertificates("default"), ...extraCa] : undefined,
    logFields,
  };
}

function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}
