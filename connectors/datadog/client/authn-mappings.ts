/**
 * Reading Datadog's AuthN Mappings (ListAuthNMappings, GET /api/v2/authn_mappings): the rules by which a SAML
 * login grants a role or a team ("attribute member-of = Development → role Datadog Standard Role"). Datadog
 * applies them at each SAML login, so a role or team membership they grant comes back after a revoke.
 *
 * The listing filters by `resource_type` (role, the default, or team) and pages by number. Read in the
 * tolerant style of tolerant.ts: a mapping without an id or without the role / team it grants is skipped and
 * counted in one warning; a field of the wrong type where the spec types it fails the answer. The mapping's key
 * and value are in its attributes (spec) or, in answers that keep them apart, in the `saml_assertion_attributes`
 * object it relates to (`included`); both are read. Every kept string is bounded; so is the number of pages.
 */
import { z } from "zod";
import { HttpError, HttpErrorCode } from "../../../src/api-client.ts";
import type { DatadogClient } from "./datadog-client.ts";
import { isValidId } from "./ids.ts";
import { op, type OperationInfo } from "./operation-info.ts";
import { checkPageNumber, MAX_PAGE_SIZE, nextPageNumber } from "./paging.ts";
import { parseResponse } from "./parse.ts";
import { readEntries, SkipTally, type EntryRule } from "./tolerant.ts";

export const AUTHN_MAPPING_OPERATIONS = {
  ListAuthNMappings: op("ListAuthNMappings", "GET", "/api/v2/authn_mappings", ["user_access_read"], "list SAML AuthN mappings"),
} as const satisfies Record<string, OperationInfo>;

/** What a mapping grants: the spec's AuthNMappingResourceType. */
export type MappedKind = "role" | "team";

/** Pages read at most for one kind (100 mappings each): an org with more than 10,000 mappings is refused, not walked forever. */
export const MAX_AUTHN_MAPPING_PAGES = 100;
const MAX_TEXT = 512;

export interface AuthnMapping {
  id: string;
  kind: MappedKind;
  /** The role or team it grants. */
  targetId: string;
  /** Its name, when the answer includes the role or team. */
  targetName: string | undefined;
  /** The identity provider's attribute ("member-of") and the value that grants ("Development"); undefined when absent. */
  attributeKey: string | undefined;
  attributeValue: string | undefined;
  createdAt: string | undefined;
}

const str = z.string().nullish();
const ref = z.looseObject({ data: z.looseObject({ id: z.string().nullish(), type: z.string().nullish() }).nullish() }).nullish();

const MappingSchema = z.looseObject({
  id: z.string(),
  type: z.literal("authn_mappings"),
  attributes: z
    .looseObject({ attribute_key: str, attribute_value: str, created_at: str, modified_at: str, saml_assertion_attribute_id: str })
    .nullish(),
  relationships: z.looseObject({ role: ref, team: ref, saml_assertion_attribute: ref }).nullish(),
});

const ResponseSchema = z.looseObject({
  data: z.array(z.unknown()),
  included: z.array(z.unknown()).nullish(),
  meta: z.looseObject({ page: z.looseObject({ total_count: z.number().int().nullish(), total_filtered_count: z.number().int().nullish() }).nullish() }).nullish(),
});

const MAPPING_ENTRY: EntryRule = { sparse: ["id"] };

function text(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 && value.length <= MAX_TEXT ? value : undefined;
}

function child(node: unknown, key: string): unknown {
  return node !== null && typeof node === "object" && !Array.isArray(node) ? (node as Record<string, unknown>)[key] : undefined;
}

/** `included` objects by "type:id", read loosely: they only name things (a wrong shape just leaves a name out). */
function includedIndex(included: readonly unknown[] | null | undefined): Map<string, unknown> {
  const index = new Map<string, unknown>();
  for (const entry of included ?? []) {
    const type = text(child(entry, "type"));
    const id = text(child(entry, "id"));
    if (type && id) index.set(`${type}:${id}`, child(entry, "attributes"));
  }
  return index;
}

export interface AuthnMappingPage {
  items: AuthnMapping[];
  nextPage: number | undefined;
  total: number | undefined;
}

