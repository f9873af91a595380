/**
 * Routes: a path template per operation, the rate-limit family it counts against, the permissions it needs
 * (any one of them, as the spec's `x-permission` OR lists say) and its handler.
 */
import type { IncomingHttpHeaders } from "node:http";
import { actorOf } from "./audit-log.ts";
import type { Principal } from "./auth.ts";
import type { Org } from "./model.ts";

/** How a route authenticates: both Datadog keys (or a bearer token), the API key alone, or not at all. */
export type AuthMode = "keys" | "api-key" | "none";

export interface RouteContext {
  readonly method: string;
  /** The request URL resolved against the simulator's base URL. */
  readonly url: URL;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: Buffer;
  readonly org: Org;
  readonly baseUrl: string;
  /** Who is calling; null on routes with auth "none". */
  readonly principal: Principal | null;
}

export interface RouteResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type RouteHandler = (ctx: RouteContext) => RouteResult | Promise<RouteResult>;

export interface RouteOptions {
  /** Named rate limit (X-RateLimit-Name); none means the route is not rate limited. */
  rateLimit?: string;
  /** Any one of these permissions lets the call through (checked against scoped keys and tokens). */
  permissions?: readonly string[];
  /** Default "keys". */
  auth?: AuthMode;
  /** The route pages with page[number]/page[size] (the repeat-page and duplicate faults apply to it). */
  paged?: boolean;
  /** The handler's errors are JSON:API error objects (status, title, detail), as team and on-call answer; else strings. */
  errorObjects?: boolean;
}

export interface RouteDef extends RouteOptions {
  method: string;
  template: string;
  handler: RouteHandler;
}

interface CompiledRoute {
  def: RouteDef;
  segments: readonly string[];
}

export interface RouteMatch {
  def: RouteDef;
  params: Record<string, string>;
}

const PARAM = /^\{([A-Za-z0-9_]+)\}$/;

export class Router {
  #routes: CompiledRoute[] = [];

  add(def: RouteDef): void {
    if (!def.template.startsWith("/")) throw new Error(`route template must start with "/": ${def.template}`);
    // The org's Audit Trail records the writes a handler makes under the request's principal, and, as Datadog's
    // Request events do, each use of an org application key (reads of the Audit Trail itself left out, so that
    // reading it with such a key does not add to it).
    const audited = !def.template.startsWith("/api/v2/audit/");
    const handler: RouteHandler = (ctx) => {
      const keyId = ctx.principal?.appKeyId;
      if (audited && keyId && ctx.org.appKeys.has(keyId)) ctx.org.recordKeyUse(keyId, ctx.url.pathname, ctx.method);
      return ctx.org.audit.actingAs(actorOf(ctx.principal, (id) => ctx.org.users.get(id)), () => def.handler(ctx));
    };
    const compiled = { def: { ...def, method: def.method.toUpperCase(), handler }, segments: def.template.split("/") };
    // Routes added later (plug-ins) win over built-in ones with the same shape.
    this.#routes.unshift(compiled);
  }

  /** Every route, plug-ins first, without handlers. */
  list(): Omit<RouteDef, "handler">[] {
    return this.#routes.map(({ def: { handler: _handler, ...rest } }) => rest);
  }

  match(method: string, pathname: string): RouteMatch | null {
    const parts = pathname.split("/");
    for (const route of this.#routes) {
      if (route.def.method !== method || route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length; i++) {
        const seg = route.segments[i];
        const param = PARAM.exec(seg);
        if (param) {
          if (parts[i] === "") {
            ok = false;
            break;
          }
          try {
            params[param[1]] = decodeURIComponent(parts[i]);
          } catch {
            ok = false;
            break;
          }
        } else if (seg !== parts[i]) {
          ok = false;
          break;
        }
      }
      if (ok) return { def: route.def, params };
    }
    return null;
  }
}
