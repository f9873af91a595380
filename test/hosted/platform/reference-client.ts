/**
 * A minimal client of the hosted platform written straight from HOSTED-LAMBDA.md §2–§3, for the platform's own
 * tests: DPoP proofs, the token request with the nonce retry, the client assertion with id_att (signed by
 * @smithy/signature-v4, so the platform's hand-written SigV4 check is tested against a real signer), and gRPC
 * calls with `dpop` + `authorization` metadata. Every step can be bent (wrong htu, reused jti, bad signature) to
 * show the platform refuses it. Not the runtime's client: that one lives in src/hosted and is tested against
 * this platform by its own tests.
 */
import { createHash, createHmac, createPrivateKey, generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { create, toBinary, type DescService } from "@bufbuild/protobuf";
import { AnySchema, anyPack } from "@bufbuild/protobuf/wkt";
import { SignatureV4 } from "@smithy/signature-v4";
import { SignJWT, type JWK } from "jose";
import { Agent, request } from "undici";
import { createClient, type ServiceClient } from "../../../src/grpc/adapter.ts";
import { Sigv4SignedRequestSTSGetCallerIdentitySchema } from "../../../src/gen/c1/connectorapi/baton/v1/config_pb.js";
import type { HostedPlatform } from "./platform.ts";
import { STS_BODY } from "./sigv4.ts";

/** The hash constructor smithy's signer wants, on node:crypto (an HMAC when given a secret). */
class Sha256 {
  readonly #hash;
  constructor(secret?: string | Uint8Array) {
    this.#hash = secret === undefined ? createHash("sha256") : createHmac("sha256", secret);
  }
  update(data: string | Uint8Array): void {
    this.#hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
  reset(): void {}
}

export interface DpopKey {
  privateKey: KeyObject;
  publicJwk: JWK;
  seed: Buffer;
}

export function newDpopKey(): DpopKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const jwk = publicKey.export({ format: "jwk" }) as JWK;
  const d = (privateKey.export({ format: "jwk" }) as JWK).d!;
  return { privateKey, publicJwk: { use: "sig", kty: "OKP", kid: "key", crv: "Ed25519", alg: "EdDSA", x: jwk.x }, seed: Buffer.from(d, "base64url") };
}

export async function dpopProof(key: DpopKey, claims: { htm: string; htu: string; nonce?: string; ath?: string; jti?: string; iat?: number }, typ = "dpop+jwt"): Promise<string> {
  const now = claims.iat ?? Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { jti: claims.jti ?? randomUUID(), iat: now, nbf: now - 30, exp: now + 300, htm: claims.htm, htu: claims.htu };
  if (claims.nonce !== undefined) payload.nonce = claims.nonce;
  if (claims.ath !== undefined) payload.ath = claims.ath;
  return new SignJWT(payload).setProtectedHeader({ alg: "EdDSA", typ, jwk: key.publicJwk }).sign(key.privateKey);
}

/** id_att per §2.4, signed with smithy's SigV4 signer; `tamper` bends the signed request before packing. */
export async function makeIdAtt(
  aws: HostedPlatform["aws"],
  tamper?: (headers: Record<string, string>) => void,
): Promise<string> {
  const host = `sts.${aws.region}.amazonaws.com`;
  const signer = new SignatureV4({
    credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey, sessionToken: aws.sessionToken },
    region: aws.region,
    service: "sts",
    sha256: Sha256 as never,
    applyChecksum: false,
  });
  const signed = await signer.sign({
    method: "POST",
    protocol: "https:",
    hostname: host,
    path: "/",
    headers: { host, "content-type": "application/x-www-form-urlencoded; charset=utf-8", "content-length": String(STS_BODY.length) },
    body: STS_BODY,
  });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) {
    if (k === "host" || k === "content-length") continue;
    headers[k] = v as string;
  }
  tamper?.(headers);
  const msg = create(Sigv4SignedRequestSTSGetCallerIdentitySchema, {
    method: "POST",
    endpoint: `https://${host}`,
    headers: Object.entries(headers).map(([key, value]) => ({ key, value: [value] })),
    body: Buffer.from(STS_BODY),
  });
  return Buffer.from(toBinary(AnySchema, anyPack(Sigv4SignedRequestSTSGetCallerIdentitySchema, msg))).toString("base64url");
}

