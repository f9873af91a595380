/**
 * The Datadog connector's configuration, declared once. Names match ConductorOne's baton-datadog so existing
 * deployments (flags, BATON_* env vars, .baton.yaml) keep working; --base-url and delegated auth are ours.
 */
import { z } from "zod";
import { defineConfig, field, type ConfigOf, type FieldDecl } from "../../src/runner.ts";
import { baseUrlProblem, DEFAULT_SITE, siteProblem, validSitesText } from "./client/sites.ts";
import { delegatedAuthConstraints, delegatedAuthFields } from "./auth/config.ts";
import { DEFAULT_HTTP_TIMEOUT, durationProblem } from "./duration.ts";

const checked = (problem: (v: string) => string | undefined) =>
  z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message) ctx.addIssue({ code: "custom", message });
  });

/**
 * A bool field that a config built by hand (tests, embedders: `datadogConfig.schema.parse({...})`) may leave out:
 * the CLI, env and YAML resolve it to false like any bool; left out, it reads as off. For settings added later,
 * so that existing callers need not know they exist.
 */
function laterBool(o: Parameters<typeof field.bool>[0]): FieldDecl<boolean | undefined> {
  return { ...field.bool(o), schema: z.boolean().optional() };
}

export const datadogConfig = defineConfig(
  {
    apiKey: field.string({
      description: "Datadog API key (optional with delegated authentication)",
      displayName: "API Key",
      secret: true,
    }),
    appKey: field.string({
      description: "Datadog application key; its scopes decide what the connector can read and change",
      displayName: "Application Key",
      secret: true,
    }),
    site: field.string({
      description: `Datadog site: ${validSitesText()}`,
      displayName: "Site",
      default: DEFAULT_SITE,
      schema: checked(siteProblem),
    }),
    baseUrl: field.string({
      description: "Override the API base URL (private endpoints, proxies); https only, except on loopback",
      displayName: "Base URL",
      placeholder: "https://api.datadoghq.com",
      schema: checked(baseUrlProblem),
    }),
    syncSchedules: field.bool({
      description: "Also sync on-call schedules and their members",
      displayName: "Sync On-Call Schedules",
    }),
    syncSecrets: field.bool({
      description: "Also sync API keys and application keys (metadata only, never key values)",
      displayName: "Sync API and Application Keys",
    }),
    syncSecurityInsights: laterBool({
      description:
        "Also sync security insights: admins without MFA, unused keys, keys of disabled users, service accounts with admin permissions, stale invitations",
      displayName: "Sync Security Insights",
    }),
    // No declared defaults (like httpTimeout): the connector applies them (resources/deps.ts).
    securityInsightsUnusedKeyDays: field.int({
      description: "Security insights: an API or application key not used for this many days is reported (default 90)",
      displayName: "Unused Key Days",
      placeholder: "90",
      min: 1,
      max: 36_500,
    }),
    securityInsightsPendingInviteDays: field.int({
      description: "Security insights: an invitation pending for this many days is reported (default 30)",
      displayName: "Pending Invitation Days",
      placeholder: "30",
      min: 1,
      max: 36_500,
    }),
    syncSsoMappings: laterBool({
      description: "Also list the SAML AuthN mappings that grant each role and team in its profile",
      displayName: "Sync SAML AuthN Mappings",
    }),
    httpTimeout: field.string({
      description:
        "Deadline of each HTTP request to Datadog (connect, headers and body; also the delegated-auth token exchange): " +
        `a duration like 30s or 2m, or seconds (default ${DEFAULT_HTTP_TIMEOUT})`,
      displayName: "HTTP Timeout",
      // No declared default: callers that build the config themselves need not know the field exists.
      placeholder: DEFAULT_HTTP_TIMEOUT,
      ops: true,
      schema: checked(durationProblem),
    }),
    ...delegatedAuthFields,
  },
  {
    constraints: [
      { kind: "requiredTogether", fields: ["apiKey", "appKey"] },
      { kind: "atLeastOne", fields: ["apiKey", "delegatedAuthOrgUuid"] },
      ...delegatedAuthConstraints,
    ],
  },
);

export type DatadogConfig = ConfigOf<typeof datadogConfig>;

/** Datadog's key formats (API key: 32 hex digits, application key: 40). Other shapes may be a proxy's or a simulator's. */
const API_KEY_SHAPE = /^[0-9a-f]{32}$/i;
const APP_KEY_SHAPE = /^[0-9a-f]{40}$/i;

/**
 * Warnings (never errors: proxies and test servers may use other shapes) for configured keys that cannot be
 * Datadog's, usually a placeholder or a value pasted into the wrong setting. They never quote the key.
 */
export function keyShapeWarnings(config: Pick<DatadogConfig, "apiKey" | "appKey">): string[] {
  const warnings: string[] = [];
  const check = (value: string | undefined, shape: RegExp, setting: string, expected: string) => {
    if (value === undefined || value.trim() === "" || shape.test(value.trim())) return;
    const length = value.trim().length;
    warnings.push(
      `${setting}: the configured key (not shown) is ${length} character${length === 1 ? "" : "s"} long and not ${expected}, ` +
        "the form of a Datadog key; check that the right value is set (a proxy or test server may accept other keys)",
    );
  };
  check(config.apiKey, API_KEY_SHAPE, "--api-key / BATON_API_KEY", "32 hexadecimal characters");
  check(config.appKey, APP_KEY_SHAPE, "--app-key / BATON_APP_KEY", "40 hexadecimal characters");
  return warnings;
}
