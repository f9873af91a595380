/**
 * `check -p`: whether the credentials may make each change provisioning makes, without making one. Datadog has
 * no "what may I do" call, and a write cannot be tried safely, so the permissions are read instead:
 *
 * 1. GET /api/v2/current_user/application_keys: the caller's own keys name their owner (the user or service
 *    account acting), and the key in use (found by its last 4 characters) its scopes, if it is scoped;
 * 2. GET /api/v2/users/{owner}/permissions: what the owner's roles grant.
 *
 * The permissions held are the roles' (narrowed to the key's scopes when it has some). Each operation needs what
 * the spec's x-permission says for every request it sends (OPERATIONS), plus, for team membership, what the spec's
 * permission list says ("To control Team membership across all Teams, use the User Access Manage permission").
 */
import { HttpError, HttpErrorCode } from "../../../src/api-client.ts";
import { APP_KEY_HEADER } from "./credentials.ts";
import type { DatadogClient } from "./datadog-client.ts";
import { OPERATIONS, type OperationId } from "./operations.ts";

export interface WriteNeed {
  /** Stable name, e.g. "write:role". */
  name: string;
  /** What provisioning does with it, in words. */
  what: string;
  operations: readonly OperationId[];
  /** Beyond the operations' own x-permission: one of each inner list. */
  alsoNeeds?: readonly (readonly string[])[];
  /** When the need is met another way the API cannot show. */
  note?: string;
}

/** What provisioning changes, per resource type enabled. */
export function writeNeeds(options: { syncSecrets?: boolean }): WriteNeed[] {
  const needs: WriteNeed[] = [
    { name: "write:role", what: "grant and revoke role membership", operations: ["AddUserToRole", "RemoveUserFromRole"] },
    {
      name: "write:team",
      what: "grant and revoke team membership and team admin",
      operations: ["CreateTeamMembership", "UpdateTeamMembership", "DeleteTeamMembership"],
      alsoNeeds: [["user_access_manage"]],
      note: "an admin of a team may also change that team's members",
    },
    { name: "write:create-account", what: "create accounts (a user and its invitation)", operations: ["CreateUser", "SendInvitations"] },
    { name: "write:delete-user", what: "delete (disable) users", operations: ["DisableUser"] },
    { name: "write:user-state", what: "disable and re-enable users (actions disable_user, enable_user)", operations: ["DisableUser", "UpdateUser"] },
    { name: "write:resend-invitation", what: "send an invitation again (action resend_invitation)", operations: ["SendInvitations"] },
  ];
  if (options.syncSecrets) {
    needs.push(
      { name: "write:api-key", what: "delete API keys", operations: ["DeleteAPIKey"] },
      { name: "write:application-key", what: "delete application keys", operations: ["DeleteApplicationKey"] },
      {
        name: "write:rotate",
        what: "rotate service accounts' application keys",
        operations: ["ListServiceAccountApplicationKeys", "CreateServiceAccountApplicationKey", "DeleteServiceAccountApplicationKey"],
      },
      {
        name: "write:issue-credential",
        what: "issue scoped application keys for service accounts (issue_credential)",
        operations: ["ListServiceAccountApplicationKeys", "CreateServiceAccountApplicationKey"],
      },
    );
  }
  return needs;
}

/** Each inner list: one of these permissions is needed. Deduplicated, in the operations' order. */
export function requiredPermissions(need: WriteNeed): string[][] {
  const groups = [...need.operations.map((op) => [...OPERATIONS[op].permissions]), ...(need.alsoNeeds ?? []).map((g) => [...g])];
  const seen = new Set<string>();
  return groups.filter((g) => g.length > 0 && !seen.has(g.join("|")) && seen.add(g.join("|")));
}

export type HeldPermissions =
  | { known: true; owner: string; roles: ReadonlySet<string>; scopes: readonly string[] | null; scopesKnown: boolean }
  | { known: false; reason: string };

