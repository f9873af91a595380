/**
 * Where a delegated-auth proof may be sent. A proof is a replayable, signed STS request: whoever receives it can
 * learn our AWS identity and, within its date window, exchange it themselves. So it goes only to Datadog's own
 * API hosts, or to the base URL the operator named explicitly with --base-url.
 */
import { DATADOG_SITES } from "../client/sites.ts";

/** Site domains; the API host of each is api.<domain>. */
const SITE_DOMAINS: readonly string[] = DATADOG_SITES.map((s) => s.domain);

export class ProofDestinationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProofDestinationError";
  }
}

/**
 * Returns the normalized base URL (no trailing slash) when `apiBaseUrl` may receive the proof, else throws.
 * @param explicitBaseUrl the operator's --base-url, if any: it is trusted as given (this is how tests and
 *   private endpoints work), but only that exact origin and path prefix.
 */
export function assertProofDestination(apiBaseUrl: string, explicitBaseUrl?: string): string {
  let url: URL;
  try {
    url = new URL(apiBaseUrl);
  } catch {
    throw new ProofDestinationError(`delegated auth: the API base URL ${JSON.stringify(apiBaseUrl)} is not a valid URL`);
  }
  const normalized = stripTrailingSlash(url);
  if (explicitBaseUrl !== undefined && explicitBaseUrl !== "") {
    let explicit: URL;
    try {
      explicit = new URL(explicitBaseUrl);
    } catch {
      throw new ProofDestinationError(`--base-url ${JSON.stringify(explicitBaseUrl)} is not a valid URL`);
    }
    if (stripTrailingSlash(explicit) === normalized) return normalized;
  }
  const isDatadogHost =
    url.protocol === "https:" &&
    url.port === "" &&
    url.username === "" &&
    url.password === "" &&
    (url.pathname === "/" || url.pathname === "") &&
    SITE_DOMAINS.some((domain) => url.hostname === `api.${domain}`);
  if (!isDatadogHost) {
    throw new ProofDestinationError(
      `delegated auth: refusing to send the AWS identity proof to ${url.origin}: it only goes to Datadog's API hosts ` +
        `(https://api.<site> for ${SITE_DOMAINS.join(", ")}) or to the URL given explicitly with --base-url`,
    );
  }
  return normalized;
}

function stripTrailingSlash(url: URL): string {
  const path = url.pathname.replace(/\/+$/, "");
  return `${url.protocol}//${url.host}${path}`;
}
