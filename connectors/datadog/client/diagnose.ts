/**
 * Connection test for ConnectorService.Validate and the `check` subcommand: says precisely what is wrong.
 *
 * 1. GET /api/v1/validate checks the network path (DNS, TLS, proxy, timeout) and the API key alone.
 * 2. One small read per resource type (each type's `diagnose` in resources/<type>.ts; sent alongside step 1) checks the application key and its permissions (the permission each
 *    operation needs comes from the spec's x-permission). Datadog answers 403 both for a bad application key and
 *    for a missing permission; when every read is refused and none of the refusals names a permission, the key
 *    itself is the problem; when some reads work, the refused ones lack their permission.
 */
import { Code, ConnectorError } from "../../../src/api-client.ts";
import { EgressDeniedError, HttpError, HttpErrorCode } from "../../../src/api-client.ts";
import { API_KEY_HEADER } from "./credentials.ts";
import type { DatadogClient } from "./datadog-client.ts";
import { OPERATIONS, type OperationId } from "./operations.ts";
import { RESOURCE_TYPES } from "../resources/registry.ts";
import { validSitesText } from "./sites.ts";
import { checkWrites, heldPermissions, writeNeeds } from "./write-permissions.ts";
import { describeMappingsState, readMappingsState } from "./authn-mappings.ts";

export type DiagnosticProblem =
  | "DNS"
  | "TLS"
  | "PROXY"
  | "TIMEOUT"
  | "CONNECTION"
  | "INVALID_API_KEY"
  | "INVALID_APPLICATION_KEY"
  | "INVALID_CREDENTIALS"
  | "MISSING_PERMISSION"
  | "RATE_LIMITED"
  | "SERVER_ERROR"
  /** The egress policy (hosted mode's served policy) does not allow the API host: nothing was sent. */
  | "EGRESS_DENIED"
  | "UNEXPECTED";

export interface DiagnosticCheck {
  /** Stable name: "api", "api-key", "application-key", "read:user", "read:schedule", ... */
  name: string;
  ok: boolean;
  skipped?: boolean;
  message: string;
  problem?: DiagnosticProblem;
  /** For MISSING_PERMISSION: the permission and the resource type it blocks. */
  permission?: string;
  resourceType?: string;
  /** The host refused or did not resolve and has never answered: a later attempt cannot work without a change. */
  unreachable?: boolean;
}

export interface Diagnosis {
  ok: boolean;
  checks: DiagnosticCheck[];
}

export interface DiagnoseOptions {
  syncSchedules?: boolean;
  syncSecrets?: boolean;
  syncSecurityInsights?: boolean;
  /** Also say whether SAML AuthN mappings are in force (`check`; authn-mappings.ts). Informative: never fails. */
  ssoMappings?: boolean;
  /** Also check the write permissions provisioning needs (`check -p`). */
  provisioning?: boolean;
  signal?: AbortSignal;
}

interface Probe {
  resourceType: string;
  what: string;
  operation: OperationId;
  run: () => Promise<unknown>;
}

function host(client: DatadogClient): string {
  return new URL(client.baseUrl).host;
}

/** A sentence for a failure that happened before any HTTP answer (or a non-403 answer). */
export function describeTransportFailure(
  err: unknown,
  client: DatadogClient,
): { problem: DiagnosticProblem; message: string; unreachable?: true } {
  const described = describe(err, client);
  return err instanceof HttpError && err.unreachable ? { ...described, unreachable: true } : described;
}

