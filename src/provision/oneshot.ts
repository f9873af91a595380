/**
 * One-shot provisioning from the CLI, as Baton connectors do it: entitlements, principals and grants are looked
 * up in the c1z given by --file (its newest finished full sync), then the connector is called once. Each operation
 * returns a one-line human summary plus a structured result for `-o json`-style output.
 */
import { create, toJson, type JsonObject } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import type { JWK } from "jose";
import {
  CredentialOptionsSchema,
  CredentialOptions_NoPasswordSchema,
  EncryptedDataSchema,
  EncryptionConfigSchema,
  EncryptionConfig_JWKPublicKeyConfigSchema,
  ResourceIdSchema,
  type EncryptionConfig,
} from "../gen/c1/connector/v2/resource_pb.js";
import { GrantAlreadyExistsSchema, GrantAlreadyRevokedSchema } from "../gen/c1/connector/v2/annotation_grant_pb.js";
import { hasAnnotation } from "../connector/annotations.ts";
import { Code, ConnectorError } from "../connector/errors.ts";
import { JWK_PROVIDER } from "../connector/encryption.ts";
import type { ConnectorRpc } from "../connector/rpc.ts";
import { defaultViewRun } from "../store/runs.ts";
import { SyncStore } from "../store/store.ts";
import { grant as grantOf } from "../connector/builders.ts";
import type { Grant } from "../gen/c1/connector/v2/grant_pb.js";

export type OneShotOperation =
  | { kind: "grant"; entitlementId: string; principalId: string; principalType: string }
  | { kind: "revoke"; grantId: string }
  | { kind: "create-account"; email: string; login?: string; profile?: JsonObject }
  | { kind: "delete-resource"; resourceId: string; resourceType: string }
  | {
      kind: "rotate-credentials";
      resourceId: string;
      resourceType: string;
      /** Encrypt for this public JWK; without it an ephemeral key pair is made for this run only. */
      recipientPublicJwk?: JWK;
      /** Decrypt with the ephemeral key and return the plaintext (the CLI allows this on a TTY only). */
      printPlaintext?: boolean;
    };

export interface OneShotResult {
  summary: string;
  result: unknown;
  /** Only for rotate-credentials with printPlaintext: the new secret. Callers print it and drop it. */
  plaintext?: string;
}

export interface OneShotOptions {
  rpc: ConnectorRpc;
  /** The c1z with the last sync (needed by grant and revoke). */
  file: string;
  logger: Logger;
  signal?: AbortSignal;
}

async function withLastSync<T>(file: string, fn: (store: SyncStore, syncId: string) => T): Promise<T> {
  let store: SyncStore;
  try {
    store = await SyncStore.openReadOnly(file);
  } catch (err) {
    throw new ConnectorError(Code.FAILED_PRECONDITION, `cannot read ${file}: ${(err as Error).message} (run a sync first, or point --file at one)`);
  }
  try {
    // The run readers show (the newest finished full run): a later partial run holds only what it targeted.
    const run = defaultViewRun(store.syncRuns());
    if (!run) throw new ConnectorError(Code.FAILED_PRECONDITION, `${file} has no sync run; run a sync first`);
    return fn(store, run.syncId);
  } finally {
    store.close();
  }
}

/**
 * The grant `<entitlement id>:<principal type>:<principal id>` (the SDK's and Go's grant id form) built from an
 * entitlement and a principal found in the sync. Ids may hold ":" themselves, so every split is tried; only
 * one whose both halves exist in the sync is used.
 */
function grantFromParts(store: SyncStore, syncId: string, grantId: string): Grant | undefined {
  for (let end = grantId.indexOf(":"); end !== -1; end = grantId.indexOf(":", end + 1)) {
    const entitlement = store.getEntitlement(syncId, grantId.slice(0, end));
    if (!entitlement) continue;
    const rest = grantId.slice(end + 1);
    const cut = rest.indexOf(":");
    if (cut <= 0 || cut === rest.length - 1) continue;
    const principal = store.getResource(syncId, rest.slice(0, cut), rest.slice(cut + 1));
    if (principal) return grantOf(entitlement, principal);
  }
  return undefined;
}

function notFound(what: string, file: string): ConnectorError {
  return new ConnectorError(Code.NOT_FOUND, `${what} is not in ${file} (run a sync first, or check the id)`);
}

