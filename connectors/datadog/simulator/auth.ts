/**
 * Who may call: Datadog's two key headers (DD-API-KEY + DD-APPLICATION-KEY), or `Authorization: Bearer` with a
 * token registered by a plug-in (the delegated-token route). Application keys and tokens may be scoped; a call
 * needing a permission outside the scopes is refused with 403.
 *
 * Like Datadog, a bad API key and a bad application key both answer 403 {"errors":["Forbidden"]} on v2 routes;
 * the way to tell them apart is GET /api/v1/validate, which checks the API key alone.
 */
import type { IncomingHttpHeaders } from "node:http";
import { ApiError } from "./errors.ts";
import type { AuthMode } from "./router.ts";

export interface Principal {
  readonly kind: "keys" | "bearer" | "api-key";
  /** The user or service account acting, when known. */
  readonly userId: string | null;
  /** Null: unrestricted. Otherwise the permission names the key or token may use. */
  readonly scopes: readonly string[] | null;
  /** The org application key used, when it is one the org lists (not the simulator's own key). */
  readonly appKeyId: string | null;
}

export interface AppKeyGrant {
  readonly appKeyId: string | null;
  readonly ownerId: string | null;
  scopes: readonly string[] | null;
}

export interface BearerGrant {
  /** Epoch milliseconds (or a Date) after which the token answers 401. */
  expiresAt: number | Date;
  userId: string;
  /** Null or absent: unrestricted. */
  scopes?: readonly string[] | null;
}

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

export class Credentials {
  readonly #apiKeys = new Set<string>();
  readonly #appKeys = new Map<string, AppKeyGrant>();
  readonly #bearer = new Map<string, { expiresAt: number; userId: string; scopes: readonly string[] | null }>();

  addApiKey(key: string): void {
    this.#apiKeys.add(key);
  }

  addAppKey(secret: string, grant: AppKeyGrant): void {
    this.#appKeys.set(secret, grant);
  }

  /** Makes an application key unusable (it was deleted or rotated away). */
  revokeAppKeyId(appKeyId: string): void {
    for (const [secret, grant] of this.#appKeys) if (grant.appKeyId === appKeyId) this.#appKeys.delete(secret);
  }

  setAppKeyScopes(secret: string, scopes: readonly string[] | null): void {
    const grant = this.#appKeys.get(secret);
    if (!grant) throw new Error("unknown application key");
    grant.scopes = scopes === null ? null : [...scopes];
  }

  registerBearerToken(token: string, grant: BearerGrant): void {
    if (!token) throw new Error("bearer token must not be empty");
    const expiresAt = grant.expiresAt instanceof Date ? grant.expiresAt.getTime() : grant.expiresAt;
    if (!Number.isFinite(expiresAt)) throw new Error("bearer token expiresAt must be a date or epoch milliseconds");
    this.#bearer.set(token, { expiresAt, userId: grant.userId, scopes: grant.scopes ?? null });
  }

  revokeBearerToken(token: string): void {
    this.#bearer.delete(token);
  }

  isValidApiKey(key: string | undefined): boolean {
    return key !== undefined && this.#apiKeys.has(key);
  }

  /** The caller, or an ApiError with Datadog's status and body. */
  authenticate(headers: IncomingHttpHeaders, mode: AuthMode, now = Date.now()): Principal | null {
    if (mode === "none") return null;
    const apiKey = header(headers, "dd-api-key");
    if (mode === "api-key") {
      if (!this.isValidApiKey(apiKey)) throw new ApiError(403, "Forbidden");
      return { kind: "api-key", userId: null, scopes: null, appKeyId: null };
    }
    const authorization = header(headers, "authorization");
    if (apiKey === undefined && authorization !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!match) throw new ApiError(401, "Unauthorized");
      const grant = this.#bearer.get(match[1]);
      if (!grant) throw new ApiError(401, "Unauthorized");
      if (now >= grant.expiresAt) throw new ApiError(401, "Unauthorized", "Token expired");
      return { kind: "bearer", userId: grant.userId, scopes: grant.scopes, appKeyId: null };
    }
    if (!this.isValidApiKey(apiKey)) throw new ApiError(403, "Forbidden");
    const appKey = header(headers, "dd-application-key");
    const grant = appKey === undefined ? undefined : this.#appKeys.get(appKey);
    if (!grant) throw new ApiError(403, "Forbidden");
    return { kind: "keys", userId: grant.ownerId, scopes: grant.scopes, appKeyId: grant.appKeyId };
  }
}

/** Throws 403 unless the principal may use one of `permissions`. */
export function checkPermission(principal: Principal | null, permissions: readonly string[] | undefined): void {
  if (!principal || !permissions || permissions.length === 0 || principal.scopes === null) return;
  if (permissions.some((p) => principal.scopes!.includes(p))) return;
  throw new ApiError(
    403,
    "Forbidden",
    `Failed permission authorization checks: missing permission ${permissions.join(" or ")}`,
  );
}
