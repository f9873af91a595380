/**
 * SAML AuthN mappings: ListAuthNMappings (GET /api/v2/authn_mappings), in the shapes of the spec's
 * AuthNMappingsResponse: each mapping relates to the role or team it grants and to its SAML assertion
 * attribute, and `included` carries those (Role, AuthNMappingTeam, SAMLAssertionAttribute). `resource_type`
 * picks what the mappings grant (role when absent, as Datadog documents); `filter` matches the key, the value
 * or the granted role's / team's name; `sort` takes the spec's values (the ones by created_at, attribute key
 * and value, and role name order the answer; the others are accepted and keep creation order).
 */
import { badRequest } from "../errors.ts";
import { iso, type Org, type SimAuthnMapping } from "../model.ts";
import { readPage, slicePage } from "../paging.ts";
import { roleResource, type Json } from "../resources.ts";
import type { RouteDef } from "../router.ts";

const READ = ["user_access_read"];

const SORTS = new Set([
  "created_at",
  "role_id",
  "saml_assertion_attribute_id",
  "role.name",
  "saml_assertion_attribute.attribute_key",
  "saml_assertion_attribute.attribute_value",
]);

const sortKey: Record<string, (m: SimAuthnMapping) => string | number> = {
  created_at: (m) => m.createdAt,
  "role.name": (m) => (m.target.kind === "role" ? m.target.role.name : m.target.team.name),
  "saml_assertion_attribute.attribute_key": (m) => m.attributeKey,
  "saml_assertion_attribute.attribute_value": (m) => m.attributeValue,
};

function assertionAttribute(m: SimAuthnMapping): Json {
  return { id: m.samlAttributeId, type: "saml_assertion_attributes", attributes: { attribute_key: m.attributeKey, attribute_value: m.attributeValue } };
}

/** Schema AuthNMapping. */
export function authnMappingResource(m: SimAuthnMapping): Json {
  const relationships: Json = { saml_assertion_attribute: { data: { id: m.samlAttributeId, type: "saml_assertion_attributes" } } };
  if (m.target.kind === "role") relationships.role = { data: { id: m.target.role.id, type: "roles" } };
  else relationships.team = { data: { id: m.target.team.id, type: "team" } };
  return {
    id: m.id,
    type: "authn_mappings",
    attributes: {
      attribute_key: m.attributeKey,
      attribute_value: m.attributeValue,
      created_at: iso(m.createdAt),
      modified_at: iso(m.createdAt),
      saml_assertion_attribute_id: m.samlAttributeId,
    },
    relationships,
  };
}

function included(mappings: readonly SimAuthnMapping[]): Json[] {
  const out = new Map<string, Json>();
  for (const m of mappings) {
    if (m.target.kind === "role") out.set(`roles:${m.target.role.id}`, roleResource(m.target.role, false));
    else {
      const team = m.target.team;
      out.set(`team:${team.id}`, {
        id: team.id,
        type: "team",
        attributes: { name: team.name, handle: team.handle, summary: team.summary, user_count: team.members.size, link_count: team.linkCount },
      });
    }
    out.set(`saml:${m.samlAttributeId}`, assertionAttribute(m));
  }
  return [...out.values()];
}

function listMappings(org: Org, query: URLSearchParams): Json {
  const page = readPage(query);
  const kind = query.get("resource_type") ?? "role";
  if (kind !== "role" && kind !== "team") throw badRequest(`resource_type must be role or team, got "${kind.slice(0, 40)}"`);
  const sort = query.get("sort");
  const field = sort?.replace(/^-/, "");
  if (sort !== null && (field === undefined || !SORTS.has(field))) throw badRequest(`sort must be one of ${[...SORTS].join(", ")} (with - for descending)`);
  const needle = query.get("filter")?.toLowerCase() ?? "";
  const all = org.authnMappings.values().filter((m) => m.target.kind === kind);
  let filtered = needle
    ? all.filter((m) => {
        const name = m.target.kind === "role" ? m.target.role.name : m.target.team.name;
        return [m.attributeKey, m.attributeValue, name].some((s) => s.toLowerCase().includes(needle));
      })
    : [...all];
  const key = field === undefined ? undefined : sortKey[field];
  if (key) {
    const dir = sort!.startsWith("-") ? -1 : 1;
    filtered = [...filtered].sort((a, b) => (key(a) < key(b) ? -dir : key(a) > key(b) ? dir : 0));
  }
  const slice = slicePage(filtered, page);
  return {
    data: slice.map(authnMappingResource),
    included: included(slice),
    meta: { page: { total_count: all.length, total_filtered_count: filtered.length } },
  };
}

export function authnMappingRoutes(): RouteDef[] {
  return [
    {
      method: "GET",
      template: "/api/v2/authn_mappings",
      rateLimit: "authn_mappings",
      permissions: READ,
      paged: true,
      handler: ({ org, query }) => ({ status: 200, body: listMappings(org, query) }),
    },
  ];
}
