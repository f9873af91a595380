/**
 * The platform's check of a SigV4-signed STS GetCallerIdentity request (HOSTED-LAMBDA.md §2.4): the signature is
 * recomputed here from the request's parts with the test AWS credentials the platform handed out. Nothing is sent
 * to AWS. Written from the SigV4 specification (canonical request, string to sign, derived signing key), not with
 * the signer the runtime uses, so that a mistake in either shows up as a mismatch.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export interface TestAwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Absent: long-term credentials, no X-Amz-Security-Token expected. */
  sessionToken?: string;
  region: string;
}

/** The parts of a Sigv4SignedRequestSTSGetCallerIdentity message. */
export interface SignedStsRequest {
  method: string;
  endpoint: string;
  headers: { key: string; value: string[] }[];
  body: Uint8Array;
}

export const STS_BODY = "Action=GetCallerIdentity&Version=2011-06-15";

const sha256Hex = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");
const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data).digest();

/** SigV4 signature (hex) of a request whose canonical headers are `headers` (lower-case names, final values). */
export function sigv4Signature(opts: {
  method: string;
  path: string;
  headers: Map<string, string>;
  signedHeaders: string[];
  body: Uint8Array;
  amzDate: string;
  region: string;
  service: string;
  secretAccessKey: string;
}): string {
  const canonicalHeaders = opts.signedHeaders.map((h) => `${h}:${(opts.headers.get(h) ?? "").trim().replace(/\s+/g, " ")}\n`).join("");
  const canonicalRequest = [opts.method, opts.path, "", canonicalHeaders, opts.signedHeaders.join(";"), sha256Hex(opts.body)].join("\n");
  const day = opts.amzDate.slice(0, 8);
  const scope = `${day}/${opts.region}/${opts.service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", opts.amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  const kDate = hmac(`AWS4${opts.secretAccessKey}`, day);
  const kRegion = hmac(kDate, opts.region);
  const kService = hmac(kRegion, opts.service);
  const kSigning = hmac(kService, "aws4_request");
  return createHmac("sha256", kSigning).update(stringToSign).digest("hex");
}

/** Parses `YYYYMMDDTHHMMSSZ`; undefined when it is not that. */
function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Throws an Error naming the first thing wrong with the signed request; returns the signed header list when the
 * signature matches. `maxSkewMs` bounds X-Amz-Date against now (AWS allows 15 minutes).
 */
export function verifySignedStsRequest(
  req: SignedStsRequest,
  creds: TestAwsCredentials,
  opts: { now?: number; maxSkewMs?: number } = {},
): { signedHeaders: string[] } {
  const expectedHost = `sts.${creds.region}.amazonaws.com`;
  if (req.method !== "POST") throw new Error(`id_att: method must be POST, got ${JSON.stringify(req.method)}`);
  if (req.endpoint !== `https://${expectedHost}`) {
    throw new Error(`id_att: endpoint must be https://${expectedHost} (no path), got ${JSON.stringify(req.endpoint)}`);
  }
  const body = Buffer.from(req.body);
  if (body.toString("utf8") !== STS_BODY) throw new Error(`id_att: body must be exactly ${JSON.stringify(STS_BODY)}`);

  const headers = new Map<string, string>();
  for (const h of req.headers) {
    const name = h.key.toLowerCase();
    if (headers.has(name)) throw new Error(`id_att: header ${h.key} appears twice`);
    if (h.value.length !== 1) throw new Error(`id_att: header ${h.key} must have exactly one value, has ${h.value.length}`);
    headers.set(name, h.value[0]);
  }
  for (const derived of ["host", "content-length"]) {
    if (headers.has(derived)) throw new Error(`id_att: ${derived} must not be in headers (the verifier derives it from endpoint/body)`);
  }
  if (headers.get("content-type") !== "application/x-www-form-urlencoded; charset=utf-8") {
    throw new Error(`id_att: Content-Type must be "application/x-www-form-urlencoded; charset=utf-8", got ${JSON.stringify(headers.get("content-type"))}`);
  }
  const amzDate = headers.get("x-amz-date") ?? "";
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined) throw new Error(`id_att: X-Amz-Date must be YYYYMMDDTHHMMSSZ, got ${JSON.stringify(amzDate)}`);
  const now = opts.now ?? Date.now();
  if (Math.abs(now - signedAt) > (opts.maxSkewMs ?? 15 * 60_000)) throw new Error(`id_att: X-Amz-Date ${amzDate} is too far from now`);
  if (creds.sessionToken !== undefined && headers.get("x-amz-security-token") !== creds.sessionToken) {
    throw new Error("id_att: X-Amz-Security-Token is missing or is not the session token of the function's credentials");
  }

  const auth = headers.get("authorization") ?? "";
  const m = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) throw new Error("id_att: Authorization is not 'AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…'");
  const [, akid, day, region, service, signedList, signature] = m;
  if (akid !== creds.accessKeyId) throw new Error("id_att: signed with an unknown access key id");
  if (day !== amzDate.slice(0, 8)) throw new Error("id_att: the credential scope's date is not X-Amz-Date's day");
  if (region !== creds.region) throw new Error(`id_att: credential scope region ${region}, expected ${creds.region}`);
  if (service !== "sts") throw new Error(`id_att: credential scope service ${service}, expected sts`);

  const signedHeaders = signedList.split(";");
  const expected = ["content-length", "content-type", "host", "x-amz-date", ...(creds.sessionToken !== undefined ? ["x-amz-security-token"] : [])];
  if (signedHeaders.join(";") !== expected.join(";")) {
    throw new Error(`id_att: SignedHeaders must be ${expected.join(";")} (HOSTED-LAMBDA.md §2.4), got ${signedList}`);
  }
  const canonical = new Map(headers);
  canonical.set("host", expectedHost);
  canonical.set("content-length", String(body.length));
  const recomputed = sigv4Signature({
    method: req.method,
    path: "/",
    headers: canonical,
    signedHeaders,
    body,
    amzDate,
    region,
    service,
    secretAccessKey: creds.secretAccessKey,
  });
  if (!timingSafeEqual(Buffer.from(recomputed), Buffer.from(signature))) throw new Error("id_att: the SigV4 signature does not verify");
  return { signedHeaders };
}