/** One page of the mappings that grant a `kind`. A read: retried like every read. */
export async function listAuthnMappingsPage(client: DatadogClient, kind: MappedKind, page: number, signal?: AbortSignal): Promise<AuthnMappingPage> {
  const info = AUTHN_MAPPING_OPERATIONS.ListAuthNMappings;
  const size = Math.min(client.pageSize, MAX_PAGE_SIZE);
  const query = { "page[size]": size, "page[number]": checkPageNumber(page), resource_type: kind };
  const res = await client.sendOperation(info, { path: info.path, query, retryable: true, signal });
  const body = parseResponse(info.id, ResponseSchema, res.body);
  const included = includedIndex(body.included);
  const tally = new SkipTally();
  const items: AuthnMapping[] = [];
  for (const m of readEntries(info.id, MappingSchema, body.data, MAPPING_ENTRY, tally)) {
    const target = m.relationships?.[kind]?.data?.id;
    if (!isValidId(kind, target)) {
      tally.skip(`without the ${kind} it grants (relationships.${kind})`);
      continue;
    }
    const assertionId = text(m.relationships?.saml_assertion_attribute?.data?.id) ?? text(m.attributes?.saml_assertion_attribute_id);
    const assertion = assertionId === undefined ? undefined : included.get(`saml_assertion_attributes:${assertionId}`);
    const targetAttrs = included.get(`${kind === "role" ? "roles" : "team"}:${target}`);
    items.push({
      id: text(m.id) ?? m.id.slice(0, MAX_TEXT),
      kind,
      targetId: target,
      targetName: text(child(targetAttrs, "name")),
      attributeKey: text(m.attributes?.attribute_key) ?? text(child(assertion, "attribute_key")),
      attributeValue: text(m.attributes?.attribute_value) ?? text(child(assertion, "attribute_value")),
      createdAt: text(m.attributes?.created_at),
    });
  }
  tally.warn(client.logger, info.id, `${info.path}?resource_type=${kind} (page ${page})`);
  const total = body.meta?.page?.total_filtered_count ?? body.meta?.page?.total_count ?? undefined;
  return { items, total, nextPage: nextPageNumber(page, size, body.data.length, total) };
}

/** Every mapping that grants a `kind`, page by page (at most MAX_AUTHN_MAPPING_PAGES pages). */
export async function listAllAuthnMappings(client: DatadogClient, kind: MappedKind, signal?: AbortSignal): Promise<AuthnMapping[]> {
  const out: AuthnMapping[] = [];
  let page: number | undefined = 0;
  while (page !== undefined) {
    if (page >= MAX_AUTHN_MAPPING_PAGES) {
      throw new HttpError({
        code: HttpErrorCode.INVALID_RESPONSE,
        operation: AUTHN_MAPPING_OPERATIONS.ListAuthNMappings.id,
        message: `the ${kind} AuthN mappings fill more than ${MAX_AUTHN_MAPPING_PAGES} pages; stopping rather than paging without end`,
      });
    }
    const res: AuthnMappingPage = await listAuthnMappingsPage(client, kind, page, signal);
    out.push(...res.items);
    page = res.nextPage;
  }
  return out;
}

/** A mapping in words: `"member-of" = "Development" (mapping 3653d3c6-…)`. */
export function describeMapping(m: AuthnMapping): string {
  const rule = m.attributeKey !== undefined ? `SAML attribute "${m.attributeKey}" = "${m.attributeValue ?? ""}"` : "a SAML attribute";
  return `AuthN mapping ${m.id} (${rule})`;
}

/** What `check` says about SAML mappings: counts of each kind, or why they could not be read. */
export interface MappingsState {
  /** undefined when the listing could not be read (see `problem`). */
  roles: AuthnMapping[] | undefined;
  teams: AuthnMapping[] | undefined;
  problem?: string;
}

/**
 * Reads both kinds for `check`. A refusal or failure is reported, never thrown: the mappings only inform the
 * operator, they do not decide whether the connector can sync.
 */
export async function readMappingsState(client: DatadogClient, signal?: AbortSignal): Promise<MappingsState> {
  try {
    const [roles, teams] = await Promise.all([listAllAuthnMappings(client, "role", signal), listAllAuthnMappings(client, "team", signal)]);
    return { roles, teams };
  } catch (err) {
    const detail = err instanceof HttpError ? err.detail : err instanceof Error ? err.message : String(err);
    return { roles: undefined, teams: undefined, problem: detail };
  }
}

/** One line for `check`: whether SAML mappings are in force, and which roles and teams they grant. */
export function describeMappingsState(state: MappingsState): { ok: boolean; skipped: boolean; message: string } {
  if (state.roles === undefined || state.teams === undefined) {
    return { ok: true, skipped: true, message: `SAML AuthN mappings not checked: ${state.problem ?? "the listing could not be read"}.` };
  }
  const total = state.roles.length + state.teams.length;
  if (total === 0) {
    return { ok: true, skipped: false, message: "SAML AuthN mappings: none in force; revoked roles and team memberships stay revoked." };
  }
  const names = (list: AuthnMapping[]) => [...new Set(list.map((m) => m.targetName ?? m.targetId))].slice(0, 10).join(", ");
  const parts: string[] = [];
  if (state.roles.length) parts.push(`${state.roles.length} granting role${state.roles.length === 1 ? "" : "s"} (${names(state.roles)})`);
  if (state.teams.length) parts.push(`${state.teams.length} granting team${state.teams.length === 1 ? "" : "s"} (${names(state.teams)})`);
  return {
    ok: true,
    skipped: false,
    message:
      `SAML AuthN mappings in force: ${parts.join("; ")}. The identity provider grants these again at each SAML login, ` +
      "so revoking them in Datadog alone does not last (the connector warns on such revokes).",
  };
}
