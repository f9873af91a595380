/**
 * The served-policy envelope of a GetConnectorConfig answer → the EgressPolicy the HTTP layer enforces
 * (HOSTED-LAMBDA.md §3.5). The envelope's rules are the Go runtime's, in its order; where Go hands the policy to
 * the connector to enforce or not, this SDK enforces it: ENFORCE becomes the allow-list, REPORT/UNSPECIFIED
 * observe (everything allowed, the list logged), and any malformed envelope is deny-all.
 */
import { isIP } from "node:net";
import { ALLOW_ALL, DENY_ALL, egressPolicy, type EgressPolicy } from "../http/egress.ts";
import { EgressMode, type ServedPolicyEnvelope } from "../gen/c1/connectorapi/baton/v1/servedpolicy_pb.js";

export interface ServedEgress {
  policy: EgressPolicy;
  /** Why the policy is what it is, for the generation's log line. */
  reason: string;
  /** Problems worth a warning (unknown mode, dropped entries); never more than a few lines. */
  warnings: string[];
}

const MAX_WARNED_ENTRIES = 5;
const MAX_LOGGED_HOSTS = 20;

/** A log line names a bounded number of hosts: the list comes from a peer. */
function listed(hosts: string[]): string {
  const shown = hosts.slice(0, MAX_LOGGED_HOSTS).join(", ");
  return hosts.length > MAX_LOGGED_HOSTS ? `${shown} and ${hosts.length - MAX_LOGGED_HOSTS} more` : shown;
}

/** Go's validity test of one allowed_hosts entry; the canonical host when valid. */
function validHost(entry: string): string | undefined {
  let host = entry;
  let hadPort = false;
  const m = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(entry);
  if (m) {
    host = m[1]!;
    hadPort = true;
  }
  let canonical = host.toLowerCase();
  if (canonical.endsWith(".")) canonical = canonical.slice(0, -1);
  const unbracketed = canonical.startsWith("[") && canonical.endsWith("]") ? canonical.slice(1, -1) : canonical;
  if (canonical === "" || canonical.includes("*") || hadPort || canonical.includes("/") || isIP(unbracketed) !== 0) return undefined;
  return canonical;
}

/**
 * `envelope` undefined (the answer had none) → no policy; otherwise the rules of §3.5. `configVersion` is the
 * answer's config_version (undefined when absent).
 */
export function egressFromEnvelope(envelope: ServedPolicyEnvelope | undefined, configVersion: string | undefined): ServedEgress {
  if (!envelope) return { policy: ALLOW_ALL, reason: "the platform sent no served-policy envelope", warnings: [] };
  const deny = (why: string): ServedEgress => ({ policy: DENY_ALL, reason: `deny-all: ${why}`, warnings: [] });
  if (envelope.envelopeVersion !== 1) return deny(`served-policy envelope_version is ${envelope.envelopeVersion}, not 1`);
  if (!envelope.configVersion || envelope.configVersion !== configVersion) {
    return deny(`the envelope's config_version ${JSON.stringify(envelope.configVersion.slice(0, 64))} does not match the config's ${JSON.stringify((configVersion ?? "").slice(0, 64))}`);
  }
  const egress = envelope.egress;
  if (!egress) return deny("the envelope has no egress section");
  if (egress.schemaVersion !== 1) return deny(`the egress section's schema_version is ${egress.schemaVersion}, not 1`);
  const warnings: string[] = [];
  const enforce = egress.mode === EgressMode.ENFORCE;
  if (![EgressMode.UNSPECIFIED, EgressMode.REPORT, EgressMode.ENFORCE].includes(egress.mode)) {
    warnings.push(`unknown egress mode ${egress.mode}; observing (not enforcing) as the Go runtime does`);
  }
  const hosts: string[] = [];
  const dropped: string[] = [];
  for (const entry of egress.allowedHosts) {
    const host = validHost(entry);
    if (host === undefined) {
      if (enforce) return deny(`allowed_hosts entry ${JSON.stringify(entry.slice(0, 80))} is not a plain host name`);
      dropped.push(entry.slice(0, 80));
    } else hosts.push(host);
  }
  if (dropped.length > 0) {
    warnings.push(`dropped ${dropped.length} allowed_hosts entr${dropped.length === 1 ? "y" : "ies"} that are not plain host names: ${dropped.slice(0, MAX_WARNED_ENTRIES).map((d) => JSON.stringify(d)).join(", ")}`);
  }
  if (!enforce) {
    return { policy: ALLOW_ALL, reason: `observe only (mode ${EgressMode[egress.mode] ?? egress.mode}): would allow ${hosts.length === 0 ? "no host" : listed(hosts)}`, warnings };
  }
  let policy: EgressPolicy;
  try {
    policy = egressPolicy({ hosts, httpsOnly: egress.httpsOnly });
  } catch (err) {
    return deny((err as Error).message);
  }
  return { policy, reason: `enforced: ${policy.describe()}`, warnings };
}
