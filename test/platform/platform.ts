/**
 * A test stand-in for the governance platform's connector API, over real TLS on one loopback port, as the real
 * platform serves both on one host and port: a TLS front end (certificate from a CA made at test time) hands
 * HTTP/2 connections (gRPC, ALPN h2) to a grpc-js BatonService and HTTP/1.1 connections to the token endpoint.
 *
 * - Token endpoint `POST /auth/v1/token`: checks the form, then the client assertion's EdDSA signature against
 *   the client's public key and its claims (iss = sub = client id, aud, iat/nbf/exp, a 16-byte nonce header);
 *   issues random access tokens with a configurable lifetime.
 * - BatonService: rejects calls without a valid `authorization` token (UNAUTHENTICATED), hands out queued tasks,
 *   records Hello, heartbeats and FinishTask, collects uploads and verifies their sha256, answers
 *   `cancelled = true` for cancelled tasks.
 * - Failure injection: UNAVAILABLE for N calls or while `down`, a real outage (`stop()` / `start()`: the port
 *   refuses connections), slow answers, 401 from the token endpoint, FinishTask failing N times, an upload
 *   failing mid-stream, a task the platform has forgotten (NOT_FOUND), a GetTask answer whose task bytes do not
 *   decode, tasks of types this build does not know (`enqueueTask` with unknown fields), tasks of any size.
 */
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { EventEmitter, once } from "node:events";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect as netConnect, type AddressInfo, type Socket } from "node:net";
import * as tls from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { decodeProtectedHeader, jwtVerify } from "jose";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  BatonService,
  BatonServiceGetTaskResponseSchema,
  TaskSchema,
  type BatonServiceFinishTaskRequest,
  type BatonServiceHeartbeatRequest,
  type BatonServiceHelloRequest,
  type Task,
} from "../../src/gen/c1/connectorapi/baton/v1/baton_pb.js";
import { Code, ConnectorError } from "../../src/connector/errors.ts";
import { addService, type ServerInterceptorFn } from "../../src/grpc/adapter.ts";
import { makeTestPki, type TestPki } from "./pki.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

export interface TestPlatformOptions {
  /** Reuse a PKI (making one takes a few openssl calls); default: a new one in a temp dir. */
  pki?: TestPki;
  /** Lifetime of issued tokens (default 3600 s). */
  tokenExpiresInSeconds?: number;
  /** next_poll answered by GetTask (default 50 ms). */
  nextPollMs?: number;
  /** next_heartbeat answered by GetTask and Heartbeat (default 100 ms). */
  nextHeartbeatMs?: number;
  /** The host written into the client id (default "127.0.0.1:<port>"). */
  clientIdHost?: string;
  /** The audience assertions must carry (default "127.0.0.1"). */
  audience?: string;
}

export interface TokenRequestRecord {
  at: number;
  ok: boolean;
  status: number;
  error?: string;
  /** The assertion's verified claims and header, for tests of what the client signs. */
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  /** HTTP version the request came over. */
  httpVersion: string;
}

export interface UploadRecord {
  taskId: string;
  hostId: string;
  bytes: Buffer;
  chunkSizes: number[];
  checksumOk: boolean;
}

export interface UploadAttemptRecord {
  taskId: string;
  outcome: "ok" | "failed-on-purpose" | "checksum-mismatch" | "protocol-error" | "cancelled" | "refused";
}

export interface HeartbeatRecord {
  taskId: string;
  at: number;
  answeredCancelled: boolean;
}

export interface FinishRecord {
  taskId: string;
  at: number;
  accepted: boolean;
}

export type TaskInit = Omit<MessageInitShape<typeof TaskSchema>, "id"> & { id?: string };

export interface TestPlatform {
  /** host:port of both the token endpoint and BatonService. */
  host: string;
  port: number;
  clientId: string;
  clientSecret: string;
  /** The client's public key (what the platform verifies assertions with). */
  clientPublicKey: KeyObject;
  caFile: string;
  caPem: string;
  pki: TestPki;

