/**
 * The hosted platform's token endpoint, `POST https://<token host>/auth/v1/token` (HOSTED-LAMBDA.md §2.2–§2.4):
 * checks the DPoP proof (with the nonce challenge of §2.3: a proof without the current nonce gets HTTP 400
 * `use_dpop_nonce` and a `DPoP-Nonce` header), the client assertion signed by the client secret's Ed25519 key,
 * and the `id_att` claim's SigV4 signature (recomputed with the test AWS credentials, never sent to AWS). Issues
 * access tokens bound to the proof's key (`token_type: "DPoP"`, cnf.jkt remembered). Also serves the invocation
 * JWKS at `/.well-known/jwks.json` for functions configured with a JWKS URL.
 *
 * Returns a request handler; the platform mounts it on its HTTPS server.
 */
import { randomBytes, type KeyObject } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { decodeProtectedHeader, jwtVerify, type JWK } from "jose";
import { Sigv4SignedRequestSTSGetCallerIdentitySchema } from "../../../src/gen/c1/connectorapi/baton/v1/config_pb.js";
import { JtiReplayCache, ProofError, verifyDpopProof } from "./dpop.ts";
import { verifySignedStsRequest, type TestAwsCredentials } from "./sigv4.ts";

export const ID_ATT_TYPE_URL = "type.googleapis.com/c1.connectorapi.baton.v1.Sigv4SignedRequestSTSGetCallerIdentity";

export interface IssuedToken {
  /** Thumbprint of the DPoP key the token is bound to. */
  jkt: string;
  /** The bound public key (config is encrypted to it). */
  jwk: JWK;
  expiresAt: number;
}

export interface TokenRequestRecord {
  at: number;
  status: number;
  /** The OAuth error code answered (`use_dpop_nonce`, `invalid_dpop_proof`, `invalid_client`, …). */
  error?: string;
  /** What was wrong, for test failure messages. */
  reason?: string;
  /** The nonce the proof carried (undefined: none). */
  proofNonce?: string;
  /** The verified assertion's header and claims. */
  assertionHeader?: Record<string, unknown>;
  assertionClaims?: Record<string, unknown>;
  /** SignedHeaders of the verified id_att. */
  idAttSignedHeaders?: string[];
  contentType?: string;
  /** "1.1" or "2.0". */
  httpVersion: string;
  userAgent?: string;
}

export interface TokenFailures {
  /** The next N requests answer HTTP 500. */
  serverErrors: number;
  /** The next N requests that carry the right nonce are challenged again with a new nonce (a rotating nonce). */
  nonceRotations: number;
  /** The next N nonce challenges come without a DPoP-Nonce header (the client must fail clearly). */
  challengesWithoutNonceHeader: number;
  /** Every request waits this long first. */
  slowMs: number;
}

export interface TokenEndpointOptions {
  tokenHost: string;
  clientId: string;
  clientPublicKey: KeyObject;
  aws: TestAwsCredentials;
  expiresInSeconds: number;
  /** Ask for a nonce (default true). */
  requireNonce: boolean;
  /** token_type answered (default "DPoP"). */
  tokenType: string;
  invocationJwks: () => { keys: JWK[] };
}

export interface TokenEndpoint {
  handle(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void;
  records: TokenRequestRecord[];
  issued: Map<string, IssuedToken>;
  fail: TokenFailures;
  /** Current nonce the platform expects. */
  readonly nonce: string;
  jwksFetches: number;
  revokeTokens(): void;
}

const MAX_BODY = 64 * 1024;
const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

class Refusal extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** `id_att`: base64url (no padding) of a binary Any holding Sigv4SignedRequestSTSGetCallerIdentity. */
export function decodeIdAtt(idAtt: unknown) {
  if (typeof idAtt !== "string" || idAtt.length === 0) throw new Error("the assertion has no id_att claim");
  if (!/^[A-Za-z0-9_-]+$/.test(idAtt)) throw new Error("id_att must be base64url without padding");
  const any = fromBinary(AnySchema, Buffer.from(idAtt, "base64url"));
  if (any.typeUrl !== ID_ATT_TYPE_URL) throw new Error(`id_att Any type_url must be ${ID_ATT_TYPE_URL}, got ${JSON.stringify(any.typeUrl)}`);
  return fromBinary(Sigv4SignedRequestSTSGetCallerIdentitySchema, any.value);
}

export function createTokenEndpoint(opts: TokenEndpointOptions): TokenEndpoint {
  const tokenUrl = `https://${opts.tokenHost}/auth/v1/token`;
  const audience = opts.tokenHost.replace(/:\d+$/, "");
  const replay = new JtiReplayCache();
  let nonce = randomBytes(16).toString("base64url");
  const endpoint: TokenEndpoint = {
    records: [],
    issued: new Map(),
    fail: { serverErrors: 0, nonceRotations: 0, challengesWithoutNonceHeader: 0, slowMs: 0 },
    get nonce() {
      return nonce;
    },
    jwksFetches: 0,
    revokeTokens: () => endpoint.issued.clear(),
    handle(req, res) {
      serve(req, res).catch((err) => {
        if (!res.headersSent) sendJson(res, 500, { error: "server_error", error_description: String(err) });
      });
    },
  };

  const sendJson = (res: ServerResponse | Http2ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    (res as ServerResponse).writeHead(status, { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) });
    res.end(text);
  };

