/**
 * The simulator's `POST /api/v2/delegated-token`: it checks a delegated-auth proof the way Datadog + STS would,
 * for real, and issues a short-lived bearer token the rest of the simulated API accepts.
 *
 * The SigV4 check is computed here from the canonical request with node:crypto, independently of the
 * @smithy/signature-v4 library the connector signs with, so the two implementations check each other.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { ApiError } from "./errors.ts";
import type { Simulator } from "./index.ts";

export const DELEGATED_TOKEN_ROUTE = "/api/v2/delegated-token";
export const DEFAULT_SIM_ROLE_ARN = "arn:aws:iam::123456789012:role/baton-datadog-connector";
const GET_CALLER_IDENTITY = "Action=GetCallerIdentity&Version=2011-06-15";
const STS_HOST = /^sts(\.([a-z]{2}(-[a-z]+)+-\d+))?\.amazonaws\.com$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const REQUIRED_SIGNED = ["host", "x-amz-date", "x-ddog-org-id"];

export interface DelegatedTokenOptions {
  /** The test AWS identity the simulator trusts (what STS would know). */
  readonly awsAccessKeyId: string;
  readonly awsSecretAccessKey: string;
  /** When set, proofs must carry this X-Amz-Security-Token (temporary credentials). */
  readonly awsSessionToken?: string;
  /** The IAM role the access key belongs to (what GetCallerIdentity would report as assumed-role). */
  readonly roleArn?: string;
  /**
   * Persona mappings: IAM role ARN → Datadog user id. Absent: the role maps to the org's first user.
   * Present but without the caller's role: the exchange is refused (403), as Datadog does.
   */
  readonly roleArnToUserId?: Readonly<Record<string, string>>;
  /** Lifetime of issued tokens; default 900 s (Datadog's 15 min). */
  readonly tokenTtlSeconds?: number;
  /** Accepted distance between X-Amz-Date and now; default 300 s (STS's 5 min). */
  readonly clockSkewSeconds?: number;
  /** Hold each answer this long (lets tests observe whether exchanges overlap). */
  readonly responseDelayMs?: number;
  /** Clock (ms since epoch); default Date.now. */
  readonly now?: () => number;
}

export interface DelegatedTokenStats {
  accepted: number;
  refused: number;
  inFlight: number;
  maxInFlight: number;
  /** Datadog-style error text of every refusal, in order. */
  readonly refusals: string[];
  /** Tokens issued, in order (for tests that check logs for leaks). */
  readonly issuedTokens: string[];
  /** Every Authorization header received, in order (same purpose). */
  readonly receivedProofs: string[];
}

export interface VerifiedCaller {
  readonly accessKeyId: string;
  readonly roleArn: string;
}

export class ProofRefused extends Error {
  readonly status: 401 | 403;
  constructor(status: 401 | 403, message: string) {
    super(message);
    this.name = "ProofRefused";
    this.status = status;
  }
}

export interface VerifyExpectations {
  readonly orgUuid: string;
  readonly awsAccessKeyId: string;
  readonly awsSecretAccessKey: string;
  readonly awsSessionToken?: string;
  readonly roleArn: string;
  readonly clockSkewSeconds: number;
  readonly nowMs: number;
}

