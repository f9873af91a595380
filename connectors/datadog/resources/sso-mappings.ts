/**
 * SSO awareness for the role and team types: the SAML AuthN mappings (client/authn-mappings.ts) that grant a
 * role or a team membership at each SAML login.
 *
 * - With --sync-sso-mappings, each role's and team's profile lists the mappings that grant it
 *   (`authn_mappings`: id, attribute_key, attribute_value). The mappings are read once per sync (two listings,
 *   one per kind) and kept in ctx.session, so a resumed sync or a targeted one does not read them again.
 * - Always, a revoke of a role membership or of a team's `member` that a mapping grants still succeeds, but its
 *   response carries a GrantMetadata annotation (`sso_regrant_warning`, the mappings) and the connector logs a
 *   warning: the identity provider will grant it again at the user's next SAML login. The mappings are read
 *   fresh for a revoke (they may have changed since the sync); if they cannot be read, the revoke is not
 *   failed for it: the connector logs that it could not tell.
 */
import { z } from "zod";
import type { JsonObject } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { pack } from "../../../src/index.ts";
import type { CallContext } from "../../../src/index.ts";
import { GrantMetadataSchema } from "../../../src/messages.ts";
import { describeMapping, listAllAuthnMappings, type AuthnMapping, type MappedKind } from "../client/authn-mappings.ts";
import type { DatadogClient } from "../client/datadog-client.ts";
import { call } from "./errors.ts";
import { profileOf } from "./values.ts";

export { AUTHN_MAPPING_OPERATIONS } from "../client/authn-mappings.ts";

/** At most this many mappings are named in one profile or warning (an org rarely maps one role more than a few times). */
const MAX_NAMED = 50;

const sessionKey = (kind: MappedKind) => `sso:authn-mappings:${kind}`;
const KeptSchema = z
  .array(z.tuple([z.string(), z.string(), z.string().nullable(), z.string().nullable()]))
  .max(100_000);

export interface SsoMappings {
  /** Whether role and team profiles list their mappings (--sync-sso-mappings). */
  readonly inProfiles: boolean;
  /** The profile fields for a role or team: `{ authn_mappings: [...] }`, or `{}` when none grant it or profiles are off. */
  profileFields(ctx: CallContext, kind: MappedKind, targetId: string): Promise<JsonObject>;
  /** After a revoke of a role or team membership: the warning annotation (and log line) when a mapping grants it again. */
  revokeWarning(ctx: CallContext, kind: MappedKind, targetId: string, userId: string): Promise<Any[]>;
}

function mappingProfile(m: AuthnMapping): JsonObject {
  return profileOf({ id: m.id, attribute_key: m.attributeKey, attribute_value: m.attributeValue });
}

export function ssoMappings(client: DatadogClient, opts: { inProfiles: boolean }): SsoMappings {
  /** Listings in flight, by sync and kind: the pages of one sync that ask at once share one read. */
  const inFlight = new Map<string, Promise<Map<string, AuthnMapping[]>>>();

  const byTarget = (list: readonly AuthnMapping[]) => {
    const map = new Map<string, AuthnMapping[]>();
    for (const m of list) map.set(m.targetId, [...(map.get(m.targetId) ?? []), m]);
    return map;
  };

  const readAndKeep = async (ctx: CallContext, kind: MappedKind) => {
    const list = await call(client, () => listAllAuthnMappings(client, kind, ctx.signal));
    try {
      await ctx.session.setJson(
        sessionKey(kind),
        list.map((m) => [m.id, m.targetId, m.attributeKey ?? null, m.attributeValue ?? null]),
      );
    } catch (err) {
      // Only a cache: a value the session refuses means reading again, not failing the listing.
      ctx.logger.debug({ err: (err as Error).message }, "AuthN mappings not kept in the session");
    }
    return byTarget(list);
  };

  const mappingsOf = async (ctx: CallContext, kind: MappedKind): Promise<Map<string, AuthnMapping[]>> => {
    const kept = await ctx.session.getJson(sessionKey(kind), (raw) => KeptSchema.parse(raw));
    if (kept) {
      return byTarget(
        kept.map(([id, targetId, attributeKey, attributeValue]) => ({
          id,
          kind,
          targetId,
          targetName: undefined,
          attributeKey: attributeKey ?? undefined,
          attributeValue: attributeValue ?? undefined,
          createdAt: undefined,
        })),
      );
    }
    const join = ctx.activeSyncId === undefined ? undefined : `${ctx.activeSyncId}\u0000${kind}`;
    if (join === undefined) return readAndKeep(ctx, kind);
    let pending = inFlight.get(join);
    if (!pending) {
      pending = readAndKeep(ctx, kind).finally(() => inFlight.delete(join));
      inFlight.set(join, pending);
    }
    return pending;
  };

  return {
    inProfiles: opts.inProfiles,

    async profileFields(ctx, kind, targetId) {
      if (!opts.inProfiles) return {};
      const mine = (await mappingsOf(ctx, kind)).get(targetId) ?? [];
      const fields: JsonObject = {};
      if (mine.length) fields.authn_mappings = mine.slice(0, MAX_NAMED).map(mappingProfile);
      return fields;
    },

    async revokeWarning(ctx, kind, targetId, userId) {
      let mine: AuthnMapping[];
      try {
        mine = (await listAllAuthnMappings(client, kind, ctx.signal)).filter((m) => m.targetId === targetId);
      } catch (err) {
        ctx.logger.warn(
          { kind, targetId, err: err instanceof Error ? err.message : String(err) },
          `could not read SAML AuthN mappings to tell whether the identity provider grants this ${kind} again (the revoke itself succeeded)`,
        );
        return [];
      }
      if (mine.length === 0) return [];
      const named = mine.slice(0, MAX_NAMED);
      const warning =
        `${named.map(describeMapping).join(", ")} grant${named.length === 1 ? "s" : ""} this ${kind} at each SAML login: ` +
        `the identity provider will grant it to user ${userId} again at their next login unless they are removed from the group there too`;
      ctx.logger.warn({ kind, targetId, userId, authnMappings: named.map((m) => m.id) }, `revoke will not last: ${warning}`);
      return [
        pack(GrantMetadataSchema, {
          metadata: { sso_regrant_warning: warning, authn_mappings: named.map(mappingProfile) },
        }),
      ];
    },
  };
}
