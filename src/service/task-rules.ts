/**
 * Tasks that cannot be run are finished, never dropped, the way the Go SDK (v0.25) finishes them
 * (PROTOCOL-2 §7): an unknown or unhandled type → UNKNOWN "unsupported task type", retryable; a known type
 * missing what it needs → UNKNOWN "malformed <kind> task" + LF + "task failed and is non-retryable",
 * non-retryable. Both are refused before any heartbeat or connector call.
 */
import type { Task } from "../gen/c1/connectorapi/baton/v1/baton_pb.js";
import { Code, ConnectorError } from "../connector/errors.ts";

export const UNSUPPORTED_TASK_TYPE = "unsupported task type";
/** Go's ErrTaskNonRetryable text, joined to the reason with a newline. */
export const NON_RETRYABLE_MARKER = "task failed and is non-retryable";

/** A task failure whose retryability is decided here, not from its code. */
export class TaskFailure extends ConnectorError {
  readonly nonRetryable: boolean;

  constructor(code: Code, message: string, nonRetryable: boolean) {
    super(code, message);
    this.name = "TaskFailure";
    this.nonRetryable = nonRetryable;
  }
}

export const unsupportedTask = () => new TaskFailure(Code.UNKNOWN, UNSUPPORTED_TASK_TYPE, false);
export const malformedTask = (reason: string) => new TaskFailure(Code.UNKNOWN, `${reason}\n${NON_RETRYABLE_MARKER}`, true);

/**
 * Why `task` cannot be run, or undefined when it can. The kinds this service runs are listed; every other kind
 * (the local-only event_feed, tickets, diffs, compaction, a type this build does not know) is unsupported. The
 * action kinds have Go's own checks (retryable UNKNOWN, no marker).
 */
export function refuseTask(task: Task): TaskFailure | undefined {
  const t = task.taskType;
  switch (t.case) {
    case "hello":
    case "syncFull":
      return undefined;
    case "grant":
      return t.value.entitlement && t.value.principal ? undefined : malformedTask("malformed grant task");
    case "revoke":
      return t.value.grant ? undefined : malformedTask("invalid task type");
    case "createAccount":
      return t.value.accountInfo ? undefined : malformedTask("malformed create account task");
    case "createResource":
      return t.value.resource ? undefined : malformedTask("malformed create resource task");
    case "deleteResource":
      return t.value.resourceId ? undefined : malformedTask("malformed delete resource task");
    case "rotateCredentials":
      return t.value.resourceId ? undefined : malformedTask("malformed rotate credentials task");
    case "issueCredential":
      return t.value.identityId && t.value.credentialOptions && t.value.encryptionConfigs.length > 0
        ? undefined
        : malformedTask("malformed issue credential task");
    case "actionListSchemas":
    case "listEventFeeds":
    case "listEvents":
      return undefined;
    case "actionGetSchema":
    case "actionInvoke":
      return t.value.name ? undefined : new TaskFailure(Code.UNKNOWN, "action name required", false);
    case "actionStatus":
      return t.value.id ? undefined : new TaskFailure(Code.UNKNOWN, "action id required", false);
    default:
      return unsupportedTask();
  }
}