  hellos: BatonServiceHelloRequest[];
  heartbeats: HeartbeatRecord[];
  /** Accepted results by task id (the first one; later ones are recorded in `duplicateFinishes`). */
  finished: Map<string, BatonServiceFinishTaskRequest>;
  finishCalls: FinishRecord[];
  duplicateFinishes: BatonServiceFinishTaskRequest[];
  uploads: UploadRecord[];
  uploadAttempts: UploadAttemptRecord[];
  tokenRequests: TokenRequestRecord[];
  /** Every BatonService call by method name, including refused ones. */
  calls: { method: string; at: number; outcome: "ok" | "unauthenticated" | "failed-on-purpose" }[];
  /** TLS versions negotiated by incoming connections. */
  tlsVersions: Set<string>;

  /** Queues a task; returns its id. */
  enqueue(task: TaskInit): string;
  /** Queues a task message as it is (e.g. with `$unknown` fields: a task type this build does not know). */
  enqueueTask(task: Task): string;
  /** Queues a GetTask answer whose `task` field holds these bytes as they are (e.g. bytes that do not decode). */
  enqueueRawTask(taskBytes: Uint8Array): void;
  /** From now on uploads, heartbeats and FinishTask for this task answer NOT_FOUND (the platform gave up on it). */
  forget(taskId: string): void;
  /** Tasks queued and not yet handed out. */
  pendingTasks(): number;
  /** Forgets every issued access token: calls with them answer UNAUTHENTICATED. */
  revokeTokens(): void;
  /** Heartbeats for this task answer cancelled = true from now on. */
  cancel(taskId: string): void;
  /** Failure injection; counters decrease as failures are served. */
  fail: {
    /** The next N token requests answer 401. */
    tokenRefusals: number;
    /** The next N BatonService calls (of `methods`, or any) answer UNAVAILABLE. */
    unavailableCalls: number;
    unavailableMethods?: string[];
    /** While true every BatonService call answers UNAVAILABLE and the token endpoint 503. */
    down: boolean;
    /** The next N FinishTask calls answer UNAVAILABLE (nothing recorded as finished). */
    finishTaskFailures: number;
    /** The next N uploads fail with UNAVAILABLE after their first data chunk. */
    uploadFailuresMidStream: number;
    /** Every call waits this long before answering. */
    slowMs: number;
  };
  /** Resolves when `predicate` holds (checked after every recorded event); rejects after `timeoutMs`. */
  waitFor<T>(predicate: () => T | undefined | false, what: string, timeoutMs?: number): Promise<T>;
  waitForFinished(taskId: string, timeoutMs?: number): Promise<BatonServiceFinishTaskRequest>;
  /** A real outage: the port refuses connections (open connections are cut) until start(). */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

function duration(ms: number): Duration {
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 } as Duration;
}

/** A client secret the way the platform hands them out: 4 ':'-parts, v1, base64url of an Ed25519 private JWK. */
export function makeClientSecret(): { secret: string; publicKey: KeyObject; jwk: Record<string, string> } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" }) as Record<string, string>;
  const encoded = Buffer.from(JSON.stringify({ kty: jwk.kty, crv: jwk.crv, d: jwk.d, x: jwk.x })).toString("base64url");
  return { secret: `secret-token:test-platform:v1:${encoded}`, publicKey, jwk };
}

const unavailable = (why: string) => new ConnectorError(Code.UNAVAILABLE, why);