/** A bounded, defensive read of the fields used (answers are not trusted to have any shape). */
function keysOf(body: unknown): { last4?: string; scopes?: unknown; owner?: string }[] {
  const data = (body as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return [];
  return data.slice(0, 1000).map((entry) => {
    const e = entry as { attributes?: { last4?: unknown; scopes?: unknown }; relationships?: { owned_by?: { data?: { id?: unknown } } } } | null;
    const owner = e?.relationships?.owned_by?.data?.id;
    const last4 = e?.attributes?.last4;
    return { last4: typeof last4 === "string" ? last4 : undefined, scopes: e?.attributes?.scopes, owner: typeof owner === "string" ? owner : undefined };
  });
}

function refusal(err: unknown, operation: OperationId): string {
  const info = OPERATIONS[operation];
  if (err instanceof HttpError && err.code === HttpErrorCode.HTTP_STATUS) {
    return `${info.method} ${info.path} answered ${err.status}${err.status === 403 ? ` (it needs ${info.permissions.join(" or ")})` : ""}`;
  }
  return `${info.method} ${info.path} failed: ${err instanceof Error ? err.message : String(err)}`;
}

export async function heldPermissions(client: DatadogClient, signal?: AbortSignal): Promise<HeldPermissions> {
  const headers = await client.credentials.headers(signal);
  const appKey = Object.entries(headers).find(([k]) => k.toLowerCase() === APP_KEY_HEADER.toLowerCase())?.[1];
  let keys;
  try {
    const res = await client.http.request({
      method: "GET",
      path: OPERATIONS.ListCurrentUserApplicationKeys.path,
      query: { "page[size]": 100, "page[number]": 0 },
      operation: "ListCurrentUserApplicationKeys",
      signal,
    });
    keys = keysOf(res.body);
  } catch (err) {
    return { known: false, reason: refusal(err, "ListCurrentUserApplicationKeys") };
  }
  // The key in use, when its last 4 characters single it out among its owner's keys.
  const matching = appKey && appKey.length >= 4 ? keys.filter((k) => k.last4 === appKey.slice(-4)) : [];
  const inUse = matching.length === 1 ? matching[0] : undefined;
  const owner = inUse?.owner ?? keys.find((k) => k.owner)?.owner;
  if (!owner) return { known: false, reason: "the caller has no application key to tell its user from" };
  let roles: Set<string>;
  try {
    const res = await client.http.request({
      method: "GET",
      path: OPERATIONS.ListUserPermissions.path.replace("{user_id}", encodeURIComponent(owner)),
      operation: "ListUserPermissions",
      signal,
    });
    const data = (res.body as { data?: unknown } | null)?.data;
    roles = new Set(
      (Array.isArray(data) ? data.slice(0, 10_000) : [])
        .map((p) => (p as { attributes?: { name?: unknown } } | null)?.attributes?.name)
        .filter((n): n is string => typeof n === "string"),
    );
  } catch (err) {
    return { known: false, reason: refusal(err, "ListUserPermissions") };
  }
  const scopes = Array.isArray(inUse?.scopes) ? inUse.scopes.filter((s): s is string => typeof s === "string") : null;
  return { known: true, owner, roles, scopes, scopesKnown: inUse !== undefined };
}

export interface WriteCheck {
  name: string;
  ok: boolean;
  skipped?: boolean;
  message: string;
  /** The permissions missing (one of each inner list would do). */
  missing?: string[][];
}

const paths = (need: WriteNeed) =>
  [...new Set(need.operations.map((op) => `${OPERATIONS[op].method} ${OPERATIONS[op].path}`))].join(", ");

/** One verdict per need, naming every missing permission and whether the roles or the key's scopes lack it. */
export function checkWrites(needs: readonly WriteNeed[], held: HeldPermissions): WriteCheck[] {
  if (!held.known) {
    const all = [...new Set(needs.flatMap((n) => requiredPermissions(n).map((g) => g.join(" or "))))].join(", ");
    return [
      {
        name: "write",
        ok: true,
        skipped: true,
        message: `Write permissions not tested: ${held.reason}. Provisioning needs ${all}.`,
      },
    ];
  }
  const has = (p: string) => held.roles.has(p) && (held.scopes === null || held.scopes.includes(p));
  return needs.map((need) => {
    const groups = requiredPermissions(need);
    const missing = groups.filter((g) => !g.some(has));
    if (missing.length === 0) {
      return { name: need.name, ok: true, message: `Can ${need.what} (${groups.map((g) => g.join(" or ")).join(", ")}).` };
    }
    const why = missing.map((g) => {
      const inRoles = g.some((p) => held.roles.has(p));
      return `${g.join(" or ")} (${inRoles ? "the key's scopes leave it out" : "no role of the key's owner grants it"})`;
    });
    return {
      name: need.name,
      ok: false,
      missing,
      message:
        `Missing permission ${why.join(", ")}: needed to ${need.what} (${paths(need)})${need.note ? `; ${need.note}` : ""}. ` +
        "Grant it to a role of the application key's owner, or add it to the key's scopes.",
    };
  });
}
