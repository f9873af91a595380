/**
 * The author API of credential issuance (CredentialManagerService.IssueCredential, PROTOCOL-2 §5.1): hand an
 * identity (a service account, an app) a fresh credential — an API key, a key pair, a token, a client secret —
 * encrypted for the requester. A syncer of the identity's type declares `credentialIssuer`; what it can issue is
 * advertised in the type's `credential_issue` capability details.
 *
 * The SDK does the contract's work on both sides of `issue` (see credential-issue.ts): before — the type has an
 * issuer, encryption configs, request id, option/scopes/audiences/profile/expiry advertised; after — the secret
 * resource, its SecretTrait, the plaintext values; then it encrypts each plaintext per config (as rotation does)
 * and drops it. An issuer returns plaintext only and must not keep or log it.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import type {
  CapabilityDetailCredentialOption,
  CredentialIssueOptionDescriptorSchema,
} from "../gen/c1/connector/v2/connector_pb.js";
import type {
  CredentialIssueOptions,
  CredentialResourceMode,
  PlaintextDataSchema,
  Resource,
  ResourceId,
} from "../gen/c1/connector/v2/resource_pb.js";
import type { CallContext } from "./types.ts";

/**
 * One issuable option, a c1.connector.v2.CredentialIssueOptionDescriptor init: `option` (API_KEY, KEYPAIR, TOKEN,
 * CLIENT_SECRET), `resourceMode` (DISCOVERABLE: the secret appears in later syncs; VIRTUAL: never enumerable),
 * `secretResourceTypeId` (a type of this connector whose syncer can delete), and per option `scopes`,
 * `customScopesAllowed`, `audiences`, `customAudiencesAllowed`, `keyProfiles`, `expiry{min,max}`. No `expiry`
 * means requests with `expires_at` are refused: advertise it only if the credential really stops working then.
 */
export type CredentialIssueOption = MessageInitShape<typeof CredentialIssueOptionDescriptorSchema>;

export interface IssueCredentialInput {
  /** The identity the credential is for; its type is the syncer's type. */
  identityId: ResourceId;
  /** The requested option, already checked against what this issuer advertises. */
  options: CredentialIssueOptions;
  /** The caller's idempotency key (1–128 chars of [A-Za-z0-9_-]); in service mode the task id. */
  requestId: string;
  /** When the credential must stop working, if requested (within the advertised expiry bounds). */
  expiresAt?: Date;
}

export interface IssuedCredential {
  /**
   * The new secret as a resource of the advertised `secretResourceTypeId`, with a full id and a SecretTrait
   * whose `identityId` is the request's identity (and `expiresAt` ≤ the requested one, when one was requested).
   */
  secret: Resource;
  /** ≥ 1 named values (`{ name, bytes }`), names unique, bytes non-empty. Encrypted by the SDK, then wiped. */
  plaintext: MessageInitShape<typeof PlaintextDataSchema>[];
  /** Defaults to the advertised mode; when given it must equal it. */
  resourceMode?: CredentialResourceMode;
  annotations?: Any[];
}

export interface CredentialIssuer {
  /** What can be issued for this identity type; one entry per option, options unique. */
  readonly options: readonly CredentialIssueOption[];
  /** Must be one of `options`' `option`. */
  readonly preferredOption: CapabilityDetailCredentialOption;
  issue(ctx: CallContext, input: IssueCredentialInput): Promise<IssuedCredential>;
}