export async function startTestPlatform(options: TestPlatformOptions = {}): Promise<TestPlatform> {
  const ownDir = options.pki ? undefined : makeTempDir("test-platform-pki-");
  const pki = options.pki ?? makeTestPki(ownDir!.dir);
  const nextPollMs = options.nextPollMs ?? 50;
  const nextHeartbeatMs = options.nextHeartbeatMs ?? 100;
  const expiresIn = options.tokenExpiresInSeconds ?? 3600;
  const audience = options.audience ?? "127.0.0.1";
  const { secret, publicKey } = makeClientSecret();

  const events = new EventEmitter();
  events.setMaxListeners(0);
  const changed = () => events.emit("change");

  const queue: (Task | { raw: Uint8Array })[] = [];
  const forgotten = new Set<string>();
  const forgottenTask = (taskId: string) => new ConnectorError(Code.NOT_FOUND, `task ${taskId} is not known to the platform`);
  const cancelled = new Set<string>();
  const issuedTokens = new Map<string, number>(); // token -> expiresAt (ms)
  let taskCounter = 0;

  const platform = {
    host: "",
    port: 0,
    clientId: "",
    clientSecret: secret,
    clientPublicKey: publicKey,
    caFile: pki.caFile,
    caPem: pki.caPem,
    pki,
    hellos: [],
    heartbeats: [],
    finished: new Map(),
    finishCalls: [],
    duplicateFinishes: [],
    uploads: [],
    uploadAttempts: [],
    tokenRequests: [],
    calls: [],
    tlsVersions: new Set<string>(),
    fail: { tokenRefusals: 0, unavailableCalls: 0, down: false, finishTaskFailures: 0, uploadFailuresMidStream: 0, slowMs: 0 },
  } as unknown as TestPlatform;

  // ---- token endpoint -----------------------------------------------------------------------------------

  const verifyAssertion = async (form: URLSearchParams): Promise<{ claims: Record<string, unknown>; header: Record<string, unknown> }> => {
    if (form.get("grant_type") !== "client_credentials") throw new Error("grant_type must be client_credentials");
    if (form.get("client_assertion_type") !== "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
      throw new Error("client_assertion_type must be jwt-bearer");
    }
    if (form.get("client_id") !== platform.clientId) throw new Error("unknown client_id");
    const assertion = form.get("client_assertion") ?? "";
    const { payload, protectedHeader } = await jwtVerify(assertion, publicKey, {
      algorithms: ["EdDSA"],
      issuer: platform.clientId,
      subject: platform.clientId,
      audience,
      requiredClaims: ["iat", "nbf", "exp"],
    });
    const nonce = decodeProtectedHeader(assertion).nonce;
    if (typeof nonce !== "string" || Buffer.from(nonce, "base64url").length !== 16) throw new Error("the nonce header must be 16 random bytes");
    if (!Array.isArray(payload.aud)) throw new Error("aud must be a list");
    if (payload.exp! - payload.nbf! > 300) throw new Error("assertion valid for too long");
    return { claims: payload as Record<string, unknown>, header: protectedHeader as Record<string, unknown> };
  };

  const sendJson = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };

  const tokenEndpoint = async (req: IncomingMessage, res: ServerResponse) => {
    const record: TokenRequestRecord = { at: Date.now(), ok: false, status: 0, httpVersion: req.httpVersion };
    const answer = (status: number, body: unknown, error?: string) => {
      record.status = status;
      record.ok = status === 200;
      record.error = error;
      platform.tokenRequests.push(record);
      sendJson(res, status, body);
      changed();
    };
    if (req.method !== "POST" || req.url !== "/auth/v1/token") return answer(404, { error: "not_found" }, "not found");
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (platform.fail.slowMs) await new Promise((r) => setTimeout(r, platform.fail.slowMs));
    if (platform.fail.down) return answer(503, { error: "unavailable" }, "down");
    if (platform.fail.tokenRefusals > 0) {
      platform.fail.tokenRefusals--;
      return answer(401, { error: "invalid_client", error_description: "client credential revoked" }, "refused on purpose");
    }
    if (!String(req.headers["content-type"]).startsWith("application/x-www-form-urlencoded")) {
      return answer(400, { error: "invalid_request", error_description: "form body expected" }, "not a form");
    }
    try {
      const { claims, header } = await verifyAssertion(new URLSearchParams(Buffer.concat(chunks).toString("utf8")));
      record.claims = claims;
      record.header = header;
    } catch (err) {
      return answer(401, { error: "invalid_client", error_description: (err as Error).message }, (err as Error).message);
    }
    const token = randomBytes(24).toString("base64url");
    issuedTokens.set(token, Date.now() + expiresIn * 1000);
    answer(200, { access_token: token, token_type: "bearer", expires_in: expiresIn });
  };

  const http = createHttpServer((req, res) => {
    tokenEndpoint(req, res).catch((err) => sendJson(res, 500, { error: "server_error", error_description: String(err) }));
  });

  // ---- BatonService -------------------------------------------------------------------------------------

  const guard: ServerInterceptorFn = (next) => async (req, ctx) => {
    const method = ctx.method.name;
    const record = (outcome: TestPlatform["calls"][number]["outcome"]) => {
      platform.calls.push({ method, at: Date.now(), outcome });
      changed();
    };
    if (platform.fail.slowMs) await new Promise((r) => setTimeout(r, platform.fail.slowMs));
    if (platform.fail.down) {
      record("failed-on-purpose");
      throw unavailable("the platform is down (on purpose)");
    }
    if (platform.fail.unavailableCalls > 0 && (!platform.fail.unavailableMethods || platform.fail.unavailableMethods.includes(method))) {
      platform.fail.unavailableCalls--;
      record("failed-on-purpose");
      throw unavailable("unavailable (on purpose)");
    }
    const auth = ctx.metadata.get("authorization")[0];
    const m = typeof auth === "string" ? /^bearer (.+)$/i.exec(auth) : null;
    const expiresAt = m ? issuedTokens.get(m[1]) : undefined;
    if (expiresAt === undefined || expiresAt <= Date.now()) {
      record("unauthenticated");
      throw new ConnectorError(Code.UNAUTHENTICATED, m ? "unknown or expired access token" : "missing authorization metadata");
    }
    record("ok");
    return next(req, ctx);
  };

  const server = new grpc.Server({ "grpc.max_receive_message_length": 8 * 1024 * 1024 });
  addService(
    server,
    BatonService,
    {
      async hello(req) {
        platform.hellos.push(req);
        changed();
        return {};
      },
      async getTask() {
        const next = queue.shift();
        changed();
        const timing = { nextPoll: duration(nextPollMs), nextHeartbeat: duration(nextHeartbeatMs) };
        if (next && "raw" in next) {
          // Field 1 (task), length-delimited, written as unknown bytes so that they reach the wire untouched.
          const answer = create(BatonServiceGetTaskResponseSchema, timing);
          answer.$unknown = [{ no: 1, wireType: WireType.LengthDelimited, data: new BinaryWriter().bytes(next.raw).finish() }];
          return answer;
        }
        return { task: next, ...timing };
      },
      async heartbeat(req: BatonServiceHeartbeatRequest) {
        if (forgotten.has(req.taskId)) throw forgottenTask(req.taskId);
        const isCancelled = cancelled.has(req.taskId);
        platform.heartbeats.push({ taskId: req.taskId, at: Date.now(), answeredCancelled: isCancelled });
        changed();
        return { nextHeartbeat: duration(nextHeartbeatMs), cancelled: isCancelled };
      },
      async finishTask(req) {
        if (forgotten.has(req.taskId)) {
          platform.finishCalls.push({ taskId: req.taskId, at: Date.now(), accepted: false });
          changed();
          throw forgottenTask(req.taskId);
        }
        if (platform.fail.finishTaskFailures > 0) {
          platform.fail.finishTaskFailures--;
          platform.finishCalls.push({ taskId: req.taskId, at: Date.now(), accepted: false });
          changed();
          throw unavailable("FinishTask failed (on purpose)");
        }
        platform.finishCalls.push({ taskId: req.taskId, at: Date.now(), accepted: true });
        if (platform.finished.has(req.taskId)) platform.duplicateFinishes.push(req);
        else platform.finished.set(req.taskId, req);
        changed();
        return {};
      },
      async uploadAsset(reqs) {
        let taskId = "";
        let hostId = "";
        const chunks: Buffer[] = [];
        const hash = createHash("sha256");
        const attempt = (outcome: UploadAttemptRecord["outcome"]) => {
          platform.uploadAttempts.push({ taskId, outcome });
          changed();
        };
        let first = true;
        try {
          for await (const req of reqs) {
            const msg = req.msg;
            if (first) {
              first = false;
              if (msg.case !== "metadata") {
                attempt("protocol-error");
                throw new ConnectorError(Code.INVALID_ARGUMENT, "the first upload message must be metadata");
              }
              taskId = msg.value.taskId;
              hostId = msg.value.hostId;
              if (forgotten.has(taskId)) {
                attempt("refused");
                throw forgottenTask(taskId);
              }
              continue;
            }
            if (msg.case === "data") {
              chunks.push(Buffer.from(msg.value.data));
              hash.update(msg.value.data);
              if (chunks.length === 1 && platform.fail.uploadFailuresMidStream > 0) {
                platform.fail.uploadFailuresMidStream--;
                attempt("failed-on-purpose");
                throw unavailable("upload interrupted (on purpose)");
              }
            } else if (msg.case === "eof") {
              const ok = Buffer.from(msg.value.sha256Checksum).equals(hash.digest());
              if (!ok) {
                attempt("checksum-mismatch");
                throw new ConnectorError(Code.DATA_LOSS, "sha256 checksum mismatch");
              }
              platform.uploads.push({ taskId, hostId, bytes: Buffer.concat(chunks), chunkSizes: chunks.map((c) => c.length), checksumOk: ok });
              attempt("ok");
              return {};
            } else {
              attempt("protocol-error");
              throw new ConnectorError(Code.INVALID_ARGUMENT, "metadata may only come first");
            }
          }
        } catch (err) {
          if (err instanceof ConnectorError) throw err;
          attempt("cancelled");
          throw err;
        }
        attempt("protocol-error");
        throw new ConnectorError(Code.INVALID_ARGUMENT, "the upload ended without eof");
      },
    },
    { interceptors: [guard] },
  );
  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );

  // ---- TLS front end: one port for both, as the platform has ---------------------------------------------

  const sockets = new Set<Socket>();
  const front = tls.createServer(
    { key: pki.server.keyPem, cert: pki.server.certPem, ALPNProtocols: ["h2", "http/1.1"], minVersion: "TLSv1.2" },
    (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      const version = socket.getProtocol();
      if (version) platform.tlsVersions.add(version);
      if (socket.alpnProtocol === "h2") {
        const backend = netConnect(grpcPort, "127.0.0.1");
        sockets.add(backend);
        backend.on("close", () => {
          sockets.delete(backend);
          socket.destroy();
        });
        socket.on("close", () => backend.destroy());
        backend.on("error", () => socket.destroy());
        socket.on("error", () => backend.destroy());
        socket.pipe(backend).pipe(socket);
      } else {
        socket.on("error", () => {});
        http.emit("connection", socket);
      }
    },
  );
  front.on("tlsClientError", () => {});

  const listen = async (port: number) => {
    front.listen(port, "127.0.0.1");
    await once(front, "listening");
    return (front.address() as AddressInfo).port;
  };
  platform.port = await listen(0);
  platform.host = `127.0.0.1:${platform.port}`;
  platform.clientId = `baton-test@${options.clientIdHost ?? platform.host}/pcc-${randomBytes(3).toString("hex")}`;

  platform.enqueue = (init: TaskInit) => {
    const id = init.id ?? `task-${++taskCounter}`;
    queue.push(create(TaskSchema, { ...init, id } as MessageInitShape<typeof TaskSchema>));
    changed();
    return id;
  };
  platform.enqueueTask = (task: Task) => {
    queue.push(task);
    changed();
    return task.id;
  };
  platform.enqueueRawTask = (raw: Uint8Array) => {
    queue.push({ raw });
    changed();
  };
  platform.forget = (taskId: string) => {
    forgotten.add(taskId);
    changed();
  };
  platform.pendingTasks = () => queue.length;
  platform.revokeTokens = () => issuedTokens.clear();
  platform.cancel = (taskId: string) => {
    cancelled.add(taskId);
    changed();
  };
  platform.waitFor = <T>(predicate: () => T | undefined | false, what: string, timeoutMs = 30_000) =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        let value: T | undefined | false;
        try {
          value = predicate();
        } catch (err) {
          done();
          reject(err);
          return;
        }
        if (value) {
          done();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`test platform: timed out waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        events.off("change", check);
      };
      events.on("change", check);
      check();
    });
  platform.waitForFinished = (taskId: string, timeoutMs?: number) =>
    platform.waitFor(() => platform.finished.get(taskId), `FinishTask of ${taskId}`, timeoutMs);

  let stopped = false;
  platform.stop = async () => {
    if (stopped) return;
    stopped = true;
    const closed = new Promise<void>((resolve) => front.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
    changed();
  };
  platform.start = async () => {
    if (!stopped) return;
    await listen(platform.port);
    stopped = false;
    changed();
  };
  platform.close = async () => {
    await platform.stop();
    http.closeAllConnections();
    await new Promise<void>((resolve) => {
      server.tryShutdown(() => resolve());
      setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 1000).unref();
    });
    events.removeAllListeners();
    ownDir?.cleanup();
  };
  return platform;
}
