/**
 * IssueCredential behind every transport (PROTOCOL-2 §5.1, §8): the declaration checks run when capabilities
 * are derived, the request checks before the issuer runs (INVALID_ARGUMENT / UNIMPLEMENTED), the output checks
 * after it (INTERNAL), then each plaintext is encrypted per config and wiped. Nothing here logs a request's or
 * a response's secret material.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, type Duration } from "@bufbuild/protobuf/wkt";
import {
  CapabilityDetailCredentialOption,
  CredentialDetailsCredentialIssueSchema,
  CredentialIssueOptionDescriptorSchema,
  type CredentialDetailsCredentialIssue,
  type CredentialIssueOptionDescriptor,
} from "../gen/c1/connector/v2/connector_pb.js";
import {
  CredentialResourceMode,
  EncryptionConfigSchema,
  IssueCredentialRequestSchema,
  IssueCredentialResponseSchema,
  PlaintextDataSchema,
  type CredentialIssueOptions,
  type IssueCredentialRequest,
  type IssueCredentialResponse,
  type KeyGenerationProfile,
  type ResourceId,
} from "../gen/c1/connector/v2/resource_pb.js";
import { SecretTraitSchema } from "../gen/c1/connector/v2/annotation_trait_pb.js";
import { findAnnotation } from "./annotations.ts";
import { encryptAll, encryptPlaintext } from "./encryption.ts";
import { Code, ConnectorError } from "./errors.ts";
import { checkResourceId } from "./limits.ts";
import type { CallContext, Connector, ResourceSyncer } from "./types.ts";

/** More recipients than this is not a real request. */
export const MAX_ENCRYPTION_CONFIGS = 16;
const MAX_SCOPES = 256;
const REQUEST_ID = /^[A-Za-z0-9_-]{1,128}$/;

const invalid = (message: string) => new ConnectorError(Code.INVALID_ARGUMENT, message);
const broken = (message: string) => new ConnectorError(Code.INTERNAL, `the credential issuer's answer was refused: ${message}`);
const durationMs = (d: Duration) => Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6);
const optionName = (o: CapabilityDetailCredentialOption) => CapabilityDetailCredentialOption[o] ?? String(o);

/** The request's oneof case as the option it asks for. */
export function requestedOption(options: CredentialIssueOptions | undefined): CapabilityDetailCredentialOption {
  switch (options?.options.case) {
    case "apiKey":
      return CapabilityDetailCredentialOption.API_KEY;
    case "keypair":
      return CapabilityDetailCredentialOption.KEYPAIR;
    case "token":
      return CapabilityDetailCredentialOption.TOKEN;
    case "clientSecret":
      return CapabilityDetailCredentialOption.CLIENT_SECRET;
    default:
      return CapabilityDetailCredentialOption.UNSPECIFIED;
  }
}

// ── Declaration (§8): checked whenever capabilities are derived, so a misdeclared issuer fails GetMetadata ──

const RSA_MIN = 2048;
const RSA_MAX = 16384;
const EC_CURVES = new Set(["P-256", "P-384", "P-521"]);
const OKP_CURVES = new Set(["Ed25519", "Ed448", "X25519", "X448"]);

/** A key profile is well formed per §5.1; returns what is wrong, or undefined. */
export function keyProfileProblem(p: KeyGenerationProfile): string | undefined {
  if (p.kty === "RSA") {
    const bits = p.parameters.case === "rsaModulusBits" ? p.parameters.value : 0;
    if (bits < RSA_MIN || bits > RSA_MAX || bits % 256 !== 0) return `RSA modulus must be ${RSA_MIN}–${RSA_MAX} bits in steps of 256, got ${bits}`;
    return undefined;
  }
  const crv = p.parameters.case === "crv" ? p.parameters.value : "";
  if (p.kty === "EC") return EC_CURVES.has(crv) ? undefined : `EC curve must be one of ${[...EC_CURVES].join(", ")}, got "${crv.slice(0, 32)}"`;
  if (p.kty === "OKP") return OKP_CURVES.has(crv) ? undefined : `OKP curve must be one of ${[...OKP_CURVES].join(", ")}, got "${crv.slice(0, 32)}"`;
  return `key type must be RSA, EC or OKP, got "${p.kty.slice(0, 32)}"`;
}

