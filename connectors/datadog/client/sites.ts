/**
 * Datadog sites and the API base URL. A site is named (US1, EU1, ...) or given as its domain (datadoghq.eu);
 * the API lives at https://api.<domain>. `--base-url` replaces it for private endpoints and proxies: https only,
 * except plain http on loopback (tests, the simulator, a local forwarding proxy).
 */

export interface DatadogSite {
  /** The name people use: "US1", "EU1", ... */
  name: string;
  /** The site domain: "datadoghq.com", "datadoghq.eu", ... */
  domain: string;
}

export const DATADOG_SITES: readonly DatadogSite[] = [
  { name: "US1", domain: "datadoghq.com" },
  { name: "US3", domain: "us3.datadoghq.com" },
  { name: "US5", domain: "us5.datadoghq.com" },
  { name: "EU1", domain: "datadoghq.eu" },
  { name: "AP1", domain: "ap1.datadoghq.com" },
  { name: "AP2", domain: "ap2.datadoghq.com" },
  { name: "US1-FED", domain: "ddog-gov.com" },
];

export const DEFAULT_SITE = "US1";

/** Thrown for a bad --site or --base-url; the message says what is accepted. */
export class SiteConfigError extends Error {
  readonly field: "site" | "base-url";
  constructor(field: "site" | "base-url", message: string) {
    super(message);
    this.name = "SiteConfigError";
    this.field = field;
  }
}

export function validSitesText(): string {
  return DATADOG_SITES.map((s) => `${s.name} (${s.domain})`).join(", ");
}

/** Resolves a site name ("eu1") or domain ("datadoghq.eu", "app.datadoghq.eu", "api.datadoghq.eu") to a known site. */
export function resolveSite(input: string | undefined): DatadogSite {
  const raw = (input ?? "").trim();
  if (raw === "") return DATADOG_SITES[0];
  const upper = raw.toUpperCase();
  const byName = DATADOG_SITES.find((s) => s.name === upper || s.name.replace("-", "") === upper.replace(/[-_]/g, ""));
  if (byName) return byName;
  let domain = raw.toLowerCase().replace(/^https?:\/\//, "").replace(/\/.*$/, "").replace(/\.$/, "");
  domain = domain.replace(/^(api|app)\./, "");
  const byDomain = DATADOG_SITES.find((s) => s.domain === domain);
  if (byDomain) return byDomain;
  throw new SiteConfigError("site", `unknown Datadog site "${raw}"; valid sites: ${validSitesText()}`);
}

/**
 * The web app's URL of a site, for links to users, teams, …: app.<domain> for the sites without a region prefix
 * (app.datadoghq.com, app.datadoghq.eu, app.ddog-gov.com), the domain itself for the others (us3.datadoghq.com).
 */
export function siteAppUrl(site: DatadogSite): string {
  return site.domain.split(".").length > 2 ? `https://${site.domain}` : `https://app.${site.domain}`;
}

/** The API base URL of a site, e.g. https://api.datadoghq.eu */
export function siteApiBaseUrl(site: DatadogSite): string {
  return `https://api.${site.domain}`;
}

/** True for 127.0.0.0/8, ::1 (and its IPv4-mapped forms) and localhost. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase().replace(/\.$/, "");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice(7) : h;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v4);
  if (m && m.slice(1).every((o) => Number(o) <= 255)) return Number(m[1]) === 127;
  // IPv4-mapped in hex form, as the URL parser normalises it: ::ffff:7f00:1
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h);
  if (hex) return Number.parseInt(hex[1], 16) >> 8 === 127;
  return false;
}

/**
 * Checks a --base-url: absolute http(s) URL, no credentials, no query or fragment; https unless the host is
 * loopback. Returns the normalised URL (no trailing slash).
 */
export function validateBaseUrl(input: string): string {
  const raw = input.trim();
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SiteConfigError("base-url", `base URL "${raw}" is not an absolute URL (expected e.g. https://api.datadoghq.com)`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new SiteConfigError("base-url", `base URL must use https (got ${url.protocol.replace(/:$/, "")})`);
  }
  if (url.username || url.password) {
    throw new SiteConfigError("base-url", "base URL must not contain user:password credentials; use the API and application key settings");
  }
  if (url.search || url.hash) {
    throw new SiteConfigError("base-url", "base URL must not contain a query string or fragment");
  }
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
    throw new SiteConfigError(
      "base-url",
      `base URL ${url.protocol}//${url.host} uses plain http, which is only allowed for loopback hosts (127.0.0.1, ::1, localhost); use https`,
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

export interface ApiEndpoint {
  baseUrl: string;
  /** The site it belongs to (undefined when --base-url overrides the host). */
  site: DatadogSite | undefined;
}

/** The API base URL from --site and --base-url (the latter wins). */
export function resolveApiEndpoint(options: { site?: string; baseUrl?: string }): ApiEndpoint {
  if (options.baseUrl !== undefined && options.baseUrl.trim() !== "") {
    return { baseUrl: validateBaseUrl(options.baseUrl), site: options.site ? resolveSite(options.site) : undefined };
  }
  const site = resolveSite(options.site);
  return { baseUrl: siteApiBaseUrl(site), site };
}

/** For zod refinements: undefined when valid, else the message. */
export function siteProblem(input: string): string | undefined {
  try {
    resolveSite(input);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export function baseUrlProblem(input: string): string | undefined {
  try {
    validateBaseUrl(input);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
