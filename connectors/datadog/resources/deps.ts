/**
 * What every Datadog syncer is built with: the API client and the web app's address for ExternalLink
 * annotations. Built once per connector (connector.ts) and handed to each resource type's `syncer`.
 */
import type { Any } from "@bufbuild/protobuf/wkt";
import type { DatadogClient } from "../client/datadog-client.ts";
import { appLinker } from "./links.ts";

export interface SyncerDeps {
  client: DatadogClient;
  /** An ExternalLink annotation to a page of the Datadog web app (path with its query), or none without a site URL. */
  appLink(path: string): Any[];
}

export function syncerDeps(opts: { client: DatadogClient; siteUrl?: string }): SyncerDeps {
  return { client: opts.client, appLink: appLinker(opts.siteUrl) };
}
