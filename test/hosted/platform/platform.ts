/**
 * A stand-in for the platform a hosted (Lambda) connector talks to, over real TLS on loopback with a CA made at
 * test time (HOSTED-LAMBDA.md §2, §3, §5):
 * - the token endpoint (HTTPS, HTTP/1.1 and h2): DPoP proofs with a nonce challenge, the client assertion, id_att;
 * - ConnectorConfigService and BatonSessionService (gRPC over TLS on a second port, the "configuration host"),
 *   each call checked for a DPoP-bound access token and a proof for that very call;
 * - an invocation signer: the key invocation JWTs are signed with, trusted through the env it hands out.
 *
 * `env` is everything a function needs to cold-start against it: BATON_LAMBDA_* (client id/secret in the
 * contract's formats, hosts, CA path, invocation JWT settings) and AWS_* test credentials for the id_att.
 */
import { randomBytes, type KeyObject } from "node:crypto";
import { once } from "node:events";
import {
  connect as h2Connect,
  constants as h2,
  createSecureServer,
  type ClientHttp2Session,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type IncomingHttpHeaders,
} from "node:http2";
import type { AddressInfo, Server, Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import type { JWK } from "jose";
import { addService } from "../../../src/grpc/adapter.ts";
import { Code, ConnectorError } from "../../../src/connector/errors.ts";
import { ConnectorConfigService } from "../../../src/gen/c1/connectorapi/baton/v1/config_pb.js";
import { BatonSessionService } from "../../../src/gen/c1/connectorapi/baton/v1/session_pb.js";
import { makeClientSecret } from "../../platform/platform.ts";
import { makeTestPki, type TestPki } from "../../platform/pki.ts";
import {
  configServiceImpl,
  newConfigStore,
  setConfig,
  type ConfigFailures,
  type ConfigRequestRecord,
  type ConfigVersion,
  type PolicyInit,
} from "./config-service.ts";
import { platformAuth, type GrpcCallRecord } from "./grpc-auth.ts";
import { createInvocationSigner, type MintOverrides } from "./invocation-signer.ts";
import { newSessionState, sessionServiceImpl, type SessionStoreState } from "./session-service.ts";
import type { TestAwsCredentials } from "./sigv4.ts";
import { createTokenEndpoint, type TokenFailures, type TokenRequestRecord } from "./token-endpoint.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

export interface HostedPlatformOptions {
  /** Reuse a PKI (making one takes a few openssl calls). */
  pki?: TestPki;
  /** Lifetime of access tokens (default 3600 s). */
  tokenExpiresInSeconds?: number;
  /** Challenge token requests for a DPoP nonce (default true). */
  requireNonce?: boolean;
  /** token_type of issued tokens, and the authorization scheme gRPC calls must use (default "DPoP"). */
  tokenType?: string;
  /** How the function learns the invocation signer: the JWK in env (default) or the platform's JWKS URL. */
  invocationAuth?: "signer" | "jwks";
  /** false: GetConnectorConfig answers without config_version (a server without versions). Default true. */
  stampConfigVersion?: boolean;
  /** false: long-term AWS credentials without a session token. Default true. */
  awsSessionToken?: boolean;
  /**
   * Token endpoint and gRPC services on ONE host:port (ALPN-routed), as the real platform has them; env then sets
   * neither BATON_LAMBDA_TOKEN_HOST nor BATON_LAMBDA_CONFIGURATION_HOST (both default from the client id).
   * Default: two ports, both overrides set.
   */
  singleHost?: boolean;
  /** GetAll page size of the session service (default 100). */
  sessionPageSize?: number;
  /** A first config version, as setConfig(config, version, policy). */
  config?: { config: object; version: string; policy?: PolicyInit };
}

export interface HostedPlatform {
  /** Env for a function talking to this platform (merge over process.env or pass as the handler's env). */
  env: Record<string, string>;
  tokenHost: string;
  configurationHost: string;
  clientId: string;
  clientSecret: string;
  clientPublicKey: KeyObject;
  caFile: string;
  pki: TestPki;
  aws: TestAwsCredentials;
  invocation: { issuer: string; subject: string; audience: string; publicJwk: JWK; jwksUrl: string };

  /** Adds a config version and makes it the latest. */
  setConfig(config: object, version: string, policy?: PolicyInit): void;
  /** Serve this version whatever is requested (undefined: honour requested_version again). */
  pinConfigVersion(version: string | undefined): void;
  configVersions: Map<string, ConfigVersion>;
  /** An invocation JWT; defaults are valid for this platform's function (iss/sub/aud, exp = now + 5 min). */
  mintInvocationJwt(overrides?: MintOverrides): Promise<string>;

  counters: { readonly tokenRequests: number; readonly configFetches: number; readonly sessionCalls: number; readonly jwksFetches: number };
  readonly lastConfigRequest: ConfigRequestRecord | undefined;
  configRequests: ConfigRequestRecord[];
  tokenRequests: TokenRequestRecord[];
  /** Every gRPC call with its auth outcome. */
  grpcCalls: GrpcCallRecord[];
  sessions: SessionStoreState;
  fail: { token: TokenFailures; config: ConfigFailures; session: { unavailable: number } };
  /** Forgets every issued access token: gRPC calls with them answer UNAUTHENTICATED. */
  revokeTokens(): void;
  close(): Promise<void>;
}

const listen = async (server: Server): Promise<number> => {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
};

export async function startHostedPlatform(opts: HostedPlatformOptions = {}): Promise<HostedPlatform> {
  const ownDir = opts.pki ? undefined : makeTempDir("hosted-platform-pki-");
  const pki = opts.pki ?? makeTestPki(ownDir!.dir);
  const tokenType = opts.tokenType ?? "DPoP";
  const { secret, publicKey } = makeClientSecret();
  const aws: TestAwsCredentials = {
    accessKeyId: `AKIATEST${randomBytes(6).toString("hex").toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString("base64"),
    sessionToken: opts.awsSessionToken === false ? undefined : `IQoJtest${randomBytes(48).toString("base64")}`,
    region: "us-west-2",
  };

  // Token endpoint: the host (with its port) is part of what it verifies, so it is built once the port is known.
  let handle: (req: never, res: never) => void = (_req, res: { writeHead(n: number): void; end(): void }) => {
    res.writeHead(503);
    res.end();
  };
  // Keep-alive and h2 sessions stay open after close(); tracked so close() can end them.
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  };
  const tlsOptions = { key: pki.server.keyPem, cert: pki.server.certPem, minVersion: "TLSv1.2" as const };
  let grpcBackendPort = 0;
  let front: Server;
  if (opts.singleHost) {
    // One host:port for both, as the real platform has it: HTTP/1.1 and h2 requests for /auth/… and /.well-known/…
    // reach the token endpoint; h2 streams for /<pkg.Service>/<Method> are relayed to the gRPC server, which listens
    // in plaintext on a private loopback port behind this TLS front.
    const tokenPath = (path: string) => path.startsWith("/auth/") || path.startsWith("/.well-known/");
    const h2 = createSecureServer({ ...tlsOptions, allowHTTP1: true }, (req, res) => {
      if (req.httpVersion === "2.0" && !tokenPath(req.url ?? "")) return relayGrpc(req, res, grpcBackendPort);
      handle(req as never, res as never);
    });
    h2.on("secureConnection", track);
    front = h2;
  } else {
    front = createSecureServer({ ...tlsOptions, allowHTTP1: true }, (req, res) => handle(req as never, res as never));
    front.on("secureConnection", track);
  }
  front.on("tlsClientError", () => {});
  const tokenHost = `127.0.0.1:${await listen(front)}`;
  const clientId = `baton-hosted@${tokenHost}/connector-${randomBytes(4).toString("hex")}`;
  const jwksUrl = `https://${tokenHost}/.well-known/jwks.json`;

  const signer = await createInvocationSigner({
    iss: `https://${tokenHost}`,
    sub: `connector-${randomBytes(4).toString("hex")}`,
    aud: "baton-lambda-test-function",
  });
  const token = createTokenEndpoint({
    tokenHost,
    clientId,
    clientPublicKey: publicKey,
    aws,
    expiresInSeconds: opts.tokenExpiresInSeconds ?? 3600,
    requireNonce: opts.requireNonce ?? true,
    tokenType,
    invocationJwks: () => ({ keys: [signer.publicJwk] }),
  });
  handle = token.handle as typeof handle;

  // gRPC services on the configuration host.
  const configStore = newConfigStore({ stampVersion: opts.stampConfigVersion ?? true });
  const sessions = newSessionState({ pageSize: opts.sessionPageSize });
  const grpcCalls: GrpcCallRecord[] = [];
  const sessionFail = { unavailable: 0 };
  let configurationHost = "";
  const server = new grpc.Server({ "grpc.max_receive_message_length": 8 * 1024 * 1024 });
  const auth = platformAuth({
    get configurationHost() {
      return configurationHost;
    },
    tokenType,
    issued: token.issued,
    calls: grpcCalls,
    before: async (ctx) => {
      if (ctx.service.typeName === BatonSessionService.typeName && sessionFail.unavailable > 0) {
        sessionFail.unavailable--;
        throw new ConnectorError(Code.UNAVAILABLE, "session service unavailable (on purpose)");
      }
    },
  });
  addService(server, ConnectorConfigService, configServiceImpl(configStore), { interceptors: [auth] });
  addService(server, BatonSessionService, sessionServiceImpl(sessions), { interceptors: [auth] });
  const credentials = opts.singleHost
    ? grpc.ServerCredentials.createInsecure() // TLS ends at the front
    : grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(pki.server.keyPem), cert_chain: Buffer.from(pki.server.certPem) }], false);
  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", credentials, (err, port) => (err ? reject(err) : resolve(port))),
  );
  grpcBackendPort = grpcPort;
  configurationHost = opts.singleHost ? tokenHost : `127.0.0.1:${grpcPort}`;
  if (opts.config) setConfig(configStore, opts.config.config, opts.config.version, opts.config.policy);

  const env: Record<string, string> = {
    BATON_LAMBDA_CLIENT_ID: clientId,
    BATON_LAMBDA_CLIENT_SECRET: secret,
    BATON_LAMBDA_CA_CERT_PATH: pki.caFile,
    BATON_LAMBDA_AUTH_JWT_EXPECTED_ISSUER: signer.expected.iss,
    BATON_LAMBDA_AUTH_JWT_EXPECTED_SUBJECT: signer.expected.sub,
    BATON_LAMBDA_AUTH_JWT_EXPECTED_AUDIENCE: signer.expected.aud,
    AWS_ACCESS_KEY_ID: aws.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
    AWS_REGION: aws.region,
  };
  // With one host the function finds both from the client id alone (§1.2 defaults), so neither override is set.
  if (!opts.singleHost) {
    env.BATON_LAMBDA_TOKEN_HOST = tokenHost;
    env.BATON_LAMBDA_CONFIGURATION_HOST = configurationHost;
  }
  if (aws.sessionToken) env.AWS_SESSION_TOKEN = aws.sessionToken;
  if (opts.invocationAuth === "jwks") env.BATON_LAMBDA_AUTH_JWT_JWKS_URL = jwksUrl;
  else env.BATON_LAMBDA_AUTH_JWT_SIGNER = JSON.stringify(signer.publicJwk);

  let closed = false;
  return {
    env,
    tokenHost,
    configurationHost,
    clientId,
    clientSecret: secret,
    clientPublicKey: publicKey,
    caFile: pki.caFile,
    pki,
    aws,
    invocation: { issuer: signer.expected.iss, subject: signer.expected.sub, audience: signer.expected.aud, publicJwk: signer.publicJwk, jwksUrl },
    setConfig: (config, version, policy) => setConfig(configStore, config, version, policy),
    pinConfigVersion: (version) => {
      if (version !== undefined && !configStore.versions.has(version)) throw new Error(`pinConfigVersion: no version ${version} (setConfig it first)`);
      configStore.pinned = version;
    },
    configVersions: configStore.versions,
    mintInvocationJwt: (overrides) => signer.mint(overrides),
    counters: {
      get tokenRequests() {
        return token.records.length;
      },
      get configFetches() {
        return configStore.requests.length;
      },
      get sessionCalls() {
        return [...sessions.callsByMethod.values()].reduce((a, b) => a + b, 0);
      },
      get jwksFetches() {
        return token.jwksFetches;
      },
    },
    get lastConfigRequest() {
      return configStore.requests.at(-1);
    },
    configRequests: configStore.requests,
    tokenRequests: token.records,
    grpcCalls,
    sessions,
    fail: { token: token.fail, config: configStore.fail, session: sessionFail },
    revokeTokens: () => token.revokeTokens(),
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      const httpsClosed = new Promise<void>((resolve) => front.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await Promise.race([httpsClosed, new Promise((r) => setTimeout(r, 1000).unref())]);
      ownDir?.cleanup();
    },
  };
}

