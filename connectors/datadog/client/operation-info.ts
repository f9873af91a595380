/**
 * How a Datadog operation is declared: method, path template and the permission the spec documents for it
 * (x-permission, or the AuthZ scope where x-permission is absent). Resource type files declare the operations
 * they use with `op`; client/operations.ts gathers them into the table the client, the diagnosis and the
 * contract tests read. A leaf module on purpose: resource type files import it without loading the client.
 */

export interface OperationInfo {
  id: string;
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  /** Any one of these is enough (the spec's operator is OR for all of ours). */
  permissions: readonly string[];
  /** What the operation is for, in words, e.g. "list users". */
  purpose: string;
}

export function op<const Id extends string>(
  id: Id,
  method: OperationInfo["method"],
  path: string,
  permissions: string[],
  purpose: string,
): OperationInfo & { id: Id } {
  return { id, method, path, permissions, purpose };
}