function describe(err: unknown, client: DatadogClient): { problem: DiagnosticProblem; message: string } {
  const h = host(client);
  if (err instanceof EgressDeniedError) return { problem: "EGRESS_DENIED", message: err.message };
  if (!(err instanceof HttpError)) {
    return { problem: "UNEXPECTED", message: `Unexpected failure talking to ${h}: ${err instanceof Error ? err.message : String(err)}` };
  }
  const detail = err.detail.replace(/^[A-Z]+ \S+: /, "");
  switch (err.code) {
    case HttpErrorCode.DNS:
      return {
        problem: "DNS",
        message:
          `Cannot resolve ${err.host ?? h}: ${detail}. Check the site (--site; valid: ${validSitesText()}) or --base-url, ` +
          "and this machine's DNS and network access.",
      };
    case HttpErrorCode.TLS:
      return { problem: "TLS", message: `Secure connection to ${h} failed: ${detail}` };
    case HttpErrorCode.PROXY:
      return {
        problem: "PROXY",
        message: `The HTTP proxy failed for ${h}: ${detail}. Check HTTPS_PROXY / HTTP_PROXY / NO_PROXY (the proxy must allow CONNECT to ${h}:443).`,
      };
    case HttpErrorCode.TIMEOUT:
      return {
        problem: "TIMEOUT",
        message: `No answer from ${h} in time: ${detail}. Check that egress to ${h}:443 is allowed (firewall, network policy, proxy).`,
      };
    case HttpErrorCode.CONNECTION:
      return { problem: "CONNECTION", message: `Cannot connect to ${h}: ${detail}. Check egress to ${h} and any proxy settings.` };
    case HttpErrorCode.RATE_LIMITED:
      return { problem: "RATE_LIMITED", message: `Datadog kept answering 429 (rate limited): ${detail}. Try again later.` };
    case HttpErrorCode.HTTP_STATUS:
      // 5xx after the HTTP layer's own retries: Datadog's side, usually brief; UNAVAILABLE lets the engine retry.
      if (err.status !== undefined && err.status >= 500 && err.status !== 501) {
        return { problem: "SERVER_ERROR", message: `${h} kept answering ${err.status} (a Datadog-side error): ${detail}. Try again later.` };
      }
      return { problem: "UNEXPECTED", message: `${err.operation ?? "request"} failed: ${detail}` };
    default:
      return { problem: "UNEXPECTED", message: `${err.operation ?? "request"} failed: ${detail}` };
  }
}

function refusedWithPermissionText(err: HttpError): boolean {
  return err.serverErrors.some((e) => /permission|scope|not authorized to/i.test(e) && !/^forbidden$/i.test(e.trim()));
}