export async function runOneShot(op: OneShotOperation, opts: OneShotOptions): Promise<OneShotResult> {
  const rpcOpts = { signal: opts.signal };
  switch (op.kind) {
    case "grant": {
      const { entitlement, principal } = await withLastSync(opts.file, (store, syncId) => {
        const entitlement = store.getEntitlement(syncId, op.entitlementId);
        if (!entitlement) throw notFound(`entitlement "${op.entitlementId}"`, opts.file);
        const principal = store.getResource(syncId, op.principalType, op.principalId);
        if (!principal) throw notFound(`principal ${op.principalType} "${op.principalId}"`, opts.file);
        return { entitlement, principal };
      });
      const res = await opts.rpc.grant({ entitlement, principal }, rpcOpts);
      const already = hasAnnotation(res.annotations, GrantAlreadyExistsSchema);
      const who = `${op.principalType}:${op.principalId}`;
      return {
        summary: already ? `${who} already has ${op.entitlementId}; nothing to do` : `granted ${op.entitlementId} to ${who}`,
        result: { alreadyExists: already, grants: res.grants.map((g) => g.id) },
      };
    }
    case "revoke": {
      const grant = await withLastSync(opts.file, (store, syncId) => {
        const row = store.getGrant(syncId, op.grantId);
        if (row) return row.grant;
        // A grant made after the sync (e.g. by a one-shot grant just before) is not in it; its id names its
        // entitlement and principal, and those are. The connector answers GrantAlreadyRevoked if it is absent.
        const parts = grantFromParts(store, syncId, op.grantId);
        if (!parts) throw notFound(`grant "${op.grantId}" (nor its entitlement and principal)`, opts.file);
        opts.logger.info({ grantId: op.grantId }, "the grant is not in the last sync; revoking it by its entitlement and principal");
        return parts;
      });
      const res = await opts.rpc.revoke({ grant }, rpcOpts);
      const already = hasAnnotation(res.annotations, GrantAlreadyRevokedSchema);
      return {
        summary: already ? `grant ${op.grantId} was already revoked; nothing to do` : `revoked grant ${op.grantId}`,
        result: { alreadyRevoked: already },
      };
    }
    case "create-account": {
      const res = await opts.rpc.createAccount(
        {
          accountInfo: {
            emails: [{ address: op.email, isPrimary: true }],
            login: op.login ?? op.email,
            profile: op.profile ?? {},
          },
          credentialOptions: create(CredentialOptionsSchema, {
            options: { case: "noPassword", value: create(CredentialOptions_NoPasswordSchema) },
          }),
        },
        rpcOpts,
      );
      const r = res.result;
      const id = r.value?.resource?.id;
      const ref = id ? `${id.resourceType}:${id.resource}` : "(unknown id)";
      const summary =
        r.case === "success"
          ? `created account ${ref} for ${op.email}` +
            (r.value.invitationExpiresAt ? `; invitation expires ${new Date(Number(r.value.invitationExpiresAt.seconds) * 1000).toISOString()}` : "")
          : r.case === "alreadyExists"
            ? `an account for ${op.email} already exists: ${ref}`
            : r.case === "actionRequired"
              ? `account ${ref} needs action: ${r.value.message}`
              : `account ${ref} is being created`;
      return { summary, result: { outcome: r.case, resourceId: id ? { resourceType: id.resourceType, resource: id.resource } : undefined } };
    }
    case "delete-resource": {
      const res = await opts.rpc.deleteResourceV2({ resourceId: create(ResourceIdSchema, { resourceType: op.resourceType, resource: op.resourceId }) }, rpcOpts);
      // A connector answers GrantAlreadyRevoked when the resource was already gone (a repeated delete).
      const gone = hasAnnotation(res.annotations, GrantAlreadyRevokedSchema);
      const ref = `${op.resourceType}:${op.resourceId}`;
      return { summary: gone ? `${ref} was already gone; nothing to do` : `deleted ${ref}`, result: { deleted: true, alreadyGone: gone } };
    }
    case "rotate-credentials": {
      // jose loads for rotation only (issue 14: a sync or a grant never loads it).
      const { exportJWK, generateKeyPair, compactDecrypt } = await import("jose");
      let recipient = op.recipientPublicJwk;
      let privateKey: CryptoKey | undefined;
      if (!recipient) {
        const pair = await generateKeyPair("ECDH-ES+A256KW", { crv: "X25519", extractable: true });
        recipient = await exportJWK(pair.publicKey);
        privateKey = pair.privateKey;
      }
      const config: EncryptionConfig = create(EncryptionConfigSchema, {
        provider: JWK_PROVIDER,
        config: {
          case: "jwkPublicKeyConfig",
          value: create(EncryptionConfig_JWKPublicKeyConfigSchema, { pubKey: new TextEncoder().encode(JSON.stringify(recipient)) }),
        },
      });
      const res = await opts.rpc.rotateCredential(
        { resourceId: create(ResourceIdSchema, { resourceType: op.resourceType, resource: op.resourceId }), encryptionConfigs: [config] },
        rpcOpts,
      );
      const encrypted = res.encryptedData.map((d) => toJson(EncryptedDataSchema, d));
      let plaintext: string | undefined;
      if (op.printPlaintext) {
        if (!privateKey) throw new ConnectorError(Code.INVALID_ARGUMENT, "plaintext can only be shown when the CLI made the key pair itself (no recipient key given)");
        const jwe = new TextDecoder().decode(res.encryptedData[0]?.encryptedBytes ?? new Uint8Array());
        plaintext = new TextDecoder().decode((await compactDecrypt(jwe, privateKey)).plaintext);
      }
      return {
        summary: `rotated the credential of ${op.resourceType}:${op.resourceId}; the new secret is ${plaintext ? "shown below" : "encrypted in the output"}`,
        result: { encryptedData: encrypted },
        plaintext,
      };
    }
  }
}
