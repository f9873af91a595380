/**
 * zod schemas for the Datadog responses the connector reads, after the spec's schemas (openapi-v2.yaml).
 * Unknown fields are accepted and left out of the parsed value: Datadog adds fields all the time, nothing reads
 * them, and copying them made a loose object's parse about twice as slow (1.4-2.2 against 0.9 us per user). It is
 * also what keeps a key's secret value (`attributes.key`, which GetAPIKey sends) from going further than the parse:
 * the key schemas do not name it. Required are the identity fields (id, type) and the few fields the connector
 * cannot work without (a user's email, a role's, team's or permission's name, a team's handle, the user of a
 * membership); everything else is optional and may be null, since the spec marks most attributes optional and
 * several nullable.
 *
 * Listing answers check their envelope here (`data` must be an array, totals numbers) and their entries one by
 * one in tolerant.ts: a sparse entry is skipped and counted, a broken one fails. `included` lists are kept raw
 * and read by type where the connector uses them (most answers carry included objects it never reads).
 */
import { z } from "zod";
import { holeToNull, withoutHoles, type EntryRule } from "./tolerant.ts";

const str = z.string().nullish();
const bool = z.boolean().nullish();
const int = z.number().int().nullish();

/** A JSON:API resource identifier ({ id, type }). */
export const ResourceRefSchema = z.object({ id: z.string(), type: z.string() });
// A reference without an id or a type (the spec rarely requires them) points nowhere: it is dropped and counted
// (tolerant.ts), while a reference with a wrong-typed id still fails the answer.
const toOne = z.object({ data: z.preprocess(holeToNull, ResourceRefSchema.nullish()) }).nullish();
const toMany = z.object({ data: z.preprocess(withoutHoles, z.array(ResourceRefSchema).nullish()) }).nullish();

/** An `included` list before it is read by type (entries the connector does not read are never checked). */
const included = z.array(z.unknown()).nullish();
/** A listing's entries before they are read one by one (tolerant.ts). */
const entries = z.array(z.unknown());

const PageMetaSchema = z
  .object({
    page: z.object({ total_count: int, total_filtered_count: int }).nullish(),
  })
  .nullish();

// ---- users -------------------------------------------------------------------------------------------------

export const UserSchema = z.object({
  id: z.string(),
  type: z.literal("users"),
  attributes: z.object({
    email: z.string(),
    handle: str,
    name: str,
    title: str,
    status: str,
    disabled: bool,
    verified: bool,
    service_account: bool,
    mfa_enabled: bool,
    last_login_time: str,
    created_at: str,
    modified_at: str,
    icon: str,
    // Not in the spec; real answers carry it. Its entries' shape is not documented, so each is read where used.
    allowed_login_methods: z.array(z.unknown()).nullish(),
  }),
  relationships: z.object({ roles: toMany, org: toOne }).nullish(),
});
export type User = z.infer<typeof UserSchema>;

export const UsersResponseSchema = z.object({
  data: entries,
  included,
  meta: PageMetaSchema,
});

/**
 * A member in a listing of a role's users: only who it is. The users themselves are synced (and checked in full)
 * from /users; a role's listing repeats them, and checking every attribute again would cost as much as the
 * users listing itself.
 */
export const UserRefSchema = z.object({ id: z.string(), type: z.literal("users") });
export type UserRef = z.infer<typeof UserRefSchema>;

export const UserRefsResponseSchema = z.object({ data: entries, meta: PageMetaSchema });

export const UserResponseSchema = z.object({
  data: UserSchema,
  included,
});

export const UserInvitationSchema = z.object({
  id: z.string(),
  type: z.literal("user_invitations"),
  attributes: z.object({ uuid: str, expires_at: str, created_at: str, invite_type: str }).nullish(),
  relationships: z.object({ user: toOne }).nullish(),
});
export type UserInvitation = z.infer<typeof UserInvitationSchema>;

export const UserInvitationsResponseSchema = z.object({ data: z.array(UserInvitationSchema) });

// ---- roles and permissions ---------------------------------------------------------------------------------

export const RoleSchema = z.object({
  id: z.string(),
  type: z.literal("roles"),
  attributes: z.object({
    name: z.string(),
    created_at: str,
    modified_at: str,
    user_count: int,
  }),
  relationships: z.object({ permissions: toMany }).nullish(),
});
export type Role = z.infer<typeof RoleSchema>;