const sameProfile = (a: KeyGenerationProfile, b: KeyGenerationProfile) =>
  a.kty === b.kty && a.parameters.case === b.parameters.case && a.parameters.value === b.parameters.value;

function checkDescriptor(d: CredentialIssueOptionDescriptor, typeId: string, syncers: Map<string, ResourceSyncer>): void {
  const where = `credential issuer of resource type "${typeId}", option ${optionName(d.option)}`;
  if (d.option === CapabilityDetailCredentialOption.UNSPECIFIED) throw new Error(`credential issuer of resource type "${typeId}": an option has no option set`);
  if (d.resourceMode === CredentialResourceMode.UNSPECIFIED) throw new Error(`${where}: resourceMode must be DISCOVERABLE or VIRTUAL`);
  if (!d.secretResourceTypeId) throw new Error(`${where}: secretResourceTypeId is required`);
  const secretSyncer = syncers.get(d.secretResourceTypeId);
  if (!secretSyncer?.deleter) {
    throw new Error(`${where}: secretResourceTypeId "${d.secretResourceTypeId}" must be a resource type of this connector whose syncer can delete (an issued secret must be revocable)`);
  }
  const hasScopes = d.scopes.length > 0 || d.customScopesAllowed;
  const hasAudiences = d.audiences.length > 0 || d.customAudiencesAllowed;
  const hasProfiles = d.keyProfiles.length > 0;
  switch (d.option) {
    case CapabilityDetailCredentialOption.API_KEY:
      if (hasAudiences || hasProfiles) throw new Error(`${where}: an API key takes scopes and expiry only`);
      break;
    case CapabilityDetailCredentialOption.KEYPAIR:
      if (!hasProfiles) throw new Error(`${where}: a key pair needs at least one key profile`);
      if (hasScopes || hasAudiences) throw new Error(`${where}: a key pair takes no scopes or audiences`);
      for (const p of d.keyProfiles) {
        const problem = keyProfileProblem(p);
        if (problem) throw new Error(`${where}: ${problem}`);
      }
      break;
    case CapabilityDetailCredentialOption.TOKEN:
      if (hasProfiles) throw new Error(`${where}: a token takes no key profiles`);
      break;
    case CapabilityDetailCredentialOption.CLIENT_SECRET:
      if (hasScopes || hasAudiences || hasProfiles) throw new Error(`${where}: a client secret takes expiry only`);
      break;
    default:
      throw new Error(`${where}: only API_KEY, KEYPAIR, TOKEN and CLIENT_SECRET can be issued`);
  }
  if (d.expiry) {
    const min = d.expiry.min ? durationMs(d.expiry.min) : undefined;
    const max = d.expiry.max ? durationMs(d.expiry.max) : undefined;
    if ((min !== undefined && min <= 0) || (max !== undefined && max <= 0)) throw new Error(`${where}: expiry durations must be positive`);
    if (min !== undefined && max !== undefined && min > max) throw new Error(`${where}: expiry min is longer than max`);
  }
}

/** The `credential_issue` details of one type, checked; undefined when the type issues nothing. */
export function credentialIssueDetails(syncer: ResourceSyncer, syncers: Map<string, ResourceSyncer>): CredentialDetailsCredentialIssue | undefined {
  const issuer = syncer.credentialIssuer;
  if (!issuer) return undefined;
  const typeId = syncer.resourceType.id;
  const options = issuer.options.map((o) => create(CredentialIssueOptionDescriptorSchema, o));
  if (options.length === 0) throw new Error(`credential issuer of resource type "${typeId}": it advertises no options`);
  const seen = new Set<CapabilityDetailCredentialOption>();
  for (const d of options) {
    if (seen.has(d.option)) throw new Error(`credential issuer of resource type "${typeId}": option ${optionName(d.option)} is listed twice`);
    seen.add(d.option);
    checkDescriptor(d, typeId, syncers);
  }
  if (!seen.has(issuer.preferredOption)) {
    throw new Error(`credential issuer of resource type "${typeId}": preferredOption ${optionName(issuer.preferredOption)} is not among its options`);
  }
  return create(CredentialDetailsCredentialIssueSchema, { options, preferredOption: issuer.preferredOption });
}