export function clientSecretKey(secret: string): KeyObject {
  const jwk = JSON.parse(Buffer.from(secret.split(":")[3], "base64url").toString("utf8")) as JWK;
  return createPrivateKey({ key: jwk as never, format: "jwk" });
}

export async function clientAssertion(platform: HostedPlatform, opts: { idAtt?: string; aud?: unknown } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const aud = opts.aud ?? platform.tokenHost.replace(/:\d+$/, "");
  return new SignJWT({ iss: platform.clientId, sub: platform.clientId, aud: aud as string, exp: now + 120, nbf: now - 60, iat: now, id_att: opts.idAtt ?? (await makeIdAtt(platform.aws)) })
    .setProtectedHeader({ alg: "EdDSA" })
    .sign(clientSecretKey(platform.clientSecret));
}

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
  nonce: string | null;
}

/** One token request as it goes on the wire. */
export async function tokenRequest(platform: HostedPlatform, proof: string, assertion: string): Promise<TokenAnswer> {
  const form = new URLSearchParams({
    client_assertion: assertion,
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_id: platform.clientId,
    grant_type: "client_credentials",
  });
  const dispatcher = new Agent({ connect: { ca: readFileSync(platform.caFile, "utf8") } });
  try {
    const res = await request(`https://${platform.tokenHost}/auth/v1/token`, {
      method: "POST",
      dispatcher,
      headers: { "content-type": "application/x-www-form-urlencoded", dpop: proof },
      body: form.toString(),
    });
    const body = (await res.body.json()) as Record<string, unknown>;
    const nonce = res.headers["dpop-nonce"];
    return { status: res.statusCode, body, nonce: typeof nonce === "string" ? nonce : null };
  } finally {
    await dispatcher.close();
  }
}

/** The whole token exchange with the nonce retry of §2.3. */
export async function fetchToken(platform: HostedPlatform, key: DpopKey): Promise<string> {
  const htu = `https://${platform.tokenHost}/auth/v1/token`;
  let answer = await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu }), await clientAssertion(platform));
  if (answer.status === 400 && answer.body.error === "use_dpop_nonce") {
    if (!answer.nonce) throw new Error("use_dpop_nonce without a DPoP-Nonce header");
    answer = await tokenRequest(platform, await dpopProof(key, { htm: "POST", htu, nonce: answer.nonce }), await clientAssertion(platform));
  }
  if (answer.status !== 200) throw new Error(`token request failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.access_token as string;
}

export const ath = (token: string) => createHash("sha256").update(token).digest("base64url");

/** A typed client of a platform service over TLS with the test CA. */
export function platformClient<S extends DescService>(platform: HostedPlatform, service: S): ServiceClient<S> {
  const creds = grpc.credentials.createSsl(readFileSync(platform.caFile));
  return createClient(service, platform.configurationHost, creds);
}

/** gRPC metadata for one call of `service/method` (§2.5). */
export async function callMetadata(platform: HostedPlatform, key: DpopKey, token: string, service: DescService, method: string, bend: { htu?: string; jti?: string; scheme?: string } = {}): Promise<grpc.Metadata> {
  const md = new grpc.Metadata();
  md.set("authorization", `${bend.scheme ?? "DPoP"} ${token}`);
  md.set("dpop", await dpopProof(key, { htm: "POST", htu: bend.htu ?? `https://${platform.configurationHost}/${service.typeName}/${method}`, ath: ath(token), jti: bend.jti }));
  return md;
}
