/**
 * The shapes of Datadog's ids, checked before an id is put into a request (every path segment goes through
 * `idSegment`). An id comes from a caller (a grant request, a one-shot CLI flag) or from an earlier answer; an
 * unchecked `..` or `a/b` would be normalised by a proxy into another endpoint (`DELETE /team/T/memberships/..`
 * becomes `DELETE /team/T`), and percent-encoding does not help against proxies that decode first.
 *
 * Users (service accounts included), roles, teams, API and application keys and escalation policies have UUIDs
 * (8-4-4-4-12 hex digits, any version: the spec's examples include "00000000-0000-1234-0000-000000000000").
 * On-call schedules have UUIDs in the spec; the simulator (and older On-Call objects) use short public ids of
 * three dash-separated groups of letters and digits ("ab1-cd2-ef3"), accepted for schedules and policies only.
 */
import { HttpError, HttpErrorCode } from "../../../src/api-client.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PUBLIC_ID = /^[0-9a-z]{3}-[0-9a-z]{3}-[0-9a-z]{3}$/i;

interface IdShape {
  /** What the id names, in messages ("user id"). */
  label: string;
  /** The shape in words, for the message. */
  shape: string;
  test(value: string): boolean;
}

const uuid = (label: string): IdShape => ({ label, shape: "a UUID (8-4-4-4-12 hex digits)", test: (v) => UUID.test(v) });
const onCall = (label: string): IdShape => ({
  label,
  shape: 'a UUID (8-4-4-4-12 hex digits) or an On-Call public id ("abc-def-ghi")',
  test: (v) => UUID.test(v) || PUBLIC_ID.test(v),
});

export const ID_KINDS = {
  user: uuid("user id"),
  role: uuid("role id"),
  team: uuid("team id"),
  apiKey: uuid("API key id"),
  appKey: uuid("application key id"),
  serviceAccount: uuid("service account id"),
  policy: onCall("escalation policy id"),
  schedule: onCall("on-call schedule id"),
} as const satisfies Record<string, IdShape>;

export type IdKind = keyof typeof ID_KINDS;

/** A checked id, ready to be a path segment. Only `idSegment` makes one, so `path` cannot take a raw string. */
export interface IdSegment {
  readonly kind: IdKind;
  readonly value: string;
  readonly __checked: true;
}

export function isValidId(kind: IdKind, value: unknown): value is string {
  return typeof value === "string" && ID_KINDS[kind].test(value);
}

/** The id, quoted and cut short for a message (a 1000-character id is not echoed whole). */
function shown(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

/** Throws INVALID_REQUEST (INVALID_ARGUMENT to a caller) unless `value` has the shape of a `kind` id. */
export function checkId(kind: IdKind, value: string): string {
  if (ID_KINDS[kind].test(value)) return value;
  const { label, shape } = ID_KINDS[kind];
  const what = value === "" ? "is empty" : `${shown(value)} (${value.length} characters) is not ${shape}`;
  throw new HttpError({ code: HttpErrorCode.INVALID_REQUEST, message: `invalid Datadog ${label}: ${what}; no request was sent` });
}

export function idSegment(kind: IdKind, value: string): IdSegment {
  return { kind, value: checkId(kind, value), __checked: true };
}

/** A request path from a template whose every placeholder is a checked id: path`/api/v2/roles/${id.role(r)}/users`. */
export function path(strings: TemplateStringsArray, ...segments: IdSegment[]): string {
  let out = strings[0];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    // Re-checked here so that a hand-made object cannot slip past the type.
    out += encodeURIComponent(checkId(segment.kind, segment.value)) + strings[i + 1];
  }
  return out;
}

/** idSegment per kind, for templates: id.team(teamId). */
export const id = Object.fromEntries(Object.keys(ID_KINDS).map((kind) => [kind, (value: string) => idSegment(kind as IdKind, value)])) as {
  [K in IdKind]: (value: string) => IdSegment;
};
