/**
 * Egress policy: which hosts the HTTP layer may send a request to. The hosted runtime turns the platform's
 * served-policy envelope into one of these; every HttpClient checks it before a request is built, so a request
 * to a host the policy does not allow fails before a connection is opened or a byte is sent.
 * The Go SDK only hands the policy to the connector; this SDK enforces it in the one place all requests pass.
 */
import { isIP } from "node:net";
import { Code, ConnectorError } from "../connector/errors.ts";
import type { Interceptor } from "./pipeline.ts";

export interface EgressPolicy {
  readonly mode: "allow-all" | "deny-all" | "rules";
  /** true when a request to scheme://host:port may be sent */
  allows(url: URL): boolean;
  /** one line for errors: what the policy allows */
  describe(): string;
}

export const ALLOW_ALL: EgressPolicy = Object.freeze({
  mode: "allow-all" as const,
  allows: () => true,
  describe: () => "every host (no egress policy)",
});

export const DENY_ALL: EgressPolicy = Object.freeze({
  mode: "deny-all" as const,
  allows: () => false,
  describe: () => "no host at all (deny-all egress policy)",
});

/** Bounds on a rules policy: it comes from the platform, which is a peer like any other. */
export const MAX_EGRESS_RULES = 1024;
const MAX_HOST_CHARS = 253;

interface HostRule {
  /** Lower-case host without a trailing dot; for a wildcard, the suffix after "*." */
  host: string;
  wildcard: boolean;
  /** undefined = any port */
  port: number | undefined;
}

/** Lower case, one trailing dot removed, IPv6 brackets stripped: the form both rules and URLs are compared in. */
export function canonicalHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  if (h.endsWith(".")) h = h.slice(0, -1);
  return h;
}

function notAHost(raw: string): TypeError {
  return new TypeError(`egress rule "${raw.slice(0, 80)}" is not a host name: use "api.example.com", "*.example.com" or "host:443"`);
}

function parseRule(entry: string): HostRule {
  if (typeof entry !== "string") throw new TypeError("egress rule must be a string");
  const raw = entry.trim();
  if (/[/\s@?#]/.test(raw)) throw notAHost(raw);
  let hostPart = raw;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(raw);
  if (bracketed) {
    hostPart = bracketed[1];
    port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
  } else {
    const colon = raw.lastIndexOf(":");
    if (colon !== -1 && raw.indexOf(":") === colon) {
      const p = raw.slice(colon + 1);
      if (!/^\d{1,5}$/.test(p)) throw new TypeError(`egress rule "${raw.slice(0, 80)}": the port after ":" must be a number`);
      hostPart = raw.slice(0, colon);
      port = Number(p);
    }
  }
  if (port !== undefined && (port < 1 || port > 65535)) throw new TypeError(`egress rule "${raw.slice(0, 80)}": port ${port} is out of range`);
  const wildcard = hostPart.startsWith("*.");
  const host = canonicalHost(wildcard ? hostPart.slice(2) : hostPart);
  if (host === "" || host.length > MAX_HOST_CHARS || host.includes("*")) throw notAHost(raw);
  if (wildcard && isIP(host) !== 0) throw new TypeError(`egress rule "${raw.slice(0, 80)}": a wildcard needs a domain name, not an IP address`);
  return { host, wildcard, port };
}

function defaultPort(url: URL): number | undefined {
  if (url.port !== "") return Number(url.port);
  if (url.protocol === "https:") return 443;
  if (url.protocol === "http:") return 80;
  return undefined;
}

function ruleText(rule: HostRule): string {
  const host = rule.wildcard ? `*.${rule.host}` : rule.host.includes(":") ? `[${rule.host}]` : rule.host;
  return rule.port === undefined ? host : `${host}:${rule.port}`;
}

/**
 * A policy that allows the listed hosts: an exact name (any port), "*.suffix" (names below suffix, not the
 * suffix itself), either with ":port" to allow that port only. `httpsOnly` refuses plain http.
 * An empty list allows nothing. Throws TypeError naming the first entry that is not a host.
 */
export function egressPolicy(rules: { hosts: string[]; httpsOnly?: boolean }): EgressPolicy {
  if (rules.hosts.length > MAX_EGRESS_RULES) throw new TypeError(`egress policy has ${rules.hosts.length} host rules; at most ${MAX_EGRESS_RULES}`);
  const parsed = rules.hosts.map(parseRule);
  const httpsOnly = rules.httpsOnly === true;
  const listed = parsed.length === 0 ? "no host" : parsed.map(ruleText).join(", ");
  const text = `${listed}${httpsOnly ? " (https only)" : ""}`;
  return Object.freeze({
    mode: "rules" as const,
    allows(url: URL): boolean {
      if (url.protocol !== "https:" && (httpsOnly || url.protocol !== "http:")) return false;
      const host = canonicalHost(url.hostname);
      const port = defaultPort(url);
      return parsed.some((r) => {
        if (r.port !== undefined && r.port !== port) return false;
        return r.wildcard ? host.endsWith(`.${r.host}`) : host === r.host;
      });
    },
    describe: () => text,
  });
}

/** The refusal: names the host, the policy and where the policy comes from. Not retryable. */
export class EgressDeniedError extends ConnectorError {
  readonly host: string;
  constructor(url: URL, policy: EgressPolicy, operation?: string) {
    const target = `${url.protocol}//${url.host}`;
    super(
      Code.PERMISSION_DENIED,
      `${operation ? `${operation}: ` : ""}egress to ${target} is not allowed by the egress policy, which allows ${policy.describe()}; ` +
        "nothing was sent. The hosted platform serves this policy with the connector's config: add the host there (or fix the base URL)",
    );
    this.name = "EgressDeniedError";
    this.host = url.host;
  }
}

/** Throws EgressDeniedError unless `policy` allows `url`. */
export function checkEgress(policy: EgressPolicy, url: URL, operation?: string): void {
  if (!policy.allows(url)) throw new EgressDeniedError(url, policy, operation);
}

/**
 * The HTTP pipeline piece: composed first, so a refused request gets no credentials, no rate-limit slot and no
 * connection. It throws (instead of returning an Outcome) so the retry piece does not retry it.
 */
export function egressInterceptor(policy: EgressPolicy, baseUrl: URL): Interceptor {
  // The transport dials baseUrl's origin whatever the path says, so that origin is what the policy must allow.
  return (next) => async (ex) => {
    checkEgress(policy, baseUrl, ex.req.operation);
    return next(ex);
  };
}
