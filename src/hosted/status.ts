/**
 * Statuses of hosted invocations (HOSTED-LAMBDA.md §4.6): the OK status of a success, and the google.rpc.Status an
 * error becomes. A ConnectorError keeps its code, message and details; anything else is mapped like the Go
 * transport maps application errors (cancel, deadline, transient network failures, else UNKNOWN). Messages are
 * the error's message only, never a stack.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectorError } from "../connector/errors.ts";
import { StatusSchema, type Status } from "../gen/google/rpc/status_pb.js";

export const OK_STATUS: Status = create(StatusSchema, { code: Code.OK, message: "OK" });

/** What a recovered bug (Go: a panic) answers: the message says nothing about the cause on purpose. */
export const INTERNAL_SERVER_ERROR = "Internal Server Error";

/** Substrings the Go transport treats as a transient network failure (UNAVAILABLE). */
const TRANSIENT_TEXT = [
  "connection reset by peer",
  "broken pipe",
  "connection refused",
  "http2: client connection lost",
  "i/o timeout",
  "connection timed out",
  "TLS handshake timeout",
  "no such host",
];
/** Node's spellings of the same failures. */
const TRANSIENT_ERRNO = new Set(["ECONNRESET", "EPIPE", "ECONNREFUSED", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_SOCKET"]);

export function status(code: Code, message: string, details: Status["details"] = []): Status {
  return create(StatusSchema, { code, message, details });
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === "string" ? err : "non-error value thrown";
}

function isTransient(err: unknown, message: string): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && TRANSIENT_ERRNO.has(code)) return true;
  if (TRANSIENT_TEXT.some((t) => message.includes(t))) return true;
  return message.includes("unexpected EOF") && !message.includes("unexpected EOF on client connection");
}

/**
 * The status an error thrown by a connector method becomes. `deadline` says the call's deadline had passed when
 * it failed: a cancellation that the deadline caused reads as DEADLINE_EXCEEDED, as in Go.
 */
export function statusForError(err: unknown, deadline: { expired: boolean; cancelled: boolean } = { expired: false, cancelled: false }): Status {
  if (err instanceof ConnectorError) {
    if (deadline.expired && (err.code === Code.CANCELLED || err.code === Code.DEADLINE_EXCEEDED)) {
      return status(Code.DEADLINE_EXCEEDED, `deadline exceeded: ${err.message}`);
    }
    const code = err.code === Code.OK ? Code.UNKNOWN : err.code; // an error must not read as success
    return status(code, err.message, err.details);
  }
  const message = messageOf(err);
  if (deadline.expired) return status(Code.DEADLINE_EXCEEDED, `deadline exceeded: ${message}`);
  if (deadline.cancelled) return status(Code.CANCELLED, `canceled: ${message}`);
  if (isTransient(err, message)) return status(Code.UNAVAILABLE, `transient network error: ${message}`);
  return status(Code.UNKNOWN, `unknown error: ${message}`);
}