const relaySessions = new Map<number, ClientHttp2Session>();

/**
 * Relays one gRPC call (an h2 request) to the gRPC server on `port` and its answer back. A trailers-only answer
 * (grpc-status in the response headers: an error) is passed on as headers + trailers, which gRPC clients read the same.
 */
function relayGrpc(req: Http2ServerRequest, res: Http2ServerResponse, port: number): void {
  let session = relaySessions.get(port);
  if (!session || session.closed || session.destroyed) {
    session = h2Connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {});
    session.unref();
    relaySessions.set(port, session);
  }
  const forward: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || k === ":authority" || k === ":scheme" || k === "host") continue;
    forward[k] = v;
  }
  forward[":scheme"] = "http";
  forward[":authority"] = `127.0.0.1:${port}`;
  const upstream = session.request(forward);
  const headersOf = (h: IncomingHttpHeaders) => {
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(h)) if (v !== undefined && !k.startsWith(":")) out[k] = v;
    return out;
  };
  upstream.on("error", () => res.stream.close(h2.NGHTTP2_INTERNAL_ERROR));
  req.on("error", () => upstream.close(h2.NGHTTP2_CANCEL));
  res.on("close", () => {
    if (!upstream.closed) upstream.close(h2.NGHTTP2_CANCEL);
  });
  upstream.on("response", (responseHeaders) => {
    const headers = headersOf(responseHeaders);
    const status = Number(responseHeaders[":status"] ?? 200);
    if (headers["grpc-status"] !== undefined) {
      const trailers: Record<string, string | string[]> = {};
      for (const k of Object.keys(headers)) if (k.startsWith("grpc-")) {
        trailers[k] = headers[k];
        delete headers[k];
      }
      res.writeHead(status, headers);
      res.addTrailers(trailers);
      res.end();
      return;
    }
    upstream.on("trailers", (t) => res.addTrailers(headersOf(t)));
    res.writeHead(status, headers);
    upstream.pipe(res);
  });
  req.pipe(upstream);
}
