/**
 * The delegated-auth proof: a SigV4-signed STS GetCallerIdentity request that is never sent to AWS. Datadog
 * replays it to STS to learn who we are, and checks the signed `x-ddog-org-id` header against the org we claim.
 *
 * Proof string: base64(body) | base64(headersJson) | POST | base64(stsUrl), where headersJson maps each header name
 * in canonical casing (Content-Type, X-Amz-Date, ...) to an array of values, Content-Length left out.
 * Signing is @smithy/signature-v4's; we only choose what goes into the request.
 */
import { inspect } from "node:util";
import {
  AWS_REGION_PATTERN,
  canonicalHeaderName,
  signStsGetCallerIdentity,
  STS_CONTENT_TYPE,
  STS_GET_CALLER_IDENTITY_BODY,
} from "../../../src/api-client.ts";
import type { AwsCredentials } from "./aws-credentials.ts";

export { canonicalHeaderName, STS_CONTENT_TYPE, STS_GET_CALLER_IDENTITY_BODY };
export const ORG_ID_HEADER = "x-ddog-org-id";
/** Region the global STS endpoint is signed for. */
export const GLOBAL_STS_REGION = "us-east-1";

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

export interface StsTarget {
  readonly url: string;
  readonly host: string;
  readonly signingRegion: string;
}

/** The STS endpoint the proof names: regional when a region is given, else the global one signed as us-east-1. */
export function stsTarget(region?: string): StsTarget {
  if (region === undefined || region === "") {
    return { url: "https://sts.amazonaws.com", host: "sts.amazonaws.com", signingRegion: GLOBAL_STS_REGION };
  }
  if (!AWS_REGION_PATTERN.test(region)) {
    throw new ProofError(`--aws-region "${region}" is not an AWS region name (expected something like us-east-1)`);
  }
  const host = `sts.${region}.amazonaws.com`;
  return { url: `https://${host}`, host, signingRegion: region };
}

/**
 * A built proof. Its text is only reachable through reveal(): printing, logging or JSON-encoding the object shows a
 * placeholder, so a stray `log.info({ proof })` cannot leak it.
 */
export class DelegatedProof {
  readonly #text: string;
  constructor(text: string) {
    this.#text = text;
  }
  reveal(): string {
    return this.#text;
  }
  toString(): string {
    return "[delegated-auth proof]";
  }
  toJSON(): string {
    return "[delegated-auth proof]";
  }
  [inspect.custom](): string {
    return "[delegated-auth proof]";
  }
}

export interface BuiltProof {
  readonly proof: DelegatedProof;
  readonly stsUrl: string;
  readonly signingRegion: string;
  /** The SigV4 SignedHeaders list, e.g. "content-type;host;x-amz-date;x-ddog-org-id". */
  readonly signedHeaders: string;
  readonly hasSessionToken: boolean;
}

export interface BuildProofOptions {
  readonly credentials: AwsCredentials;
  readonly orgUuid: string;
  /** AWS region for a regional STS endpoint; omitted → global endpoint. */
  readonly region?: string;
  /** Signing time (tests); defaults to now. */
  readonly now?: Date;
}

export async function buildDelegatedProof(options: BuildProofOptions): Promise<BuiltProof> {
  if (!isUuid(options.orgUuid)) {
    throw new ProofError(
      `--delegated-auth-org-uuid must be your Datadog organization's UUID (8-4-4-4-12 hex digits); ` +
        `got ${JSON.stringify(options.orgUuid.slice(0, 64))}. GET /api/v2/current_user shows it.`,
    );
  }
  const target = stsTarget(options.region);
  const { sessionToken } = options.credentials;
  // The signer loads with the first proof: a sync with API keys never signs one.
  const signed = await signStsGetCallerIdentity({
    credentials: options.credentials,
    host: target.host,
    region: target.signingRegion,
    headers: { host: target.host, "content-type": STS_CONTENT_TYPE, [ORG_ID_HEADER]: options.orgUuid.toLowerCase() },
    now: options.now,
  });

  const headers: Record<string, string[]> = {};
  for (const name of Object.keys(signed).sort()) {
    if (name.toLowerCase() === "content-length") continue;
    const value = signed[name];
    if (value === undefined) continue;
    headers[canonicalHeaderName(name)] = [value];
  }
  const authorization = headers.Authorization?.[0] ?? "";
  const signedHeaders = /SignedHeaders=([^,\s]+)/.exec(authorization)?.[1] ?? "";
  if (!signedHeaders.split(";").includes(ORG_ID_HEADER)) {
    // Would mean the signer silently dropped our header; Datadog would refuse the proof, so fail loudly here.
    throw new ProofError(`the signed STS request does not sign ${ORG_ID_HEADER}; refusing to build the proof`);
  }

  const text = [
    b64(STS_GET_CALLER_IDENTITY_BODY),
    b64(JSON.stringify(headers)),
    "POST",
    b64(target.url),
  ].join("|");
  return {
    proof: new DelegatedProof(text),
    stsUrl: target.url,
    signingRegion: target.signingRegion,
    signedHeaders,
    hasSessionToken: Boolean(sessionToken),
  };
}

export interface ParsedProof {
  readonly body: string;
  readonly headers: Record<string, string[]>;
  readonly method: string;
  readonly url: string;
}

/** Splits a proof string into its parts; throws ProofError on anything malformed. */
export function parseDelegatedProof(text: string): ParsedProof {
  const parts = text.split("|");
  if (parts.length !== 4) throw new ProofError("the proof must have 4 '|'-separated parts");
  const [bodyB64, headersB64, method, urlB64] = parts as [string, string, string, string];
  const body = unb64(bodyB64, "body");
  const url = unb64(urlB64, "STS URL");
  let headersJson: unknown;
  try {
    headersJson = JSON.parse(unb64(headersB64, "headers"));
  } catch (err) {
    if (err instanceof ProofError) throw err;
    throw new ProofError("the proof's headers part is not JSON");
  }
  if (headersJson === null || typeof headersJson !== "object" || Array.isArray(headersJson)) {
    throw new ProofError("the proof's headers part must be a JSON object of header name → array of values");
  }
  const headers: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(headersJson)) {
    if (!Array.isArray(values) || !values.every((v) => typeof v === "string")) {
      throw new ProofError(`the proof's header ${JSON.stringify(name.slice(0, 64))} must map to an array of strings`);
    }
    headers[name] = values as string[];
  }
  return { body, headers, method, url };
}

export class ProofError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProofError";
  }
}

function b64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

function unb64(text: string, what: string): string {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new ProofError(`the proof's ${what} part is not standard base64`);
  }
  return Buffer.from(text, "base64").toString("utf8");
}