export async function diagnose(client: DatadogClient, options: DiagnoseOptions = {}): Promise<Diagnosis> {
  const checks: DiagnosticCheck[] = [];
  const signal = options.signal;
  const h = host(client);
  const credentialHeaders = await client.credentials.headers(signal);
  const usesApiKey = Object.keys(credentialHeaders).some((k) => k.toLowerCase() === API_KEY_HEADER.toLowerCase());

  // Step 2's reads (application key and permissions, one small read per resource type) are sent together with
  // step 1, one round trip less before a sync starts; they are interpreted only once the API key is known good.
  const stopReads = new AbortController();
  const readSignal = signal ? AbortSignal.any([signal, stopReads.signal]) : stopReads.signal;
  const small = { "page[size]": 1, "page[number]": 0 };
  const read = (operation: OperationId, path: string, query: Record<string, string | number> = small) =>
    client.http.request({ method: "GET", path, query, operation, signal: readSignal });
  const enabled = RESOURCE_TYPES.filter((t) => !t.enabledBy || options[t.enabledBy]);
  const probeOf = (type: (typeof enabled)[number], path: string, query?: Record<string, string | number>): Probe => {
    const check = type.diagnose!;
    const operation = check.operation.id as OperationId;
    return { resourceType: type.type.id, what: check.what, operation, run: () => read(operation, path, query) };
  };
  const probes: Probe[] = enabled.filter((t) => t.diagnose && !t.diagnose.after).map((t) => probeOf(t, t.diagnose!.operation.path));
  const reading = Promise.all(
    probes.map(async (p) => {
      try {
        return { probe: p, value: await p.run(), error: undefined };
      } catch (error) {
        return { probe: p, value: undefined, error };
      }
    }),
  );

  // 1. Network path and API key.
  const abandonReads = async (diagnosis: Diagnosis): Promise<Diagnosis> => {
    stopReads.abort();
    await reading;
    return diagnosis;
  };
  if (usesApiKey) {
    try {
      const valid = await client.validateApiKey(signal);
      if (!valid) {
        checks.push({ name: "api-key", ok: false, problem: "INVALID_API_KEY", message: `The API key is not valid for ${h} (GET /api/v1/validate answered valid=false). Check --api-key.` });
        return abandonReads({ ok: false, checks });
      }
      checks.push({ name: "api", ok: true, message: `Reached ${h}${client.http.proxy ? ` through proxy ${client.http.proxy}` : ""}.` });
      checks.push({ name: "api-key", ok: true, message: "The API key is valid." });
    } catch (err) {
      if (err instanceof HttpError && err.code === HttpErrorCode.HTTP_STATUS && (err.status === 403 || err.status === 401)) {
        checks.push({ name: "api", ok: true, message: `Reached ${h}.` });
        checks.push({
          name: "api-key",
          ok: false,
          problem: "INVALID_API_KEY",
          message:
            `The API key was rejected by ${h} (GET /api/v1/validate answered ${err.status}). Check --api-key / BATON_API_KEY, ` +
            "and that the key belongs to an organization on this site (--site).",
        });
        return abandonReads({ ok: false, checks });
      }
      const failure = describeTransportFailure(err, client);
      checks.push({ name: "api", ok: false, problem: failure.problem, message: failure.message, ...(failure.unreachable ? { unreachable: true } : {}) });
      return abandonReads({ ok: false, checks });
    }
  } else {
    checks.push({ name: "api-key", ok: true, skipped: true, message: `No API key in use (${client.credentials.describe()}).` });
  }

  const results = await reading;

  // Reads that start from another type's answer (on-call schedules from a team), once that answer is in.
  for (const type of enabled) {
    const after = type.diagnose?.after;
    if (!after) continue;
    const source = results.find((r) => r.probe.resourceType === after.type);
    const readPath = source && source.error === undefined ? after.path((source.value as { body?: unknown } | undefined)?.body) : undefined;
    if (readPath === undefined) {
      checks.push({ name: `read:${type.type.id}`, ok: true, skipped: true, resourceType: type.type.id, message: after.skipped });
      continue;
    }
    const probe = probeOf(type, readPath, {});
    try {
      results.push({ probe, value: await probe.run(), error: undefined });
    } catch (error) {
      results.push({ probe, value: undefined, error });
    }
  }

  const refused = (e: unknown): e is HttpError => e instanceof HttpError && e.code === HttpErrorCode.HTTP_STATUS && (e.status === 403 || e.status === 401);
  const anyAccepted = results.some((r) => r.error === undefined);
  const allRefused = results.length > 0 && results.every((r) => refused(r.error));
  const unauthorized = results.some((r) => refused(r.error) && (r.error as HttpError).status === 401);
  const namesPermissions = results.some((r) => refused(r.error) && refusedWithPermissionText(r.error as HttpError));

  if (allRefused && (unauthorized || !namesPermissions)) {
    const statuses = [...new Set(results.map((r) => (r.error as HttpError).status))].join("/");
    checks.push(
      usesApiKey
        ? {
            name: "application-key",
            ok: false,
            problem: "INVALID_APPLICATION_KEY",
            message:
              `The application key was rejected: the API key is valid, but every read answered ${statuses}. Check --app-key / BATON_APP_KEY ` +
              "(revoked, mistyped, or from another organization), or grant its owner at least user_access_read.",
          }
        : {
            name: "credentials",
            ok: false,
            problem: "INVALID_CREDENTIALS",
            message: `The credentials (${client.credentials.describe()}) were rejected: every read answered ${statuses}.`,
          },
    );
    return { ok: false, checks };
  }
  if (usesApiKey && (anyAccepted || namesPermissions)) {
    checks.push({ name: "application-key", ok: true, message: "The application key is valid." });
  }

  for (const { probe, error } of results) {
    const name = `read:${probe.resourceType}`;
    const permissions = OPERATIONS[probe.operation].permissions;
    if (error === undefined) {
      checks.push({ name, ok: true, resourceType: probe.resourceType, message: `Can read ${probe.what}.` });
    } else if (refused(error)) {
      const permission = permissions.join(" or ");
      checks.push({
        name,
        ok: false,
        problem: "MISSING_PERMISSION",
        permission,
        resourceType: probe.resourceType,
        message:
          `Missing permission ${permission}: needed to sync ${probe.resourceType} resources (${probe.what}); ` +
          `${OPERATIONS[probe.operation].method} ${OPERATIONS[probe.operation].path} answered ${error.status}. ` +
          "Grant it to the role of the application key's owner, or add it to the key's scopes.",
      });
    } else {
      const failure = describeTransportFailure(error, client);
      checks.push({
        name,
        ok: false,
        problem: failure.problem,
        resourceType: probe.resourceType,
        message: failure.message,
        ...(failure.unreachable ? { unreachable: true } : {}),
      });
    }
  }
  if (options.ssoMappings) checks.push({ name: "sso:authn-mappings", ...describeMappingsState(await readMappingsState(client, signal)) });
  if (options.provisioning) checks.push(...(await writeChecks(client, options)));
  return { ok: checks.every((c) => c.ok), checks };
}