export const RolesResponseSchema = z.object({
  data: entries,
  included,
  meta: PageMetaSchema,
});

export const PermissionSchema = z.object({
  id: z.string(),
  type: z.literal("permissions"),
  attributes: z.object({
    name: z.string(),
    display_name: str,
    display_type: str,
    group_name: str,
    restricted: bool,
  }),
});
export type Permission = z.infer<typeof PermissionSchema>;

export const PermissionsResponseSchema = z.object({ data: entries });

// ---- teams ---------------------------------------------------------------------------------------------------

export const TeamSchema = z.object({
  id: z.string(),
  type: z.literal("team"),
  attributes: z.object({
    name: z.string(),
    handle: z.string(),
    summary: str,
    description: str,
    user_count: int,
    link_count: int,
    created_at: str,
    modified_at: str,
    is_managed: bool,
  }),
});
export type Team = z.infer<typeof TeamSchema>;

// The spec documents offset fields; real answers page by number (`type: "number_size"`, `number`, `last_number`,
// `next_number`, ...). Both are read; neither is required.
const TeamsPaginationSchema = z
  .object({
    pagination: z
      .object({
        total: int,
        limit: int,
        offset: int,
        next_offset: int,
        last_offset: int,
        type: str,
        number: int,
        size: int,
        next_number: int,
        last_number: int,
      })
      .nullish(),
  })
  .nullish();

export const TeamsResponseSchema = z.object({
  data: entries,
  included,
  links: z.object({ next: str }).nullish(),
  meta: TeamsPaginationSchema,
});

export const TeamMembershipSchema = z.object({
  id: z.string(),
  type: z.literal("team_memberships"),
  attributes: z.object({ role: str, provisioned_by: str, provisioned_by_id: str }).nullish(),
  relationships: z.object({
    user: z.object({ data: ResourceRefSchema }),
    team: toOne,
  }),
});
export type TeamMembership = z.infer<typeof TeamMembershipSchema>;

export const TeamMembershipsResponseSchema = z.object({
  data: entries,
  included,
  links: z.object({ next: str }).nullish(),
  meta: TeamsPaginationSchema,
});

export const TeamMembershipResponseSchema = z.object({
  data: TeamMembershipSchema,
  included,
});

// ---- on-call -------------------------------------------------------------------------------------------------

export const RoutingRulesResponseSchema = z.object({
  data: z.object({
    id: str,
    type: z.literal("team_routing_rules"),
    relationships: z.object({ rules: toMany }).nullish(),
  }),
  included,
});

export const RoutingRuleSchema = z.object({
  id: z.string(),
  type: z.literal("team_routing_rules"),
  relationships: z.object({ policy: toOne }).nullish(),
});
export type RoutingRule = z.infer<typeof RoutingRuleSchema>;

export const EscalationPolicyResponseSchema = z.object({
  data: z.object({
    id: str,
    type: z.literal("policies"),
    attributes: z.object({ name: str }).nullish(),
    relationships: z.object({ steps: toMany, teams: toMany }).nullish(),
  }),
  included,
});

export const EscalationStepSchema = z.object({
  id: z.string(),
  type: z.literal("steps"),
  relationships: z.object({ targets: toMany }).nullish(),
});

export const ScheduleTargetSchema = z.object({
  id: z.string(),
  type: z.literal("schedule_target"),
  relationships: z.object({ schedule: toOne }).nullish(),
});

export const ScheduleResponseSchema = z.object({
  data: z.object({
    id: str,
    type: z.literal("schedules"),
    attributes: z.object({ name: str, time_zone: str }).nullish(),
    relationships: z.object({ layers: toMany, teams: toMany }).nullish(),
  }),
  included,
});

export const LayerSchema = z.object({
  id: z.string(),
  type: z.literal("layers"),
  attributes: z.object({ name: str, effective_date: str, end_date: str, rotation_start: str }).nullish(),
  relationships: z.object({ members: toMany }).nullish(),
});

export const ScheduleMemberSchema = z.object({
  id: z.string(),
  type: z.literal("members"),
  relationships: z.object({ user: toOne }).nullish(),
});

export const ScheduleUserSchema = z.object({
  id: z.string(),
  type: z.literal("users"),
  attributes: z.object({ email: str, name: str, status: str }).nullish(),
});

