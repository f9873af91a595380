/** Shared builders and temp-dir helpers for the store tests. */
import { spawnSync } from "node:child_process";
import { create } from "@bufbuild/protobuf";
import { makeTempDir } from "../helpers/temp-dir.ts";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { GrantExpandableSchema } from "../../src/gen/c1/connector/v2/annotation_grant_pb.js";
import { GroupTraitSchema, UserTraitSchema } from "../../src/gen/c1/connector/v2/annotation_trait_pb.js";
import { EntitlementSchema, type Entitlement } from "../../src/gen/c1/connector/v2/entitlement_pb.js";
import { GrantSchema, type Grant } from "../../src/gen/c1/connector/v2/grant_pb.js";
import {
  ResourceSchema,
  ResourceType_Trait,
  ResourceTypeSchema,
  type Resource,
  type ResourceType,
} from "../../src/gen/c1/connector/v2/resource_pb.js";

export function tempDir(prefix = "store-test-"): { dir: string; cleanup: () => void } {
  return makeTempDir(prefix);
}

export function hasCommand(cmd: string): boolean {
  const r = spawnSync(cmd, ["--version"], { stdio: "ignore" });
  return r.error === undefined && r.status === 0;
}

export const resourceTypes = (): ResourceType[] => [
  create(ResourceTypeSchema, { id: "user", displayName: "User", traits: [ResourceType_Trait.USER] }),
  create(ResourceTypeSchema, { id: "team", displayName: "Team", traits: [ResourceType_Trait.GROUP] }),
];

export function user(id: string): Resource {
  return create(ResourceSchema, {
    id: { resourceType: "user", resource: id },
    displayName: `User ${id}`,
    annotations: [anyPack(UserTraitSchema, create(UserTraitSchema, { emails: [{ address: `${id}@example.com`, isPrimary: true }] }))],
  });
}

export function team(id: string, parent?: Resource): Resource {
  return create(ResourceSchema, {
    id: { resourceType: "team", resource: id },
    parentResourceId: parent?.id,
    displayName: `Team ${id}`,
    annotations: [anyPack(GroupTraitSchema, create(GroupTraitSchema, {}))],
  });
}

export function membership(resource: Resource): Entitlement {
  const id = `${resource.id!.resourceType}:${resource.id!.resource}:member`;
  return create(EntitlementSchema, { id, resource, displayName: "Member", slug: "member" });
}

export function grant(entitlement: Entitlement, principal: Resource, expandFrom: string[] = []): Grant {
  return create(GrantSchema, {
    id: `${entitlement.id}:${principal.id!.resourceType}:${principal.id!.resource}`,
    entitlement,
    principal,
    annotations: expandFrom.length ? [anyPack(GrantExpandableSchema, create(GrantExpandableSchema, { entitlementIds: expandFrom }))] : [],
  });
}

/** A small but complete sync: 2 types, 3 users, 2 teams (one a child), entitlements, grants (one expandable). */
export function sampleObjects() {
  const users = ["alice", "bob", "carol"].map(user);
  const eng = team("eng");
  const web = team("web", eng);
  const engMember = membership(eng);
  const webMember = membership(web);
  const grants = [
    grant(engMember, users[0]),
    grant(engMember, users[1]),
    grant(webMember, users[2]),
    // members of web are members of eng (team-in-team)
    grant(engMember, web, [webMember.id]),
  ];
  return { resourceTypes: resourceTypes(), resources: [...users, eng, web], entitlements: [engMember, webMember], grants, users, eng, web };
}

/** The disk-full tests run a child under `ulimit -f` (bash, POSIX only). */
export const CAN_LIMIT_FILE_SIZE = process.platform !== "win32" && hasCommand("bash");
if (!CAN_LIMIT_FILE_SIZE) console.warn("SKIPPING disk-full tests: they need bash and `ulimit -f` (POSIX)");
