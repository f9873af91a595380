/** Baton's one-shot provisioning flags (PROTOCOL.md §4) turned into one operation for the connector's handler. */
import type { SdkConfig } from "../config/sdk-fields.ts";
import { UsageError } from "./errors.ts";
import type { ProvisioningOperation } from "./spec.ts";

/** The provisioning operation the SDK flags ask for, if any. More than one is a usage error. */
export function provisioningOperation(sdk: SdkConfig): ProvisioningOperation | undefined {
  const ops: ProvisioningOperation[] = [];
  if (sdk.grantEntitlement) {
    ops.push({ kind: "grant", entitlementId: sdk.grantEntitlement, principalId: sdk.grantPrincipal!, principalType: sdk.grantPrincipalType! });
  }
  if (sdk.revokeGrant) ops.push({ kind: "revoke", grantId: sdk.revokeGrant });
  if (sdk.createAccountEmail || sdk.createAccountLogin) {
    const profile = sdk.createAccountProfile ? (JSON.parse(sdk.createAccountProfile) as Record<string, unknown>) : {};
    ops.push({ kind: "createAccount", login: sdk.createAccountLogin, email: sdk.createAccountEmail, profile });
  } else if (sdk.createAccountProfile) {
    throw new UsageError("--create-account-profile needs --create-account-email or --create-account-login");
  }
  if (sdk.deleteResource) ops.push({ kind: "deleteResource", resourceId: sdk.deleteResource, resourceType: sdk.deleteResourceType! });
  if (sdk.rotateCredentials) {
    ops.push({
      kind: "rotateCredentials",
      resourceId: sdk.rotateCredentials,
      resourceType: sdk.rotateCredentialsType!,
      printPlaintext: sdk.rotateCredentialsPrintPlaintext,
    });
  }
  if (ops.length > 1) throw new UsageError(`one provisioning operation at a time (got ${ops.map((o) => o.kind).join(", ")})`);
  return ops[0];
}
