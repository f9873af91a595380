/**
 * The committed Datadog contract (datadog-contract.json) that every contract test reads: it holds exactly the
 * operations the client and the simulator use, it is self-contained, the extractor keeps what the checkers need
 * and drops the prose, and, when Datadog's spec is beside the repository, it is what `npm run contracts` makes.
 */
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { extractDatadogContract } from "../../scripts/contracts/datadog.ts";
import { usedOperations } from "../../scripts/contracts/used-operations.ts";
import { checkRequest, checkResponse, CONTRACT_PATH, loadSpec, matchOperation, Spec, SPEC_PATH, UNDOCUMENTED_IN_V2_SPEC } from "./openapi.ts";

const haveSpec = existsSync(SPEC_PATH);
const committedText = readFileSync(CONTRACT_PATH, "utf8");
const committed = JSON.parse(committedText) as {
  paths: Record<string, Record<string, unknown>>;
  components: Record<string, Record<string, unknown>>;
};

const FIX = "run `npm run contracts` (with ../shared/datadog/openapi-v2.yaml beside the repository) and commit the result";

/** Every `$ref` string anywhere in `value`, discriminator mappings included. */
function refsIn(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) refsIn(v, out);
  else if (value && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) {
      if (key === "$ref" && typeof v === "string") out.add(v);
      else if (key === "mapping" && v && typeof v === "object") for (const target of Object.values(v)) out.add(String(target));
      else refsIn(v, out);
    }
  }
  return out;
}

describe("the committed Datadog contract", () => {
  it("holds every operation the client and the simulator use, and no other", async () => {
    const allowListed = new Set(UNDOCUMENTED_IN_V2_SPEC.map((e) => `${e.method} ${e.pathTemplate}`));
    const used = (await usedOperations()).map((u) => `${u.method} ${u.path}`).filter((key) => !allowListed.has(key));
    const held = Object.entries(committed.paths).flatMap(([template, item]) =>
      Object.keys(item)
        .filter((key) => key !== "parameters")
        .map((method) => `${method.toUpperCase()} ${template}`),
    );
    expect(held.filter((key) => !used.includes(key)), `in the contract but used by neither: ${FIX}`).toEqual([]);
    expect(used.filter((key) => !held.includes(key)), `used but missing from the contract: ${FIX}`).toEqual([]);
    expect(held.length).toBeGreaterThanOrEqual(29);
  });

  it("is self-contained: every reference resolves inside it, and every component kept is referenced", () => {
    const refs = refsIn(committed);
    const unresolved = [...refs].filter((ref) => {
      const [, , kind, name] = ref.split("/");
      return committed.components[kind]?.[name] === undefined;
    });
    expect(unresolved).toEqual([]);
    const kept = Object.entries(committed.components).flatMap(([kind, map]) => Object.keys(map).map((name) => `#/components/${kind}/${name}`));
    expect(kept.filter((ref) => !refs.has(ref))).toEqual([]);
  });

  it("keeps whole response schemas: the `included` items of a listing and every schema they name", async () => {
    const spec = await loadSpec();
    const users = spec.document.components.schemas!.UsersResponse as { properties: { included: { items: { $ref: string } } } };
    expect(users.properties.included.items.$ref).toBe("#/components/schemas/UserResponseIncludedItem");
    const included = spec.deref<{ oneOf: { $ref: string }[] }>(users.properties.included.items);
    expect(included.oneOf.map((s) => s.$ref).sort()).toEqual(
      ["#/components/schemas/Organization", "#/components/schemas/Permission", "#/components/schemas/Role"].sort(),
    );
    const url = "/api/v2/users";
    const body = { data: [], included: [{ type: "roles", id: "r1", attributes: { name: "Admin" } }], meta: { page: { total_count: 0 } } };
    expect(checkResponse(spec, { method: "GET", url, status: 200, body })).toEqual([]);
    const wrong = { ...body, included: [{ type: "roles", id: 5 }] };
    expect(checkResponse(spec, { method: "GET", url, status: 200, body: wrong }).join("\n")).toContain("/included/0");
  });

  it.skipIf(!haveSpec)(
    `is fresh against ../shared/datadog/openapi-v2.yaml${haveSpec ? "" : " (skipped: that file is not beside the repository)"}`,
    async () => {
      const fresh = extractDatadogContract(readFileSync(SPEC_PATH, "utf8"), await usedOperations());
      expect(committedText === fresh.text, `${CONTRACT_PATH} is stale against ${SPEC_PATH}: ${FIX}`).toBe(true);
    },
  );
});

