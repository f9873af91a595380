/**
 * The CA certificates service mode trusts, for the token call and for gRPC alike: Node's bundled roots, the
 * operating system's store, and NODE_EXTRA_CA_CERTS (corporate TLS inspection proxies re-sign traffic with their
 * own CA; that CA goes in NODE_EXTRA_CA_CERTS). grpc-js does not read NODE_EXTRA_CA_CERTS on its own, so the
 * list is always passed explicitly.
 */
import * as tls from "node:tls";

let cached: string[] | undefined;

function systemAndDefault(): string[] {
  if (cached) return cached;
  const all = new Set<string>(tls.getCACertificates("default")); // bundled + NODE_EXTRA_CA_CERTS (+ system with --use-system-ca)
  try {
    for (const pem of tls.getCACertificates("system")) all.add(pem);
  } catch {
    // No readable system store (minimal images): the bundled roots still apply.
  }
  cached = [...all];
  return cached;
}

/** PEM certificates to trust; `extra` adds more (tests pass their CA this way instead of through the env). */
export function trustedCaCertificates(extra?: string | Buffer | readonly (string | Buffer)[]): string[] {
  const base = systemAndDefault();
  if (extra === undefined) return base;
  const more = (Array.isArray(extra) ? extra : [extra]).map((e: string | Buffer) => e.toString());
  return [...base, ...more];
}
