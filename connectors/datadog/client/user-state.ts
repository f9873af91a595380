/**
 * Re-enabling a user: UpdateUser (PATCH /api/v2/users/{user_id}) with `disabled: false`. Disabling goes through
 * DisableUser (DatadogClient.disableUser), the call Datadog documents for it; reading a user and sending an
 * invitation are DatadogClient's getUser and sendInvitations.
 */
import type { DatadogClient } from "./datadog-client.ts";
import { checkId, id, path } from "./ids.ts";
import type { OperationInfo } from "./operations.ts";
import { parseResponse } from "./parse.ts";
import { UserResponseSchema, type User } from "./schemas.ts";

export const USER_STATE_OPERATIONS = {
  UpdateUser: {
    id: "UpdateUser",
    method: "PATCH",
    path: "/api/v2/users/{user_id}",
    permissions: ["user_access_manage", "service_account_write"],
    purpose: "re-enable users",
  },
} as const satisfies Record<string, OperationInfo>;

/** Sets `disabled` on a user and answers the user as Datadog now has it. Setting the same value twice is harmless, so it is retried. */
export async function setUserDisabled(client: DatadogClient, userId: string, disabled: boolean, signal?: AbortSignal): Promise<User> {
  const info = USER_STATE_OPERATIONS.UpdateUser;
  const res = await client.sendOperation(info, {
    path: path`/api/v2/users/${id.user(userId)}`,
    body: { data: { type: "users", id: checkId("user", userId), attributes: { disabled } } },
    retryable: true,
    signal,
  });
  return parseResponse(info.id, UserResponseSchema, res.body).data;
}