describe("the contract extractor", () => {
  // A small spec with the shapes the real one has: prose everywhere, a property named like a prose keyword,
  // refs through parameters, responses, allOf, items and a discriminator mapping, and components nobody uses.
  const source = {
    openapi: "3.0.0",
    info: { title: "T", version: "9", description: "prose" },
    tags: [{ name: "Things" }],
    paths: {
      "/things": {
        description: "path prose",
        parameters: [{ $ref: "#/components/parameters/Tenant" }],
        get: {
          operationId: "ListThings",
          summary: "List",
          description: "prose",
          tags: ["Things"],
          "x-permission": { operator: "OR", permissions: ["things_read"] },
          parameters: [{ name: "page[size]", in: "query", description: "prose", example: 5, schema: { type: "integer", format: "int64", maximum: 100 } }],
          responses: {
            "200": { description: "OK", content: { "application/json": { example: {}, schema: { $ref: "#/components/schemas/Things" } } } },
            "404": { $ref: "#/components/responses/NotFound" },
          },
        },
        post: { operationId: "CreateThing", responses: { "201": { description: "made" } } },
      },
      "/things/{id}": { get: { operationId: "GetThing", responses: { "200": { description: "OK" } } } },
      "/things/special": { get: { operationId: "GetSpecialThing", responses: { "200": { description: "OK" } } } },
      "/widgets": { get: { operationId: "ListWidgets", responses: { "200": { description: "OK" } } } },
    },
    components: {
      parameters: { Tenant: { name: "tenant", in: "query", description: "prose", schema: { $ref: "#/components/schemas/TenantName" } } },
      responses: { NotFound: { description: "gone", content: { "application/json": { schema: { $ref: "#/components/schemas/Errors" } } } } },
      schemas: {
        Things: {
          type: "object",
          description: "prose",
          required: ["data"],
          properties: {
            data: { type: "array", items: { $ref: "#/components/schemas/Thing" } },
            included: { type: "array", items: { oneOf: [{ $ref: "#/components/schemas/Owner" }], discriminator: { propertyName: "type", mapping: { owners: "#/components/schemas/Owner" } } } },
          },
        },
        Thing: {
          allOf: [{ $ref: "#/components/schemas/Base" }],
          title: "A thing",
          "x-enum-varnames": ["A"],
          properties: { description: { type: "string", description: "the property named description stays" }, kind: { type: "string", enum: ["a"], default: "a", example: "a" } },
        },
        Base: { type: "object", properties: { id: { type: "string" } }, additionalProperties: { $ref: "#/components/schemas/Extra" } },
        Extra: { type: "string", nullable: true },
        Owner: { type: "object", externalDocs: { url: "https://example.com" } },
        Errors: { type: "object", properties: { errors: { type: "array", items: { type: "string" } } } },
        TenantName: { type: "string", pattern: "^[a-z]+$" },
        Unused: { type: "object" },
      },
    },
  };
  const used = [
    { method: "GET", path: "/things" },
    { method: "GET", path: "/api/v1/validate" },
  ];
  const result = extractDatadogContract(stringify(source), used);
  const contract = JSON.parse(result.text);

  it("keeps the used operations' parameters, bodies, responses and the components they reach, nothing else", () => {
    expect(contract.paths).toEqual({
      "/things": {
        parameters: [{ $ref: "#/components/parameters/Tenant" }],
        get: {
          operationId: "ListThings",
          parameters: [{ name: "page[size]", in: "query", schema: { type: "integer", format: "int64", maximum: 100 } }],
          responses: {
            "200": { content: { "application/json": { schema: { $ref: "#/components/schemas/Things" } } } },
            "404": { $ref: "#/components/responses/NotFound" },
          },
        },
      },
    });
    expect(Object.keys(contract.components.schemas)).toEqual(["Base", "Errors", "Extra", "Owner", "TenantName", "Thing", "Things"]);
    expect(contract.components.schemas.Thing).toEqual({
      allOf: [{ $ref: "#/components/schemas/Base" }],
      properties: { description: { type: "string" }, kind: { type: "string", enum: ["a"], default: "a" } },
    });
    expect(contract.components.schemas.Owner).toEqual({ type: "object" });
    expect(contract.components.parameters.Tenant).toEqual({ name: "tenant", in: "query", schema: { $ref: "#/components/schemas/TenantName" } });
    expect(contract.components.responses.NotFound).toEqual({ content: { "application/json": { schema: { $ref: "#/components/schemas/Errors" } } } });
    expect(result).toMatchObject({ operations: 1, components: 9, missing: [{ method: "GET", path: "/api/v1/validate" }] });
    expect(result.text).not.toMatch(/prose|"x-(?!generated|other-operations)|"summary"|"example"|"tags"|A thing|externalDocs/);
  });

  it("lists the other operations only where a URL could match a kept template, so matching stays the spec's", () => {
    expect(contract["x-other-operations"]).toEqual({ "/things": { post: "CreateThing" } });
    const spec = new Spec(contract);
    expect(matchOperation(spec, "POST", "/things")).toEqual({ operationId: "CreateThing", pathTemplate: "/things" });
    expect(checkRequest(spec, { method: "POST", url: "/things" })[0]).toContain("(CreateThing): documented by Datadog but not in the committed contract");
    expect(checkRequest(spec, { method: "GET", url: "/things?tenant=acme&page[size]=5" })).toEqual([]);
    expect(checkRequest(spec, { method: "GET", url: "/things?tenant=ACME" }).join("\n")).toContain('query parameter "tenant"');
    expect(checkResponse(spec, { method: "GET", url: "/things", status: 404, body: { errors: [1] } }).join("\n")).toContain("/errors/0 must be string");

    // With a kept template that overlaps them, the literal and the parameter templates are listed too.
    const wider = JSON.parse(extractDatadogContract(stringify(source), [{ method: "GET", path: "/things/{id}" }]).text);
    expect(wider["x-other-operations"]).toEqual({ "/things/special": { get: "GetSpecialThing" } });
    expect(matchOperation(new Spec(wider), "GET", "/things/special")?.operationId).toBe("GetSpecialThing");
  });

  it("writes the same bytes from the same spec (deterministic), one line per operation and component", () => {
    expect(extractDatadogContract(stringify(source), [...used].reverse()).text).toBe(result.text);
    expect(result.text.split("\n").find((line) => line.includes('"Things":'))).toMatch(/^ {6}"Things": \{.*\},?$/);
  });
});
