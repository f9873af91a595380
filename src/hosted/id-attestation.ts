/**
 * The token request's `id_att` claim (HOSTED-LAMBDA.md §2.4): an STS GetCallerIdentity request SigV4-signed with
 * the function's AWS credentials and never sent, packed as Sigv4SignedRequestSTSGetCallerIdentity in an Any,
 * binary-encoded, base64url without padding. The platform replays it to STS to learn which role is calling.
 *
 * Credentials: the env's AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (what Lambda sets) when
 * present, else the AWS default chain, imported only then (it is large and a Lambda never needs it). The signer
 * itself is imported on the first attestation, so loading the handler module does not pay for it.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import {
  AWS_REGION_PATTERN,
  canonicalHeaderName,
  signStsGetCallerIdentity,
  STS_CONTENT_TYPE,
  STS_GET_CALLER_IDENTITY_BODY,
  type StsSigningCredentials as AwsCredentials,
} from "../aws/sts-request.ts";
import { ConfigError } from "../config/errors.ts";
import { registerSecret } from "../log/secrets.ts";
import { Sigv4SignedRequestSTSGetCallerIdentitySchema } from "../gen/c1/connectorapi/baton/v1/config_pb.js";

export interface IdAttestor {
  readonly region: string;
  /** A fresh `id_att` value (signed now). */
  attest(now?: Date): Promise<string>;
}

/** Reads the region now (a missing one is a start-up error); credentials are resolved on first use. */
export function idAttestor(env: NodeJS.ProcessEnv): IdAttestor {
  const region = (env.AWS_REGION || env.AWS_DEFAULT_REGION || "").trim();
  if (!AWS_REGION_PATTERN.test(region)) {
    throw new ConfigError([
      {
        label: "AWS_REGION",
        message: region
          ? `"${region.slice(0, 40)}" is not an AWS region name (e.g. us-east-1)`
          : "is not set; the identity attestation is signed for the function's region (Lambda sets it)",
      },
    ]);
  }
  const staticCredentials = (): AwsCredentials | undefined => {
    const accessKeyId = env.AWS_ACCESS_KEY_ID?.trim();
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY?.trim();
    if (!accessKeyId || !secretAccessKey) return undefined;
    registerSecret(secretAccessKey);
    const sessionToken = env.AWS_SESSION_TOKEN?.trim() || undefined;
    registerSecret(sessionToken);
    return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
  };
  const fixed = staticCredentials();
  let chain: (() => Promise<AwsCredentials>) | undefined;
  const credentials = async (): Promise<AwsCredentials> => {
    if (fixed) return fixed;
    if (!chain) {
      const { fromNodeProviderChain } = await import("@aws-sdk/credential-providers");
      chain = fromNodeProviderChain() as () => Promise<AwsCredentials>;
    }
    const c = await chain();
    registerSecret(c.secretAccessKey);
    registerSecret(c.sessionToken);
    return c;
  };
  const host = `sts.${region}.amazonaws.com`;
  return {
    region,
    async attest(now = new Date()) {
      const signed = await signStsGetCallerIdentity({
        credentials: await credentials(),
        host,
        region,
        headers: { host, "content-length": String(Buffer.byteLength(STS_GET_CALLER_IDENTITY_BODY)), "content-type": STS_CONTENT_TYPE },
        now,
      });
      const headers = Object.entries(signed)
        .filter(([name, value]) => value !== undefined && !["host", "content-length"].includes(name.toLowerCase()))
        .map(([name, value]) => ({ key: canonicalHeaderName(name), value: [String(value)] }));
      const message = create(Sigv4SignedRequestSTSGetCallerIdentitySchema, {
        method: "POST",
        endpoint: `https://${host}`,
        headers,
        body: Buffer.from(STS_GET_CALLER_IDENTITY_BODY),
      });
      const any = anyPack(Sigv4SignedRequestSTSGetCallerIdentitySchema, message);
      return Buffer.from(toBinary(AnySchema, any)).toString("base64url");
    },
  };
}
