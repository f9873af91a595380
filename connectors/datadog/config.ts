/**
 * The Datadog connector's configuration, declared once. Names match ConductorOne's baton-datadog so existing
 * deployments (flags, BATON_* env vars, .baton.yaml) keep working; --base-url and delegated auth are ours.
 */
import { z } from "zod";
import { defineConfig, field, type ConfigOf } from "../../src/config/index.ts";
import { baseUrlProblem, DEFAULT_SITE, siteProblem, validSitesText } from "./client/sites.ts";
import { delegatedAuthConstraints, delegatedAuthFields } from "./auth/config.ts";

const checked = (problem: (v: string) => string | undefined) =>
  z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message) ctx.addIssue({ code: "custom", message });
  });

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
