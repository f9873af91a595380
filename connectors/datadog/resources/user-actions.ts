/**
 * Everyday account operations on a Datadog `user` as actions (ActionService, resource-scoped on `user`):
 *
 *   disable_user        ACCOUNT_DISABLE  DisableUser (DELETE /api/v2/users/{id}, Datadog's soft delete)
 *   enable_user         ACCOUNT_ENABLE   UpdateUser (PATCH /api/v2/users/{id}, disabled: false)
 *   resend_invitation   ACCOUNT          SendInvitations (POST /api/v2/user_invitations), pending users only
 *
 * Each reads the user first, so that asking for the state a user already has succeeds without a write
 * (`changed: false`): Datadog itself answers 404 when an already-disabled user is disabled again. They change
 * Datadog, so, like grants, they run only with --provisioning (the SDK refuses them otherwise).
 */
import { Code, ConnectorError } from "../../../src/index.ts";
import type { ActionDefinition, ActionField, ActionOutcome, CallContext } from "../../../src/index.ts";
import { ActionType, type ResourceId } from "../../../src/messages.ts";
import type { DatadogClient } from "../client/datadog-client.ts";
import { isValidId } from "../client/ids.ts";
import type { User } from "../client/schemas.ts";
import { setUserDisabled } from "../client/user-state.ts";
import { call, datadogError, isHttpStatus } from "./errors.ts";

const USER_TYPE = "user";

const userArgument: ActionField = {
  name: "user",
  displayName: "User",
  description: "The Datadog user (resource type user)",
  isRequired: true,
  field: { case: "resourceIdField", value: { rules: { allowedResourceTypeIds: [USER_TYPE] } } },
};

const returns: ActionField[] = [
  { name: "success", displayName: "Success", field: { case: "boolField", value: {} } },
  { name: "changed", displayName: "Changed", description: "False when the user already was in the asked-for state", field: { case: "boolField", value: {} } },
  { name: "status", displayName: "Status", description: "The user's Datadog status afterwards: Active, Pending or Disabled", field: { case: "stringField", value: {} } },
];

/** The Datadog user id an invocation names, checked before any request. */
function userIdOf(resourceId: ResourceId | undefined): string {
  if (!resourceId?.resource) throw new ConnectorError(Code.INVALID_ARGUMENT, "the \"user\" argument (a resource id of type user) is required");
  if (resourceId.resourceType !== USER_TYPE) {
    throw new ConnectorError(Code.INVALID_ARGUMENT, `${resourceId.resourceType}:${resourceId.resource} is not a user; pass a resource id of type user`);
  }
  const userId: string = resourceId.resource;
  if (!isValidId("user", userId)) {
    throw new ConnectorError(Code.INVALID_ARGUMENT, `"${resourceId.resource.slice(0, 64)}" is not a Datadog user id (a UUID)`);
  }
  return userId;
}

const missing = (userId: string) => `Datadog user "${userId}" does not exist (resource user:${userId})`;

async function readUser(client: DatadogClient, ctx: CallContext, userId: string): Promise<User> {
  return call(client, () => client.getUser(userId, ctx.signal), { notFound: missing(userId) });
}

function statusOf(user: User): string {
  if (user.attributes.disabled) return "Disabled";
  return user.attributes.status ?? "Active";
}

function done(user: User, changed: boolean, extra: Record<string, string> = {}): ActionOutcome {
  return { status: "complete", response: { success: true, changed, status: statusOf(user), ...extra } };
}

export function userActions(client: DatadogClient): ActionDefinition[] {
  const disable: ActionDefinition = {
    name: "disable_user",
    displayName: "Disable user",
    description: "Disables a Datadog user (Datadog keeps the account, its roles and teams; the user can no longer log in)",
    actionTypes: [ActionType.ACCOUNT_DISABLE],
    arguments: [userArgument],
    returnTypes: returns,
    requiresProvisioning: true,
    async invoke(ctx, _args, resourceId) {
      const userId = userIdOf(resourceId);
      const before = await readUser(client, ctx, userId);
      if (before.attributes.disabled) return done(before, false);
      let changed = true;
      try {
        await client.disableUser(userId, ctx.signal);
      } catch (err) {
        // Datadog answers 404 for a user disabled meanwhile: read again to tell that from a user deleted meanwhile.
        if (!isHttpStatus(err, 404)) throw datadogError(err, client);
        changed = false;
      }
      const after = await readUser(client, ctx, userId);
      if (!after.attributes.disabled) throw new ConnectorError(Code.UNKNOWN, `Datadog accepted the request but user ${userId} is still ${statusOf(after)}`);
      return done(after, changed);
    },
  };

  const enable: ActionDefinition = {
    name: "enable_user",
    displayName: "Enable user",
    description: "Re-enables a disabled Datadog user (Active again, or Pending if the user never accepted the invitation)",
    actionTypes: [ActionType.ACCOUNT_ENABLE],
    arguments: [userArgument],
    returnTypes: returns,
    requiresProvisioning: true,
    async invoke(ctx, _args, resourceId) {
      const userId = userIdOf(resourceId);
      const before = await readUser(client, ctx, userId);
      if (!before.attributes.disabled) return done(before, false);
      const after = await call(client, () => setUserDisabled(client, userId, false, ctx.signal), { notFound: missing(userId) });
      return done(after, true);
    },
  };

  const resend: ActionDefinition = {
    name: "resend_invitation",
    displayName: "Resend invitation",
    description: "Sends a pending Datadog user a new invitation email (the old link stops working, the new one is valid for 48 hours)",
    actionTypes: [ActionType.ACCOUNT],
    arguments: [userArgument],
    returnTypes: [
      returns[0],
      { name: "invitation_id", displayName: "Invitation id", field: { case: "stringField", value: {} } },
      { name: "expires_at", displayName: "Expires at", field: { case: "stringField", value: {} } },
    ],
    requiresProvisioning: true,
    async invoke(ctx, _args, resourceId) {
      const userId = userIdOf(resourceId);
      const user = await readUser(client, ctx, userId);
      const a = user.attributes;
      if (a.service_account) {
        throw new ConnectorError(Code.FAILED_PRECONDITION, `user ${userId} is a service account; service accounts are never invited`);
      }
      if (a.disabled || (a.status ?? "").toLowerCase() !== "pending") {
        throw new ConnectorError(
          Code.FAILED_PRECONDITION,
          `user ${userId} is ${statusOf(user)}, not Pending; only a user who has not accepted an invitation yet can be sent one again` +
            (a.disabled ? " (enable the user first with enable_user)" : ""),
        );
      }
      const [invitation] = await call(client, () => client.sendInvitations([userId], ctx.signal), { notFound: missing(userId) });
      return {
        status: "complete",
        response: {
          success: true,
          invitation_id: invitation?.id ?? "",
          expires_at: invitation?.attributes?.expires_at ?? "",
        },
      };
    },
  };

  return [disable, enable, resend];
}