async function writeChecks(client: DatadogClient, options: DiagnoseOptions): Promise<DiagnosticCheck[]> {
  const held = await heldPermissions(client, options.signal);
  const checks: DiagnosticCheck[] = checkWrites(writeNeeds(options), held).map((c) => ({
    name: c.name,
    ok: c.ok,
    ...(c.skipped ? { skipped: true } : {}),
    message: c.message,
    ...(c.missing ? { problem: "MISSING_PERMISSION" as const, permission: c.missing.map((g) => g.join(" or ")).join(", ") } : {}),
  }));
  if (held.known && !held.scopesKnown) {
    checks.push({
      name: "write:scopes",
      ok: true,
      skipped: true,
      message: "The credentials in use are not among their owner's listed application keys: scopes they may have are not checked.",
    });
  }
  return checks;
}

/** One line per check, for the `check` subcommand. */
export function formatDiagnosis(d: Diagnosis): string {
  return d.checks.map((c) => `${c.skipped ? "SKIP" : c.ok ? " OK " : "FAIL"}  ${c.message}`).join("\n");
}

/** The ConnectorError that Validate returns for a failed diagnosis (undefined when everything passed). */
export function diagnosisError(d: Diagnosis): ConnectorError | undefined {
  const failed = d.checks.filter((c) => !c.ok);
  if (failed.length === 0) return undefined;
  const code = (p: DiagnosticProblem | undefined): Code => {
    switch (p) {
      case "INVALID_API_KEY":
      case "INVALID_APPLICATION_KEY":
      case "INVALID_CREDENTIALS":
        return Code.UNAUTHENTICATED;
      case "MISSING_PERMISSION":
      case "EGRESS_DENIED":
        return Code.PERMISSION_DENIED;
      case "TLS":
        return Code.FAILED_PRECONDITION;
      case "UNEXPECTED":
        return Code.UNKNOWN;
      default:
        return Code.UNAVAILABLE;
    }
  };
  // FAILED_PRECONDITION, not UNAVAILABLE, for a host that never answered: the engine does not retry it.
  const first = failed[0];
  return new ConnectorError(first.unreachable ? Code.FAILED_PRECONDITION : code(first.problem), failed.map((c) => c.message).join(" "));
}
