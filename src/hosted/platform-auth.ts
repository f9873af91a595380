/**
 * How the hosted runtime authenticates to the platform (HOSTED-LAMBDA.md §2): the client assertion with the
 * identity attestation, exchanged with a DPoP proof for an access token (service mode's token source, in its
 * DPoP mode), and the per-call gRPC metadata: a fresh proof bound to the call's URL and the token (`ath`) plus
 * `authorization: <type> <token>`.
 */
import { SignJWT } from "jose";
import { PlatformTokenSource, authorizationValue } from "../service/token.ts";
import { parseHostPort, type PlatformEndpoint } from "../service/credentials.ts";
import { createDpopProof, type DpopKey } from "./dpop.ts";
import type { IdAttestor } from "./id-attestation.ts";
import { ENV, type HostedSettings } from "./settings.ts";

/** The assertion is valid 60 s back and 120 s ahead (Go's values). */
const ASSERTION_NBF_S = 60;
const ASSERTION_EXP_S = 120;

export async function hostedClientAssertion(settings: HostedSettings, attestor: IdAttestor, nowMs = Date.now()): Promise<string> {
  const now = Math.floor(nowMs / 1000);
  const id = settings.clientId.value;
  // Claim order as Go marshals them; aud is a single string (go-jose's one-member Audience).
  const claims = {
    iss: id,
    sub: id,
    aud: settings.tokenAudience,
    exp: now + ASSERTION_EXP_S,
    nbf: now - ASSERTION_NBF_S,
    iat: now,
    id_att: await attestor.attest(new Date(nowMs)),
  };
  const kid = settings.secret.kid;
  return new SignJWT(claims).setProtectedHeader(kid ? { alg: "EdDSA", kid } : { alg: "EdDSA" }).sign(settings.secret.privateKey);
}

export interface HostedPlatformAuth {
  readonly tokens: PlatformTokenSource;
  readonly dpopKey: DpopKey;
  /** `dpop` and `authorization` for one call to `/<pkg.Service>/<Method>` on the configuration host. */
  callMetadata(methodPath: string, signal?: AbortSignal): Promise<Record<string, string>>;
  close(): Promise<void>;
}

export function hostedPlatformAuth(settings: HostedSettings, dpopKey: DpopKey, attestor: IdAttestor, userAgent: string): HostedPlatformAuth {
  const { port = 443 } = parseHostPort(settings.tokenHost, ENV.tokenHost);
  const endpoint: PlatformEndpoint = {
    host: settings.tokenAudience,
    port,
    authority: settings.tokenHost,
    audience: settings.tokenAudience,
    tokenUrl: settings.tokenUrl,
  };
  const tokens = new PlatformTokenSource({
    clientId: settings.clientId,
    secret: settings.secret,
    endpoint,
    ca: settings.ca,
    userAgent,
    credentialsHint: `check ${ENV.clientId} and ${ENV.clientSecret}`,
    dpop: {
      proof: (nonce) => createDpopProof(dpopKey, { htm: "POST", htu: settings.tokenUrl, ...(nonce === undefined ? {} : { nonce }) }),
      assertion: () => hostedClientAssertion(settings, attestor),
    },
  });
  return {
    tokens,
    dpopKey,
    async callMetadata(methodPath, signal) {
      const token = await tokens.token(signal);
      const htu = `https://${settings.configurationHost}${methodPath.startsWith("/") ? "" : "/"}${methodPath}`;
      const proof = await createDpopProof(dpopKey, { htm: "POST", htu, accessToken: token.accessToken });
      return { dpop: proof, authorization: authorizationValue(token) };
    },
    close: () => tokens.close(),
  };
}