  const readBody = async (req: IncomingMessage | Http2ServerRequest): Promise<string> => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) throw new Refusal(413, "invalid_request", `body larger than ${MAX_BODY} bytes`);
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString("utf8");
  };

  const verifyAssertion = async (form: URLSearchParams, record: TokenRequestRecord) => {
    const problem = (why: string) => new Refusal(401, "invalid_client", why);
    if (form.get("grant_type") !== "client_credentials") throw new Refusal(400, "unsupported_grant_type", "grant_type must be client_credentials");
    if (form.get("client_assertion_type") !== ASSERTION_TYPE) throw new Refusal(400, "invalid_request", `client_assertion_type must be ${ASSERTION_TYPE}`);
    if (form.get("client_id") !== opts.clientId) throw problem("unknown client_id");
    if (form.has("scope")) throw new Refusal(400, "invalid_request", "the hosted runtime sends no scope");
    const assertion = form.get("client_assertion") ?? "";
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(assertion) as Record<string, unknown>;
    } catch {
      throw problem("client_assertion is not a compact JWS");
    }
    if (header.alg !== "EdDSA") throw problem(`client assertion alg must be EdDSA, got ${JSON.stringify(header.alg)}`);
    if (header.typ !== undefined || header.nonce !== undefined) throw problem("client assertion header must carry only alg (and kid)");
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(assertion, opts.clientPublicKey, {
        algorithms: ["EdDSA"],
        issuer: opts.clientId,
        subject: opts.clientId,
        audience,
        requiredClaims: ["exp", "iat", "nbf"],
      }));
    } catch (err) {
      throw problem(`client assertion invalid: ${(err as Error).message}`);
    }
    if (typeof claims.aud !== "string") throw problem("client assertion aud must be a single string (the token host without port)");
    const now = Math.floor(Date.now() / 1000);
    if ((claims.exp as number) - now > 300) throw problem("client assertion exp is more than 5 minutes away");
    record.assertionHeader = header;
    record.assertionClaims = claims;
    try {
      const signed = decodeIdAtt(claims.id_att);
      record.idAttSignedHeaders = verifySignedStsRequest(signed, opts.aws).signedHeaders;
    } catch (err) {
      throw problem((err as Error).message);
    }
  };

  const serve = async (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
    if (req.method === "GET" && req.url === "/.well-known/jwks.json") {
      endpoint.jwksFetches++;
      return sendJson(res, 200, opts.invocationJwks());
    }
    const record: TokenRequestRecord = {
      at: Date.now(),
      status: 0,
      contentType: req.headers["content-type"] as string | undefined,
      httpVersion: req.httpVersion,
      userAgent: req.headers["user-agent"] as string | undefined,
    };
    const answer = (status: number, body: Record<string, unknown>, headers?: Record<string, string>) => {
      record.status = status;
      if (typeof body.error === "string") record.error = body.error;
      endpoint.records.push(record);
      sendJson(res, status, body, headers);
    };
    try {
      if (req.method !== "POST" || req.url !== "/auth/v1/token") throw new Refusal(404, "not_found", `no ${req.method} ${req.url}`);
      const body = await readBody(req);
      if (endpoint.fail.slowMs) await new Promise((r) => setTimeout(r, endpoint.fail.slowMs));
      if (endpoint.fail.serverErrors > 0) {
        endpoint.fail.serverErrors--;
        throw new Refusal(500, "server_error", "failing on purpose");
      }
      if (!String(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
        throw new Refusal(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded");
      }
      const proofHeader = req.headers["dpop"];
      const proof = Array.isArray(proofHeader) ? "" : (proofHeader ?? "");
      let verified;
      try {
        const claims = proof ? (JSON.parse(Buffer.from(proof.split(".")[1] ?? "", "base64url").toString("utf8")) as { nonce?: unknown }) : {};
        if (typeof claims.nonce === "string") record.proofNonce = claims.nonce;
      } catch {
        // verifyDpopProof names what is wrong
      }
      try {
        verified = await verifyDpopProof(proof, { htm: "POST", htu: tokenUrl, nonce: opts.requireNonce ? nonce : undefined }, replay);
      } catch (err) {
        if (err instanceof ProofError && err.nonceProblem) {
          record.reason = err.message;
          return challenge();
        }
        throw new Refusal(400, "invalid_dpop_proof", (err as Error).message);
      }
      if (opts.requireNonce && endpoint.fail.nonceRotations > 0) {
        endpoint.fail.nonceRotations--;
        nonce = randomBytes(16).toString("base64url");
        record.reason = "nonce rotated on purpose";
        return challenge();
      }
      await verifyAssertion(new URLSearchParams(body), record);
      const token = randomBytes(32).toString("base64url");
      endpoint.issued.set(token, { jkt: verified.jkt, jwk: verified.jwk, expiresAt: Date.now() + opts.expiresInSeconds * 1000 });
      answer(200, { access_token: token, token_type: opts.tokenType, expires_in: opts.expiresInSeconds });
    } catch (err) {
      if (err instanceof Refusal) {
        record.reason = err.message;
        return answer(err.status, { error: err.code, error_description: err.message });
      }
      throw err;
    }

    function challenge() {
      const headers: Record<string, string> = {};
      if (endpoint.fail.challengesWithoutNonceHeader > 0) endpoint.fail.challengesWithoutNonceHeader--;
      else headers["DPoP-Nonce"] = nonce;
      answer(400, { error: "use_dpop_nonce", error_description: "Authorization server requires nonce in DPoP proof" }, headers);
    }
  };
  return endpoint;
}
