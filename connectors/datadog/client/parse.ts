/**
 * Validating API answers with zod, failing with a message that names the operation and the field:
 *   "ListUsers: response field data[3].attributes.email: expected string, received number"
 * The message is built from the path and zod's type description only: never from the value (a response may
 * carry secrets, e.g. a newly created key).
 */
import type { z } from "zod";
import { HttpError, HttpErrorCode } from "../../../src/api-client.ts";

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_$][\w$]*$/.test(key)) out += out === "" ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const text = issue.message.replace(/^Invalid input: /, "");
  if (issue.code === "invalid_type" && /received undefined$/.test(text)) return `${text.replace(/, received undefined$/, "")}, but it is missing`;
  return text;
}

export class ResponseShapeError extends HttpError {
  readonly fieldPath: string;
  constructor(operation: string, fieldPath: string, detail: string) {
    super({ code: HttpErrorCode.INVALID_RESPONSE, operation, message: detail });
    this.name = "ResponseShapeError";
    this.fieldPath = fieldPath;
  }
}

/** Parses `body` with `schema`; `prefix` is prepended to field paths (e.g. "included[4]"). */
export function parseResponse<S extends z.ZodType>(operation: string, schema: S, body: unknown, prefix: readonly PropertyKey[] = []): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const first = issues[0];
  const path = formatPath([...prefix, ...first.path]);
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? "s" : ""})` : "";
  const where = path === "" ? "response body" : `response field ${path}`;
  throw new ResponseShapeError(operation, path, `${where}: ${describeIssue(first)}${more}`);
}

/** The `included` entries of one type, each validated with `schema` (paths point into `included[i]`). */
export function includedOfType<S extends z.ZodType>(
  operation: string,
  included: readonly { id: string; type: string }[] | null | undefined,
  type: string,
  schema: S,
): z.output<S>[] {
  const out: z.output<S>[] = [];
  if (!included) return out;
  for (let i = 0; i < included.length; i++) {
    if (included[i].type === type) out.push(parseResponse(operation, schema, included[i], ["included", i]));
  }
  return out;
}
