/**
 * Auth piece: puts the credential headers on each attempt and, when the server answers 401 and the credential
 * source says it refreshed, sends once more with the fresh ones (once per request, so a wrong key fails fast).
 */
import type { HttpMetrics } from "./metrics.ts";
import type { Interceptor } from "./pipeline.ts";
import type { HttpAuth } from "./client.ts";

const NONE: Record<string, string> = Object.freeze({}) as Record<string, string>;
const NO_SECRETS: string[] = [];

export function authInterceptor(auth: HttpAuth | undefined, metrics: HttpMetrics): Interceptor {
  const names = new Set((auth?.secretHeaderNames ?? []).map((n) => n.toLowerCase()));
  names.add("authorization");
  const secretValues = (headers: Record<string, string>): string[] => {
    const out: string[] = [];
    for (const [k, v] of Object.entries(headers)) {
      if (!names.has(k.toLowerCase())) continue;
      out.push(v);
      // "Bearer <token>": the token alone must not leak either.
      const space = v.indexOf(" ");
      if (space > 0) out.push(v.slice(space + 1));
    }
    return out;
  };
  return (next) => async (ex) => {
    if (ex.req.anonymous || !auth) {
      ex.authHeaders = NONE;
      ex.secrets = NO_SECRETS;
      return next(ex);
    }
    for (;;) {
      ex.authHeaders = await auth.headers(ex.req.signal);
      ex.secrets = secretValues(ex.authHeaders);
      const outcome = await next(ex);
      if (outcome.kind === "response" && outcome.status === 401 && !ex.accept(401) && !ex.refreshedAuth && auth.onUnauthorized) {
        ex.refreshedAuth = true;
        if (await auth.onUnauthorized(ex.authHeaders, ex.req.signal)) {
          metrics.retries++;
          continue;
        }
      }
      return outcome;
    }
  };
}
