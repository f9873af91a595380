/**
 * ExternalLink annotations pointing into the Datadog web app, when the caller gave the app's URL
 * (e.g. https://app.datadoghq.com). The paths are the app's settings pages; links are a convenience, so a
 * connector without a site URL simply leaves them out.
 */
import type { Any } from "@bufbuild/protobuf/wkt";
import { annotate } from "../../../src/index.ts";

export interface AppLinks {
  user(id: string): Any[];
  role(id: string): Any[];
  team(id: string, handle: string): Any[];
  schedule(id: string): Any[];
  apiKey(id: string): Any[];
  applicationKey(id: string): Any[];
}

export function appLinks(siteUrl: string | undefined): AppLinks {
  if (!siteUrl) {
    const none = () => [];
    return { user: none, role: none, team: none, schedule: none, apiKey: none, applicationKey: none };
  }
  const base = siteUrl.replace(/\/+$/, "");
  const link = (path: string) => [annotate.externalLink(base + path)];
  const q = encodeURIComponent;
  return {
    user: (id) => link(`/organization-settings/users?user_id=${q(id)}`),
    role: (id) => link(`/organization-settings/roles/${q(id)}`),
    team: (_id, handle) => link(`/teams/${q(handle)}`),
    schedule: (id) => link(`/on-call/schedules/${q(id)}`),
    apiKey: (id) => link(`/organization-settings/api-keys?id=${q(id)}`),
    applicationKey: (id) => link(`/organization-settings/application-keys?id=${q(id)}`),
  };
}