/** Checks an `Authorization: Delegated <proof>` value; returns the caller or throws ProofRefused. */
export function verifyDelegatedAuthorization(authorization: string | undefined, expect: VerifyExpectations): VerifiedCaller {
  const match = /^Delegated (\S+)$/.exec(authorization ?? "");
  if (!match) throw new ProofRefused(401, "Missing or malformed Authorization header: expected 'Delegated <proof>'");
  const proof = parseProof(match[1]!);

  if (proof.method !== "POST") throw new ProofRefused(403, "Invalid proof: the signed request must be a POST");
  let url: URL;
  try {
    url = new URL(proof.url);
  } catch {
    throw new ProofRefused(403, "Invalid proof: the STS URL is not a URL");
  }
  if (url.protocol !== "https:" || !STS_HOST.test(url.hostname) || url.port !== "" || url.search !== "") {
    throw new ProofRefused(403, "Invalid proof: the signed request is not addressed to an AWS STS endpoint");
  }
  const host = single(proof.headers, "host");
  if (host !== url.hostname) throw new ProofRefused(403, "Invalid proof: the Host header does not match the STS URL");

  const auth = parseSigV4(single(proof.headers, "authorization"));
  const amzDate = single(proof.headers, "x-amz-date");
  const dateMatch = AMZ_DATE.exec(amzDate ?? "");
  if (!amzDate || !dateMatch) throw new ProofRefused(403, "Invalid proof: X-Amz-Date is missing or malformed");
  for (const name of REQUIRED_SIGNED) {
    if (!auth.signedHeaders.includes(name)) throw new ProofRefused(403, `Invalid proof: ${name} is not among the signed headers`);
  }
  const hasToken = lookup(proof.headers, "x-amz-security-token") !== undefined;
  if (hasToken && !auth.signedHeaders.includes("x-amz-security-token")) {
    throw new ProofRefused(403, "Invalid proof: x-amz-security-token is present but not signed");
  }

  // STS: is this access key known, and does the signature match what its secret produces?
  if (auth.accessKeyId !== expect.awsAccessKeyId) {
    throw new ProofRefused(403, "AWS rejected the proof: InvalidClientTokenId: The security token included in the request is invalid");
  }
  const regionFromHost = STS_HOST.exec(url.hostname)?.[2] ?? "us-east-1";
  if (auth.service !== "sts" || auth.region !== regionFromHost || auth.date !== amzDate.slice(0, 8)) {
    throw new ProofRefused(403, "AWS rejected the proof: SignatureDoesNotMatch: the credential scope does not match the request");
  }
  const expected = signatureFor(proof, url, auth, amzDate, expect.awsSecretAccessKey);
  if (!constantTimeEqualHex(expected, auth.signature)) {
    throw new ProofRefused(
      403,
      "AWS rejected the proof: SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided",
    );
  }
  const signedAt = Date.UTC(+dateMatch[1]!, +dateMatch[2]! - 1, +dateMatch[3]!, +dateMatch[4]!, +dateMatch[5]!, +dateMatch[6]!);
  if (Math.abs(expect.nowMs - signedAt) > expect.clockSkewSeconds * 1000) {
    throw new ProofRefused(403, "AWS rejected the proof: SignatureDoesNotMatch: Signature expired: X-Amz-Date is outside the allowed time window");
  }
  if (expect.awsSessionToken !== undefined && lookup(proof.headers, "x-amz-security-token")?.[0] !== expect.awsSessionToken) {
    throw new ProofRefused(403, "AWS rejected the proof: InvalidClientTokenId: The security token included in the request is invalid");
  }
  if (proof.body !== GET_CALLER_IDENTITY) {
    throw new ProofRefused(403, "Invalid proof: the signed request is not an STS GetCallerIdentity call");
  }

  // Datadog: the signed org header must name this org.
  const org = single(proof.headers, "x-ddog-org-id");
  if (org?.toLowerCase() !== expect.orgUuid.toLowerCase()) {
    throw new ProofRefused(403, "Invalid proof: the signed x-ddog-org-id header does not match this organization");
  }
  return { accessKeyId: auth.accessKeyId, roleArn: expect.roleArn };
}

interface Proof {
  readonly body: string;
  readonly headers: Record<string, string[]>;
  readonly method: string;
  readonly url: string;
}

function parseProof(text: string): Proof {
  const parts = text.split("|");
  if (parts.length !== 4) throw new ProofRefused(401, "Malformed proof: expected base64(body)|base64(headers)|method|base64(url)");
  const [body, headersText, method, url] = [fromB64(parts[0]!), fromB64(parts[1]!), parts[2]!, fromB64(parts[3]!)];
  let headers: unknown;
  try {
    headers = JSON.parse(headersText);
  } catch {
    throw new ProofRefused(401, "Malformed proof: the headers part is not JSON");
  }
  if (!headers || typeof headers !== "object" || Array.isArray(headers)) {
    throw new ProofRefused(401, "Malformed proof: the headers part must be an object of arrays");
  }
  for (const values of Object.values(headers)) {
    if (!Array.isArray(values) || !values.every((v) => typeof v === "string")) {
      throw new ProofRefused(401, "Malformed proof: every header must map to an array of strings");
    }
  }
  return { body, headers: headers as Record<string, string[]>, method, url };
}

function fromB64(text: string): string {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new ProofRefused(401, "Malformed proof: a part is not standard base64");
  }
  return Buffer.from(text, "base64").toString("utf8");
}

function lookup(headers: Record<string, string[]>, lowerName: string): string[] | undefined {
  let found: string[] | undefined;
  for (const [name, values] of Object.entries(headers)) {
    if (name.toLowerCase() === lowerName) found = [...(found ?? []), ...values];
  }
  return found;
}

function single(headers: Record<string, string[]>, lowerName: string): string | undefined {
  const values = lookup(headers, lowerName);
  return values && values.length === 1 ? values[0] : undefined;
}

interface SigV4Authorization {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: string[];
  readonly signature: string;
}

function parseSigV4(value: string | undefined): SigV4Authorization {
  const m = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
    value ?? "",
  );
  if (!m) throw new ProofRefused(403, "Invalid proof: the signed request has no valid AWS4-HMAC-SHA256 Authorization header");
  return {
    accessKeyId: m[1]!,
    date: m[2]!,
    region: m[3]!,
    service: m[4]!,
    signedHeaders: m[5]!.split(";"),
    signature: m[6]!,
  };
}

