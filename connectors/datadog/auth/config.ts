/**
 * Config fields for delegated authentication, to be spread into the Datadog connector's config:
 *
 *     defineConfig({ ...datadogFields, ...delegatedAuthFields }, { constraints: [...delegatedAuthConstraints, ...] })
 *
 * Setting --delegated-auth-org-uuid turns the feature on; the API and application keys then become an optional
 * fallback (the connector's own constraints must allow them to be absent in that case).
 */
import { z } from "zod";
import { field } from "../../../src/runner.ts";
import type { ConstraintDecl } from "../../../src/runner.ts";

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

export const DELEGATED_AUTH_PROVIDERS = ["aws"] as const;
export type DelegatedAuthProviderName = (typeof DELEGATED_AUTH_PROVIDERS)[number];

export const delegatedAuthFields = {
  delegatedAuthOrgUuid: field.string({
    description:
      "Datadog organization UUID for delegated authentication: when set, the connector proves its cloud identity " +
      "to Datadog and uses short-lived tokens instead of API and application keys",
    displayName: "Delegated Auth Org UUID",
    placeholder: "00000000-0000-0000-0000-000000000000",
    schema: z.string().regex(UUID, "must be a UUID (8-4-4-4-12 hex digits); GET /api/v2/current_user shows your org's"),
  }),
  delegatedAuthProvider: field.enum({
    description: "Cloud identity used for delegated authentication (only aws is supported)",
    displayName: "Delegated Auth Provider",
    values: DELEGATED_AUTH_PROVIDERS,
    default: "aws",
  }),
  awsRegion: field.string({
    description: "AWS region whose STS endpoint the delegated-auth proof names (default: the global endpoint, us-east-1)",
    displayName: "AWS Region",
    placeholder: "us-east-1",
    schema: z.string().regex(AWS_REGION, "must be an AWS region name such as us-east-1 or eu-west-2"),
  }),
};

/** --aws-region only means something for delegated auth. */
export const delegatedAuthConstraints: readonly ConstraintDecl<keyof typeof delegatedAuthFields>[] = [
  {
    kind: "dependentOn",
    fields: ["awsRegion"],
    dependsOn: ["delegatedAuthOrgUuid"],
    helpText: "--aws-region is only used with --delegated-auth-org-uuid",
  },
];

/** The resolved values this module reads. */
export interface DelegatedAuthSettings {
  readonly delegatedAuthOrgUuid?: string | undefined;
  readonly delegatedAuthProvider?: DelegatedAuthProviderName | undefined;
  readonly awsRegion?: string | undefined;
}

export function delegatedAuthEnabled(settings: DelegatedAuthSettings): boolean {
  return typeof settings.delegatedAuthOrgUuid === "string" && settings.delegatedAuthOrgUuid !== "";
}