// ── Request and answer (§5.1) ──

function checkStrings(kind: string, values: readonly string[], advertised: readonly string[], customAllowed: boolean): void {
  if (values.length > MAX_SCOPES) throw invalid(`${values.length} ${kind} requested; the limit is ${MAX_SCOPES}`);
  const seen = new Set<string>();
  for (const v of values) {
    if (!v) throw invalid(`an empty ${kind.slice(0, -1)} was requested`);
    if (seen.has(v)) throw invalid(`${kind.slice(0, -1)} "${v.slice(0, 64)}" is requested twice`);
    seen.add(v);
    if (!customAllowed && !advertised.includes(v)) {
      throw invalid(`${kind.slice(0, -1)} "${v.slice(0, 64)}" is not offered (offered: ${advertised.join(", ") || "none"})`);
    }
  }
}

function checkRequest(request: IssueCredentialRequest, descriptor: CredentialIssueOptionDescriptor, now: Date): Date | undefined {
  const o = request.credentialOptions!.options;
  if (o.case === "apiKey") checkStrings("scopes", o.value.scopes, descriptor.scopes, descriptor.customScopesAllowed);
  if (o.case === "token") {
    checkStrings("scopes", o.value.scopes, descriptor.scopes, descriptor.customScopesAllowed);
    checkStrings("audiences", o.value.audiences, descriptor.audiences, descriptor.customAudiencesAllowed);
  }
  if (o.case === "keypair") {
    const profile = o.value.profile;
    if (!profile) throw invalid("keypair.profile is required (offered key profiles are in the type's credential_issue capability)");
    const problem = keyProfileProblem(profile);
    if (problem) throw invalid(`keypair.profile: ${problem}`);
    if (!descriptor.keyProfiles.some((p) => sameProfile(p, profile))) throw invalid("keypair.profile is not one of the offered key profiles");
  }
  if (!request.expiresAt) return undefined;
  const expiresAt = timestampDate(request.expiresAt);
  if (!descriptor.expiry) throw invalid(`expires_at cannot be honoured: option ${optionName(descriptor.option)} advertises no expiry; leave expires_at unset`);
  const inMs = expiresAt.getTime() - now.getTime();
  if (inMs <= 0) throw invalid(`expires_at ${expiresAt.toISOString()} is not in the future`);
  const min = descriptor.expiry.min ? durationMs(descriptor.expiry.min) : undefined;
  const max = descriptor.expiry.max ? durationMs(descriptor.expiry.max) : undefined;
  if (min !== undefined && inMs < min) throw invalid(`expires_at is sooner than the shortest lifetime offered (${min / 1000} s)`);
  if (max !== undefined && inMs > max) throw invalid(`expires_at is later than the longest lifetime offered (${max / 1000} s)`);
  return expiresAt;
}

const sameId = (a: ResourceId | undefined, b: ResourceId) => a?.resourceType === b.resourceType && a?.resource === b.resource;

export interface IssueDeps {
  /** The connector service's routing (its errors for unknown or switched-off types). */
  syncerFor(resourceTypeId: string): ResourceSyncer;
  /** Every syncer by type id: an advertised secret type must be one that can delete. */
  syncers: Map<string, ResourceSyncer>;
  ctx: CallContext;
  now?: Date;
}

