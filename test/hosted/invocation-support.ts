/**
 * Test support for the invocation path before (and beside) the hosted platform: an in-process Datadog connector
 * on the real simulator behind a stub runtime that implements the invocation side of HostedRuntime directly,
 * an Ed25519 invocation-JWT signer, and envelope builders in both encodings written on protobuf-es alone.
 */
import { create, fromBinary, fromJson, toBinary, toJson, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { anyPack, anyUnpack } from "@bufbuild/protobuf/wkt";
import * as jose from "jose";
import { datadogConfig, type DatadogConfig } from "../../connectors/datadog/config.ts";
import { resolveConfig } from "../../src/config/resolve.ts";
import { buildDatadog } from "../../connectors/datadog/build.ts";
import { DEFAULT_SITE } from "../../connectors/datadog/client/sites.ts";
import { startSimulator, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { createConnectorService } from "../../src/connector/service.ts";
import type { ConnectorRpc } from "../../src/connector/rpc.ts";
import { RequestSchema, ResponseSchema, type Response } from "../../src/gen/c1/transport/v1/transport_pb.js";
import { StatusSchema } from "../../src/gen/google/rpc/status_pb.js";
import { hostedRegistry } from "../../src/hosted/protojson.ts";
import type { EgressPolicy } from "../../src/http/egress.ts";
import type { InvocationRuntime } from "../../src/hosted/invocation.ts";
import { silentLogger } from "../helpers/logger.ts";

export const ISSUER = "https://c1.test/issuer";
export const SUBJECT = "c1-invoker";
export const AUDIENCE = "connector-fn";

export async function invocationSigner() {
  const { publicKey, privateKey } = await jose.generateKeyPair("EdDSA", { crv: "Ed25519" });
  const publicJwk = { ...(await jose.exportJWK(publicKey)), kid: "inv-1", alg: "EdDSA" };
  const mint = async (over: { iss?: string; sub?: string; aud?: string | string[]; expIn?: number | null; nbfIn?: number; key?: jose.CryptoKey; kid?: string; alg?: string } = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const claims: jose.JWTPayload = { iss: over.iss ?? ISSUER, sub: over.sub ?? SUBJECT, aud: over.aud ?? AUDIENCE, iat: now };
    if (over.expIn !== null) claims.exp = now + (over.expIn ?? 300);
    if (over.nbfIn !== undefined) claims.nbf = now + over.nbfIn;
    return new jose.SignJWT(claims).setProtectedHeader({ alg: over.alg ?? "EdDSA", kid: over.kid ?? "inv-1" }).sign(over.key ?? privateKey);
  };
  return { publicJwk, mint, privateKey };
}

export interface InProcessDatadog {
  sim: Simulator;
  rpc(options: { provisioning: boolean; egress?: EgressPolicy }): Promise<ConnectorRpc>;
  close(): Promise<void>;
}

/** The real Datadog connector on a real simulator; one built connector per rpc() call, closed with close(). */
export async function inProcessDatadog(counts = { users: 23, teams: 3, roles: 4, schedules: 2, apiKeys: 2, appKeys: 2, serviceAccounts: 1 }): Promise<InProcessDatadog> {
  const sim = await startSimulator({ seed: 7, counts });
  const logger = silentLogger();
  const closers: (() => Promise<void>)[] = [];
  return {
    sim,
    async rpc({ provisioning, egress }) {
      // Resolved like the CLI resolves it: every field's default applies, whatever fields the connector adds.
      const config = resolveConfig(datadogConfig, {
        overrides: { apiKey: sim.apiKey, appKey: sim.appKey, baseUrl: sim.baseUrl, site: DEFAULT_SITE, syncSchedules: true, syncSecrets: true },
      }).values as DatadogConfig;
      const built = await buildDatadog(config, logger, { egress });
      closers.push(() => built.close());
      return createConnectorService(built.connector, { logger, provisioning });
    },
    async close() {
      for (const c of closers) await c();
      await sim.close();
    },
  };
}

/** A runtime with one generation: acquire() counts leases and can be made to fail like a reload. */
export function stubRuntime(rpc: ConnectorRpc) {
  const state = { acquired: 0, released: 0, requested: [] as (string | undefined)[], failWith: undefined as Error | undefined };
  const runtime: InvocationRuntime = {
    async acquire(version) {
      state.requested.push(version);
      if (state.failWith) throw state.failWith;
      state.acquired++;
      return { generation: { rpc }, release: () => void state.released++ };
    },
  };
  return { runtime, state };
}

export type Encoding = "legacy" | "v2";

/** The Lambda event for a call, in `encoding` (legacy = protojson, v2 = the frame alone). */
export function eventFor<D extends DescMessage>(
  method: string,
  schema: D,
  req: MessageInitShape<D>,
  opts: { encoding: Encoding; headers?: Record<string, string[]> },
): unknown {
  const request = create(RequestSchema, { method, req: anyPack(schema, create(schema, req)), headers: opts.headers ?? {} });
  if (opts.encoding === "v2") return { v: 2, frame: Buffer.from(toBinary(RequestSchema, request)).toString("base64") };
  return toJson(RequestSchema, request, { registry: hostedRegistry });
}

export interface Decoded<D extends DescMessage> {
  encoding: Encoding;
  code: number;
  message: string;
  response?: MessageShape<D>;
  raw: Response;
  result: unknown;
}

/** Decodes a Lambda result (either form) and unpacks its status and response. */
export function decodeResult<D extends DescMessage>(result: unknown, schema?: D): Decoded<D> {
  if (typeof result !== "object" || result === null) throw new Error(`the handler returned ${typeof result}, not an object`);
  const r = result as Record<string, unknown>;
  const encoding: Encoding = typeof r.frame === "string" ? "v2" : "legacy";
  const raw =
    encoding === "v2"
      ? fromBinary(ResponseSchema, Buffer.from(r.frame as string, "base64"))
      : (fromJsonResponse(result) as Response);
  if (!raw.status) throw new Error("response status not set");
  const st = anyUnpack(raw.status, StatusSchema)!;
  const response = schema && raw.resp ? anyUnpack(raw.resp, schema) : undefined;
  return { encoding, code: st.code, message: st.message, response: response as MessageShape<D> | undefined, raw, result };
}

function fromJsonResponse(json: unknown): Response {
  return fromJson(ResponseSchema, json as never, { registry: hostedRegistry });
}