export const TeamReferenceSchema = z.object({
  id: z.string(),
  type: z.literal("teams"),
  attributes: z.object({ name: str, handle: str }).nullish(),
});

// ---- keys ----------------------------------------------------------------------------------------------------

export const ApiKeySchema = z.object({
  id: z.string(),
  type: z.literal("api_keys"),
  attributes: z
    .object({
      name: str,
      created_at: str,
      modified_at: str,
      date_last_used: str,
      // Not in the spec; newer real answers carry both. `timestamp`'s type is not documented (read in values).
      last_used_date: z.object({ timestamp: z.unknown() }).nullish(),
      used_in_last_24_hours: bool,
      last4: str,
      category: str,
      remote_config_read_enabled: bool,
    })
    .nullish(),
  relationships: z.object({ created_by: toOne, modified_by: toOne }).nullish(),
});
export type ApiKey = z.infer<typeof ApiKeySchema>;

export const ApiKeysResponseSchema = z.object({
  data: entries,
  included,
  meta: z.object({ max_allowed: int, page: z.object({ total_filtered_count: int }).nullish() }).nullish(),
});

const appKeyAttributes = {
  name: str,
  created_at: str,
  last_used_at: str,
  last4: str,
  scopes: z.array(z.string()).nullish(),
};

export const ApplicationKeySchema = z.object({
  id: z.string(),
  type: z.literal("application_keys"),
  attributes: z.object(appKeyAttributes).nullish(),
  // Real answers carry only `owned_by`; `created_by` is read should an answer ever name a creator.
  relationships: z.object({ owned_by: toOne, created_by: toOne }).nullish(),
});
export type ApplicationKey = z.infer<typeof ApplicationKeySchema>;

export const ApplicationKeysResponseSchema = z.object({
  data: entries,
  included,
  meta: z.object({ max_allowed_per_user: int, page: z.object({ total_filtered_count: int }).nullish() }).nullish(),
});

export const ApplicationKeyResponseSchema = z.object({
  data: ApplicationKeySchema,
  included,
});

/** The answer to creating a key: the only time the key's secret value is returned. */
export const CreatedApplicationKeyResponseSchema = z.object({
  data: z.object({
    id: z.string().min(1),
    type: z.literal("application_keys"),
    attributes: z.object({ ...appKeyAttributes, key: z.string().min(1) }),
    relationships: z.object({ owned_by: toOne }).nullish(),
  }),
});

// ---- v1 validate ---------------------------------------------------------------------------------------------

export const ValidateResponseSchema = z.object({ valid: z.boolean() });

// ---- what makes a listed entry unusable rather than broken (tolerant.ts) ------------------------------------
// `sparse` lists the fields the spec leaves optional that the connector cannot do without; the spec's own
// required fields are not listed, so their absence still fails the answer.

/** Users (ListUsers; the spec's User requires nothing, not even an id). */
export const USER_ENTRY: EntryRule = { idKind: "user", sparse: ["id", "type", "attributes", "attributes.email"] };
/** A role's members (ListRoleUsers): who they are only. */
export const USER_REF_ENTRY: EntryRule = { idKind: "user", sparse: ["id", "type"] };
export const ROLE_ENTRY: EntryRule = { idKind: "role", sparse: ["id", "attributes", "attributes.name"] };
export const PERMISSION_ENTRY: EntryRule = { sparse: ["id", "attributes", "attributes.name"] };
/** The spec requires a team's id, type, name and handle: only a malformed id is skipped. */
export const TEAM_ENTRY: EntryRule = { idKind: "team", sparse: [] };
export const TEAM_MEMBERSHIP_ENTRY: EntryRule = {
  sparse: ["relationships", "relationships.user"],
  refs: (m: TeamMembership) => [{ kind: "user", id: m.relationships.user.data.id, what: "user" }],
};
export const API_KEY_ENTRY: EntryRule = { idKind: "apiKey", sparse: ["id", "type"] };
export const APPLICATION_KEY_ENTRY: EntryRule = { idKind: "appKey", sparse: ["id", "type"] };
/** Objects in `included` are auxiliary: any missing field makes one unusable (wrong types still fail). */
export const INCLUDED_ENTRY: EntryRule = { sparse: ["*"] };