export async function issueCredential(init: MessageInitShape<typeof IssueCredentialRequestSchema>, deps: IssueDeps): Promise<IssueCredentialResponse> {
  const request = create(IssueCredentialRequestSchema, init);
  const identityId = checkResourceId("identity_id", request.identityId);
  const syncer = deps.syncerFor(identityId.resourceType);
  const issuer = syncer.credentialIssuer;
  if (!issuer) throw new ConnectorError(Code.UNIMPLEMENTED, `resource type "${identityId.resourceType}" does not issue credentials`);
  if (request.encryptionConfigs.length === 0) throw invalid("encryption_configs is required: an issued credential is never returned in plaintext");
  if (request.encryptionConfigs.length > MAX_ENCRYPTION_CONFIGS) throw invalid(`${request.encryptionConfigs.length} encryption configs; the limit is ${MAX_ENCRYPTION_CONFIGS}`);
  // A config we cannot encrypt to must fail before anything is issued: try each on nothing.
  for (const config of request.encryptionConfigs) await encryptPlaintext(create(EncryptionConfigSchema, config), create(PlaintextDataSchema, { bytes: new Uint8Array(0) }));
  if (!REQUEST_ID.test(request.requestId)) throw invalid("request_id must be 1–128 characters of A-Z, a-z, 0-9, _ and -");
  const option = requestedOption(request.credentialOptions);
  if (option === CapabilityDetailCredentialOption.UNSPECIFIED) throw invalid("credential_options must set one of api_key, keypair, token, client_secret");
  const descriptor = credentialIssueDetails(syncer, deps.syncers)!.options.find((d) => d.option === option);
  if (!descriptor) {
    throw invalid(`resource type "${identityId.resourceType}" does not issue ${optionName(option)} (offered: ${issuer.options.map((o) => optionName(o.option ?? 0)).join(", ")})`);
  }
  const expiresAt = checkRequest(request, descriptor, deps.now ?? new Date());

  const issued = await issuer.issue(deps.ctx, { identityId, options: request.credentialOptions!, requestId: request.requestId, expiresAt });
  const plaintext = (issued?.plaintext ?? []).map((p) => create(PlaintextDataSchema, p));
  try {
    const secret = issued?.secret;
    if (!secret?.id?.resourceType || !secret.id.resource) throw broken("the secret resource has no full id");
    if (secret.id.resourceType !== descriptor.secretResourceTypeId) throw broken(`the secret is of type "${secret.id.resourceType}", not the advertised "${descriptor.secretResourceTypeId}"`);
    const trait = findAnnotation(secret.annotations, SecretTraitSchema);
    if (!trait) throw broken("the secret resource carries no SecretTrait");
    if (!sameId(trait.identityId, identityId)) throw broken("the SecretTrait's identity_id is not the identity the credential was requested for");
    if (expiresAt) {
      if (!trait.expiresAt) throw broken("expires_at was requested but the SecretTrait has no expires_at");
      if (timestampDate(trait.expiresAt).getTime() > expiresAt.getTime()) throw broken("the SecretTrait's expires_at is later than the requested one");
    }
    const mode = issued.resourceMode ?? descriptor.resourceMode;
    if (mode === CredentialResourceMode.UNSPECIFIED || mode !== descriptor.resourceMode) {
      throw broken(`resource mode ${CredentialResourceMode[mode]} is not the advertised ${CredentialResourceMode[descriptor.resourceMode]}`);
    }
    if (plaintext.length === 0) throw broken("it returned no credential value");
    const names = new Set<string>();
    for (const p of plaintext) {
      if (!p.name) throw broken("a credential value has no name");
      if (names.has(p.name)) throw broken(`credential value "${p.name.slice(0, 64)}" appears twice`);
      names.add(p.name);
      if (p.bytes.length === 0) throw broken(`credential value "${p.name.slice(0, 64)}" is empty`);
    }
    const encryptedData = await encryptAll(request.encryptionConfigs, plaintext);
    return create(IssueCredentialResponseSchema, {
      secret,
      encryptedData,
      annotations: issued.annotations ?? [],
      resourceMode: mode,
      requestId: request.requestId,
    });
  } finally {
    for (const p of plaintext) p.bytes.fill(0);
    for (const p of issued?.plaintext ?? []) p.bytes?.fill(0);
  }
}

/** Syncers by resource type id (what the declaration checks look secret types up in). */
export function issuerSyncers(connector: Connector): Map<string, ResourceSyncer> {
  return new Map(connector.syncers.map((s) => [s.resourceType.id, s]));
}