/** SigV4 from the specification: canonical request → string to sign → HMAC chain. */
function signatureFor(proof: Proof, url: URL, auth: SigV4Authorization, amzDate: string, secret: string): string {
  const canonicalHeaders = auth.signedHeaders.map((name) => {
    const values = lookup(proof.headers, name);
    if (values === undefined) throw new ProofRefused(403, `Invalid proof: signed header ${name} is missing`);
    return `${name}:${values.map((v) => v.trim().replace(/\s+/g, " ")).join(",")}\n`;
  });
  const canonicalRequest = [
    proof.method,
    url.pathname === "" ? "/" : url.pathname,
    "",
    canonicalHeaders.join(""),
    auth.signedHeaders.join(";"),
    sha256Hex(proof.body),
  ].join("\n");
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  let key: Buffer = hmac(`AWS4${secret}`, auth.date);
  key = hmac(key, auth.region);
  key = hmac(key, auth.service);
  key = hmac(key, "aws4_request");
  return hmac(key, stringToSign).toString("hex");
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

function constantTimeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** IAM role ARN for an assumed-role ARN (arn:aws:sts::A:assumed-role/R/session → arn:aws:iam::A:role/R). */
export function roleArnOf(arn: string): string {
  const m = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : arn;
}

export function newDelegatedToken(): string {
  return `ddsim-delegated-${randomBytes(24).toString("base64url")}`;
}

/**
 * Installs POST /api/v2/delegated-token on a running simulator. Returns live counters.
 * Answers like Datadog: 200 {data:{type,id,attributes:{access_token,expires}}}; 401/403 {"errors":[...]}.
 */
export function installDelegatedTokenRoute(sim: Simulator, options: DelegatedTokenOptions): DelegatedTokenStats {
  const ttlSeconds = options.tokenTtlSeconds ?? 900;
  if (!(ttlSeconds > 0)) throw new RangeError(`tokenTtlSeconds must be > 0, got ${ttlSeconds}`);
  const roleArn = options.roleArn ?? DEFAULT_SIM_ROLE_ARN;
  const now = options.now ?? Date.now;
  const stats: DelegatedTokenStats = { accepted: 0, refused: 0, inFlight: 0, maxInFlight: 0, refusals: [], issuedTokens: [], receivedProofs: [] };

  const userFor = (caller: VerifiedCaller): string => {
    const role = roleArnOf(caller.roleArn);
    if (options.roleArnToUserId === undefined) {
      const first = sim.org.users.values()[0];
      if (!first) throw new ProofRefused(403, "No Datadog user to act as: the simulated org is empty");
      return first.id;
    }
    const userId = options.roleArnToUserId[role];
    if (userId === undefined) throw new ProofRefused(403, `No persona mapping for AWS role ${role} in this organization`);
    if (!sim.org.users.get(userId)) throw new ProofRefused(403, `The persona mapping for ${role} names an unknown user`);
    return userId;
  };

  sim.addRoute(
    "POST",
    DELEGATED_TOKEN_ROUTE,
    async (ctx) => {
      stats.inFlight += 1;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      try {
        if (options.responseDelayMs) await new Promise((resolve) => setTimeout(resolve, options.responseDelayMs));
        const authorization = ctx.headers.authorization;
        if (authorization !== undefined) stats.receivedProofs.push(String(authorization));
        const caller = verifyDelegatedAuthorization(Array.isArray(authorization) ? authorization[0] : authorization, {
          orgUuid: sim.orgUuid,
          awsAccessKeyId: options.awsAccessKeyId,
          awsSecretAccessKey: options.awsSecretAccessKey,
          ...(options.awsSessionToken !== undefined ? { awsSessionToken: options.awsSessionToken } : {}),
          roleArn,
          clockSkewSeconds: options.clockSkewSeconds ?? 300,
          nowMs: now(),
        });
        const userId = userFor(caller);
        const token = newDelegatedToken();
        const issuedAt = now();
        const expiresAtMs = issuedAt + ttlSeconds * 1000;
        sim.registerBearerToken(token, { expiresAt: expiresAtMs, userId });
        stats.accepted += 1;
        stats.issuedTokens.push(token);
        return {
          status: 200,
          body: {
            data: {
              type: "delegated_token",
              id: randomBytes(8).toString("hex"),
              // Whole seconds, rounded down: the client never believes a token lives longer than it does.
              attributes: { access_token: token, expires: Math.floor(expiresAtMs / 1000) },
            },
          },
        };
      } catch (err) {
        if (err instanceof ProofRefused) {
          stats.refused += 1;
          stats.refusals.push(err.message);
          throw new ApiError(err.status, err.message);
        }
        throw err;
      } finally {
        stats.inFlight -= 1;
      }
    },
    { auth: "none" },
  );
  return stats;
}
