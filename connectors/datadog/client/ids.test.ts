import { describe, expect, it } from "vitest";
import { HttpError, HttpErrorCode, httpErrorToCode } from "../../../src/index.ts";
import { Code } from "../../../src/index.ts";
import { checkId, id, isValidId, path } from "./ids.ts";

const UUID = "143a773e-fa5c-4752-8176-e8a22cd0f109";

describe("Datadog ids in request paths", () => {
  it("accepts UUIDs of any version, and On-Call public ids for schedules and policies only", () => {
    expect(path`/api/v2/team/${id.team(UUID)}/memberships/${id.user("00000000-0000-1234-0000-000000000000")}`).toBe(
      `/api/v2/team/${UUID}/memberships/00000000-0000-1234-0000-000000000000`,
    );
    expect(isValidId("schedule", "ab1-cd2-ef3")).toBe(true);
    expect(isValidId("policy", "ab1-cd2-ef3")).toBe(true);
    expect(isValidId("team", "ab1-cd2-ef3")).toBe(false);
    expect(isValidId("user", UUID.toUpperCase())).toBe(true);
  });

  it.each(["..", ".", "a/b", "%2e%2e", "", "x".repeat(1000), `${UUID}/..`, `${UUID}?x=1`, ` ${UUID}`, `${UUID}\n`])(
    "refuses %j before any request, as INVALID_ARGUMENT",
    (bad) => {
      let err: unknown;
      try {
        path`/api/v2/team/${id.team(UUID)}/memberships/${id.user(bad)}`;
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HttpError);
      expect((err as HttpError).code).toBe(HttpErrorCode.INVALID_REQUEST);
      expect(httpErrorToCode(err as HttpError)).toBe(Code.INVALID_ARGUMENT);
      expect((err as HttpError).message).toMatch(/^invalid Datadog user id: .*no request was sent$/);
      // A long id is not echoed whole.
      expect((err as HttpError).message.length).toBeLessThan(200);
    },
  );

  it("re-checks a segment that did not come from idSegment", () => {
    const forged = { kind: "user", value: "..", __checked: true } as const;
    expect(() => path`/api/v2/users/${forged}`).toThrow(/invalid Datadog user id/);
    expect(() => checkId("role", "")).toThrow("invalid Datadog role id: is empty; no request was sent");
  });
});
