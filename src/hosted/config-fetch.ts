/**
 * GetConnectorConfig (HOSTED-LAMBDA.md §3.1–§3.4): ask the platform for the config (the requested version, ""
 * at cold start), decrypt it with the DPoP key, parse the JSON object, and work out the generation's label and
 * egress policy. Nothing of the plaintext ever reaches a message: a config that does not parse is described by
 * its shape, not its text.
 */
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { ConnectorConfigService } from "../gen/c1/connectorapi/baton/v1/config_pb.js";
import { ageDecryptWithEd25519, AgeError } from "./age.ts";
import type { DpopKey } from "./dpop.ts";
import type { PlatformGrpc } from "./platform-grpc.ts";
import { egressFromEnvelope, type ServedEgress } from "./served-policy.ts";

/** A connector config is a handful of settings; these bound a hostile answer well above any real one. */
export const MAX_CONFIG_CIPHERTEXT_BYTES = 4 * 1024 * 1024;
const MAX_CONFIG_KEYS = 1024;

export class HostedConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HostedConfigError";
  }
}

export interface FetchedConfig {
  /** The generation's label (§3.4): the served config_version, else the requested one, else last_updated. */
  label: string;
  /** config_version as served (undefined when the platform sent none). */
  servedVersion: string | undefined;
  /** The decrypted JSON object: config field names (kebab-case) to values. */
  values: Record<string, unknown>;
  egress: ServedEgress;
  timings: { fetchMs: number; decryptMs: number };
}

/** Go's time.RFC3339Nano in UTC: fraction without trailing zeros, none when whole. */
export function rfc3339Nano(ts: Timestamp): string {
  const ms = Number(ts.seconds) * 1000;
  const base = new Date(ms).toISOString().slice(0, 19);
  const frac = ts.nanos > 0 ? `.${String(ts.nanos).padStart(9, "0").replace(/0+$/, "")}` : "";
  return `${base}${frac}Z`;
}

export function generationLabel(served: string | undefined, requested: string, lastUpdated: Timestamp | undefined): string {
  if (served) return served;
  if (requested) return requested;
  if (served === undefined && lastUpdated) return rfc3339Nano(lastUpdated);
  return "";
}

export function parseConfigPlaintext(plaintext: Uint8Array): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plaintext));
  } catch {
    throw new HostedConfigError(`the decrypted connector config (${plaintext.length} bytes) is not UTF-8 JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new HostedConfigError(`the decrypted connector config is ${Array.isArray(parsed) ? "an array" : parsed === null ? "null" : `a ${typeof parsed}`}, not a JSON object of settings`);
  }
  const keys = Object.keys(parsed);
  if (keys.length > MAX_CONFIG_KEYS) throw new HostedConfigError(`the decrypted connector config has ${keys.length} keys; at most ${MAX_CONFIG_KEYS}`);
  return parsed as Record<string, unknown>;
}

export async function fetchConnectorConfig(
  grpc: PlatformGrpc,
  dpopKey: DpopKey,
  requestedVersion: string,
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<FetchedConfig> {
  const started = performance.now();
  const res = await grpc.unary(ConnectorConfigService, ConnectorConfigService.method.getConnectorConfig, { requestedVersion }, opts);
  const fetched = performance.now();
  if (res.config.length === 0) throw new HostedConfigError("the platform answered GetConnectorConfig with an empty config");
  if (res.config.length > MAX_CONFIG_CIPHERTEXT_BYTES) {
    throw new HostedConfigError(`the platform's encrypted config is ${res.config.length} bytes; at most ${MAX_CONFIG_CIPHERTEXT_BYTES} are accepted`);
  }
  let plaintext: Buffer;
  try {
    plaintext = ageDecryptWithEd25519(res.config, dpopKey.privateKey, { maxBytes: MAX_CONFIG_CIPHERTEXT_BYTES });
  } catch (err) {
    if (err instanceof AgeError) throw new HostedConfigError(`cannot decrypt the connector config: ${err.message}`, { cause: err });
    throw err;
  }
  const values = parseConfigPlaintext(plaintext);
  plaintext.fill(0);
  const decrypted = performance.now();
  return {
    label: generationLabel(res.configVersion, requestedVersion, res.lastUpdated),
    servedVersion: res.configVersion,
    values,
    egress: egressFromEnvelope(res.servedPolicyEnvelope, res.configVersion),
    timings: { fetchMs: fetched - started, decryptMs: decrypted - fetched },
  };
}
