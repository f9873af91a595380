/**
 * A SigV4-signed STS GetCallerIdentity request that is never sent: the proof of an AWS identity that a third party
 * replays to STS. Two callers package it differently — the hosted runtime's `id_att` (HOSTED-LAMBDA.md §2.4) and the
 * Datadog connector's delegated-auth proof — but sign the same request with the same rules, here.
 */
import { NodeSha256 } from "./sha256.ts";

export const STS_GET_CALLER_IDENTITY_BODY = "Action=GetCallerIdentity&Version=2011-06-15";
export const STS_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8";
/** What an AWS region name looks like (us-east-1, ap-southeast-2, us-gov-west-1). */
export const AWS_REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;

export interface StsSigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/**
 * Signs `POST https://<host>/` with the GetCallerIdentity body and `headers` (names in lower case; `host` is the
 * caller's to include) for `region`, and returns the signed request's headers as the signer gives them. No
 * x-amz-content-sha256 header is added: STS is replayed exactly what was signed. The signer loads on first use.
 */
export async function signStsGetCallerIdentity(options: {
  credentials: StsSigningCredentials;
  host: string;
  region: string;
  headers: Record<string, string>;
  now?: Date;
}): Promise<Record<string, string | undefined>> {
  const { accessKeyId, secretAccessKey, sessionToken } = options.credentials;
  const { SignatureV4 } = await import("@smithy/signature-v4");
  const signer = new SignatureV4({
    service: "sts",
    region: options.region,
    credentials: sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey },
    sha256: NodeSha256,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: "POST",
      protocol: "https:",
      hostname: options.host,
      path: "/",
      query: {},
      headers: options.headers,
      body: STS_GET_CALLER_IDENTITY_BODY,
    },
    { signingDate: options.now ?? new Date() },
  );
  return signed.headers;
}

/** Go-style canonical MIME header casing: "x-amz-date" → "X-Amz-Date". */
export function canonicalHeaderName(name: string): string {
  return name
    .toLowerCase()
    .split("-")
    .map((part) => (part === "" ? part : part[0]!.toUpperCase() + part.slice(1)))
    .join("-");
}
