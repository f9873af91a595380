/**
 * ExternalLink annotations pointing into the Datadog web app, when the caller gave the app's URL
 * (e.g. https://app.datadoghq.com). Each resource type names its own settings page (its `link` in
 * resources/<type>.ts); links are a convenience, so a connector without a site URL simply leaves them out.
 */
import type { Any } from "@bufbuild/protobuf/wkt";
import { annotate } from "../../../src/index.ts";

export function appLinker(siteUrl: string | undefined): (path: string) => Any[] {
  if (!siteUrl) return () => [];
  const base = siteUrl.replace(/\/+$/, "");
  return (path) => [annotate.externalLink(base + path)];
}

/** A path segment or query value, encoded. */
export const q = encodeURIComponent;
