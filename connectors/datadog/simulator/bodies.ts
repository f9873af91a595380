/**
 * Request bodies the simulator accepts, written by hand from the spec's request schemas so that the simulator
 * does not load the 4 MB spec at run time. Unknown fields are tolerated, as the spec does not forbid them;
 * required fields, `type` enums and value types are enforced, and a mismatch is a 400 naming the field.
 */
import { z } from "zod";
import { badRequest } from "./errors.ts";

/** Schema RelationshipToUser: `{"data": {"id", "type": "users"}}`. */
export const RelationshipToUser = z.object({
  data: z.object({ id: z.string().min(1), type: z.literal("users") }),
});

const UserTeamRole = z.enum(["admin"]).nullable();

/** Schema UserTeamRequest (POST team membership). The API needs the user relationship to know whom to add. */
export const UserTeamRequest = z.object({
  data: z.object({
    type: z.literal("team_memberships"),
    attributes: z.object({ role: UserTeamRole.optional() }).optional(),
    relationships: z.object({
      user: RelationshipToUser,
      team: z.object({ data: z.object({ id: z.string(), type: z.literal("team") }) }).optional(),
    }),
  }),
});

/** Schema UserTeamUpdateRequest (PATCH team membership). */
export const UserTeamUpdateRequest = z.object({
  data: z.object({
    type: z.literal("team_memberships"),
    attributes: z.object({ role: UserTeamRole.optional() }).optional(),
  }),
});

/** Schema UserCreateRequest. */
export const UserCreateRequest = z.object({
  data: z.object({
    type: z.literal("users"),
    attributes: z.object({
      email: z.string().min(3).regex(/^[^\s@]+@[^\s@]+$/, "must be an email address"),
      name: z.string().optional(),
      title: z.string().optional(),
    }),
    relationships: z
      .object({
        roles: z
          .object({ data: z.array(z.object({ id: z.string().min(1), type: z.literal("roles").optional() })).optional() })
          .optional(),
      })
      .optional(),
  }),
});

/** Schema UserUpdateRequest (PATCH /users/{id}): `id` and `type` required, every attribute optional. */
export const UserUpdateRequest = z.object({
  data: z.object({
    type: z.literal("users"),
    id: z.string().min(1),
    attributes: z.object({ disabled: z.boolean().optional(), email: z.string().min(3).optional(), name: z.string().optional() }),
  }),
});

/** Schema UserInvitationsRequest. */
export const UserInvitationsRequest = z.object({
  data: z
    .array(
      z.object({
        type: z.literal("user_invitations"),
        relationships: z.object({ user: RelationshipToUser }),
      }),
    )
    .min(1),
});

/** Schema ApplicationKeyCreateRequest. */
export const ApplicationKeyCreateRequest = z.object({
  data: z.object({
    type: z.literal("application_keys"),
    attributes: z.object({
      name: z.string().min(1),
      scopes: z.array(z.string().min(1)).nullable().optional(),
    }),
  }),
});

/** Parses a JSON body against `schema`, or throws 400 with one line per problem (path: message). */
export function parseBody<T>(raw: Buffer, schema: z.ZodType<T>): T {
  if (raw.length === 0) throw badRequest("Request body is required");
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch {
    throw badRequest("Request body is not valid JSON");
  }
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  throw badRequest(
    ...result.error.issues.map((issue) => `Invalid body: ${issue.path.length ? issue.path.join(".") : "(root)"}: ${issue.message}`),
  );
}
