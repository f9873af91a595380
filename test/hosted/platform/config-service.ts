/**
 * ConnectorConfigService of the test platform (HOSTED-LAMBDA.md §3): versions of a connector's config, each
 * served age-encrypted to the caller's DPoP key, with `config_version` stamped and an optional served-policy
 * envelope (§3.5). `requested_version` is honoured when the platform has that version, otherwise the latest is
 * served (the function then labels its generation with the served version, §1.4). The platform's side of the
 * contract is not in the SDK (§9); these choices are the plausible ones and are options where a test needs another.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectorError } from "../../../src/connector/errors.ts";
import type { CallContext } from "../../../src/grpc/adapter.ts";
import {
  type GetConnectorConfigRequest,
  GetConnectorConfigResponseSchema,
} from "../../../src/gen/c1/connectorapi/baton/v1/config_pb.js";
import { EgressMode, ServedPolicyEnvelopeSchema, type ServedPolicyEnvelope } from "../../../src/gen/c1/connectorapi/baton/v1/servedpolicy_pb.js";
import { ageEncryptToEd25519 } from "../../../src/hosted/age.ts";
import { callerOf } from "./grpc-auth.ts";

/** The served-policy envelope of one config version; defaults make a valid, enforced envelope. */
export interface PolicyInit {
  allowedHosts: string[];
  mode?: "enforce" | "report" | "unspecified";
  httpsOnly?: boolean;
  /** Default 1 (the only one the SDK accepts). */
  envelopeVersion?: number;
  /** Default 1. */
  schemaVersion?: number;
  /** Default: the served config_version (a different one makes the runtime deny all egress). */
  configVersion?: string;
  /** An envelope without its egress section (deny-all by §3.5 rule 3). */
  omitEgress?: boolean;
  connectorRevisionId?: string;
}

export interface ConfigVersion {
  version: string;
  config: object;
  policy?: PolicyInit;
  lastUpdated: Date;
}

export interface ConfigRequestRecord {
  at: number;
  requestedVersion: string;
  servedVersion: string | undefined;
}

export interface ConfigFailures {
  /** The next N GetConnectorConfig calls answer UNAVAILABLE. */
  unavailable: number;
  /** The next N answers carry bytes that are not an age file. */
  undecryptable: number;
  /** Every call waits this long. */
  slowMs: number;
}

export interface ConfigServiceOptions {
  /** false: answers without config_version, like a server without versions (the runtime labels by last_updated). */
  stampVersion: boolean;
}

export interface ConfigStore {
  versions: Map<string, ConfigVersion>;
  latest: string | undefined;
  /** Serve this version whatever is requested (a platform still serving an older record). */
  pinned: string | undefined;
  requests: ConfigRequestRecord[];
  fail: ConfigFailures;
  options: ConfigServiceOptions;
}

export function newConfigStore(options: ConfigServiceOptions): ConfigStore {
  return { versions: new Map(), latest: undefined, pinned: undefined, requests: [], fail: { unavailable: 0, undecryptable: 0, slowMs: 0 }, options };
}

export function setConfig(store: ConfigStore, config: object, version: string, policy?: PolicyInit): void {
  if (!version) throw new Error("setConfig: a version is required (config_version is the config record's handle)");
  if (config === null || typeof config !== "object" || Array.isArray(config)) throw new Error("setConfig: config must be a JSON object");
  store.versions.set(version, { version, config: structuredClone(config), policy, lastUpdated: new Date() });
  store.latest = version;
}

const MODES = { enforce: EgressMode.ENFORCE, report: EgressMode.REPORT, unspecified: EgressMode.UNSPECIFIED } as const;

export function policyEnvelope(policy: PolicyInit, servedVersion: string): ServedPolicyEnvelope {
  return create(ServedPolicyEnvelopeSchema, {
    envelopeVersion: policy.envelopeVersion ?? 1,
    connectorRevisionId: policy.connectorRevisionId ?? "rev-test",
    revisionRootDigest: "sha256:test",
    configVersion: policy.configVersion ?? servedVersion,
    egress: policy.omitEgress
      ? undefined
      : {
          schemaVersion: policy.schemaVersion ?? 1,
          recordedEgressDerivationDigest: "sha256:test",
          httpsOnly: policy.httpsOnly ?? false,
          allowedHosts: policy.allowedHosts,
          mode: MODES[policy.mode ?? "enforce"],
        },
  });
}

export function configServiceImpl(store: ConfigStore) {
  return {
    async getConnectorConfig(req: GetConnectorConfigRequest, ctx: CallContext) {
      const record: ConfigRequestRecord = { at: Date.now(), requestedVersion: req.requestedVersion, servedVersion: undefined };
      store.requests.push(record);
      if (store.fail.slowMs) await new Promise((r) => setTimeout(r, store.fail.slowMs));
      if (store.fail.unavailable > 0) {
        store.fail.unavailable--;
        throw new ConnectorError(Code.UNAVAILABLE, "config service unavailable (on purpose)");
      }
      const caller = callerOf.get(ctx);
      if (!caller) throw new ConnectorError(Code.UNAUTHENTICATED, "no verified caller");
      const chosen =
        (store.pinned && store.versions.get(store.pinned)) ||
        (req.requestedVersion && store.versions.get(req.requestedVersion)) ||
        (store.latest ? store.versions.get(store.latest) : undefined);
      if (!chosen) throw new ConnectorError(Code.NOT_FOUND, "no config has been set for this connector (setConfig)");
      record.servedVersion = chosen.version;
      const plaintext = Buffer.from(JSON.stringify(chosen.config));
      let config: Buffer;
      if (store.fail.undecryptable > 0) {
        store.fail.undecryptable--;
        config = Buffer.from("not an age file");
      } else {
        config = ageEncryptToEd25519(plaintext, Buffer.from(caller.jwk.x as string, "base64url"));
      }
      return create(GetConnectorConfigResponseSchema, {
        config,
        lastUpdated: timestampFromDate(chosen.lastUpdated),
        configVersion: store.options.stampVersion ? chosen.version : undefined,
        servedPolicyEnvelope: chosen.policy ? policyEnvelope(chosen.policy, chosen.version) : undefined,
      });
    },
    async getConnectorOauthToken() {
      throw new ConnectorError(Code.UNIMPLEMENTED, "the test platform serves no OAuth tokens (the Datadog connector has no OAuth2 field)");
    },
  };
}
