import { describe, expect, it } from "vitest";
import { ResponseShapeError } from "./parse.ts";
import { INCLUDED_ENTRY, ROLE_ENTRY, RoleSchema, ScheduleUserSchema, TEAM_ENTRY, TEAM_MEMBERSHIP_ENTRY, TeamMembershipSchema, TeamSchema, USER_ENTRY, UserSchema } from "./schemas.ts";
import { countUntyped, readEntries, readIncluded, SkipTally } from "./tolerant.ts";

const TEAM = "20000000-0000-4000-8000-000000000001";
const USER = "00000000-0000-4000-8000-000000000001";
const membership = (extra: Record<string, unknown> = {}) => ({
  type: "team_memberships",
  id: "m-1",
  relationships: { user: { data: { id: USER, type: "users" } } },
  ...extra,
});

describe("the tolerant reader", () => {
  it("accepts fields the spec does not name, at every level, and leaves them out of what it returns", () => {
    const user = {
      type: "users",
      id: USER,
      added_at_top: { big: "x".repeat(1000) },
      attributes: { email: "a@example.com", name: "A B", new_attribute: [1, 2, 3] },
      relationships: { roles: { data: [{ id: "r-1", type: "roles", note: "extra" }], meta: { n: 1 } }, teams: { data: [] } },
    };
    const tally = new SkipTally();
    const [kept] = readEntries("ListUsers", UserSchema, [user], USER_ENTRY, tally);
    expect(tally.skipped).toBe(0);
    expect(kept).toEqual({
      type: "users",
      id: USER,
      attributes: { email: "a@example.com", name: "A B" },
      relationships: { roles: { data: [{ id: "r-1", type: "roles" }] } },
    });
  });

  it("skips what the spec allows to be missing and the connector needs; fails what the spec requires", () => {
    const tally = new SkipTally();
    const kept = readEntries(
      "GetTeamMemberships",
      TeamMembershipSchema,
      [membership(), membership({ relationships: {} }), membership({ relationships: { user: { data: { id: "..", type: "users" } } } })],
      TEAM_MEMBERSHIP_ENTRY,
      tally,
    );
    expect(kept).toHaveLength(1);
    expect(tally.reasons()).toEqual({ "without relationships.user": 1, "whose user has an id that is not a user id": 1 });
    // The spec requires a membership's id: its absence is a broken answer, not a sparse one.
    const { id: _id, ...noId } = membership();
    expect(() => readEntries("GetTeamMemberships", TeamMembershipSchema, [membership(), noId], TEAM_MEMBERSHIP_ENTRY, new SkipTally())).toThrow(
      new ResponseShapeError("GetTeamMemberships", "data[1].id", "response field data[1].id: expected string, but it is missing"),
    );
  });

  it("fails a wrong type or a null where the spec says string, and skips a team whose id could not go into a path", () => {
    const team = (id: unknown) => ({ type: "team", id, attributes: { name: "n", handle: "h" } });
    expect(() => readEntries("ListTeams", TeamSchema, [team(12345)], TEAM_ENTRY, new SkipTally())).toThrow(/data\[0\]\.id: expected string, received number/);
    expect(() => readEntries("ListTeams", TeamSchema, [team(null)], TEAM_ENTRY, new SkipTally())).toThrow(/received null/);
    const tally = new SkipTally();
    expect(readEntries("ListTeams", TeamSchema, [team(""), team("a/b"), team(TEAM)], TEAM_ENTRY, tally).map((t) => t.id)).toEqual([TEAM]);
    expect(tally.skipped).toBe(2);
    expect(tally.reasons()).toEqual({ "with an empty id": 1, "with an id that is not a UUID (not a team id)": 1 });
  });

  it("reads included objects of one type only; untyped ones are counted, others never looked at", () => {
    const tally = new SkipTally();
    const included = [
      { type: "users", id: USER, attributes: { email: "a@example.com" } },
      { type: "users", attributes: {} },
      { type: "teams", id: 42 },
      { id: "no-type" },
    ];
    expect(readIncluded("GetOnCallSchedule", included, "users", ScheduleUserSchema, INCLUDED_ENTRY, tally).map((u) => u.id)).toEqual([USER]);
    countUntyped(included, tally);
    expect(tally.reasons()).toEqual({ "without id": 1, "included without a type": 1 });
    expect(() => readIncluded("GetOnCallSchedule", [{ type: "users", id: USER, attributes: { email: 7 } }], "users", ScheduleUserSchema, INCLUDED_ENTRY, tally)).toThrow(
      /included\[0\]\.attributes\.email: expected string, received number/,
    );
  });

  it("drops relationship references without an id or type (counted), keeps the entry; a wrong-typed reference id fails", () => {
    const role = (refs: unknown[]) => ({
      type: "roles",
      id: "10000000-0000-4000-8000-000000000001",
      attributes: { name: "Admin" },
      relationships: { permissions: { data: refs } },
    });
    const tally = new SkipTally();
    const [kept] = readEntries("ListRoles", RoleSchema, [role([{ type: "permissions" }, { id: "p1", type: "permissions" }, { id: "p2" }])], ROLE_ENTRY, tally);
    expect(kept.relationships?.permissions?.data).toEqual([{ id: "p1", type: "permissions" }]);
    expect(tally.skipped).toBe(0);
    expect(tally.droppedRefs).toBe(2);
    expect(() => readEntries("ListRoles", RoleSchema, [role([{ id: 5, type: "permissions" }])], ROLE_ENTRY, new SkipTally())).toThrow(
      /data\[0\]\.relationships\.permissions\.data\[0\]\.id: expected string, received number/,
    );
  });
});
