/**
 * One error type for everything that crosses the connector boundary. It carries a gRPC status code so that
 * the in-process path and the gRPC path report the same failure the same way (a Go engine decides whether to
 * retry from the code alone: only UNAVAILABLE and DEADLINE_EXCEEDED are retried).
 */
import type { Any } from "@bufbuild/protobuf/wkt";

/** gRPC status codes (numeric values are the wire contract). */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type Code = (typeof Code)[keyof typeof Code];

const codeNames = new Map<number, string>(Object.entries(Code).map(([name, value]) => [value, name]));

export function codeName(code: number): string {
  return codeNames.get(code) ?? `CODE_${code}`;
}

export class ConnectorError extends Error {
  readonly code: Code;
  /** Status details (google.rpc.Status.details), e.g. a packed RateLimitDescription. */
  readonly details: Any[];

  constructor(code: Code, message: string, options?: { cause?: unknown; details?: Any[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ConnectorError";
    this.code = code;
    this.details = options?.details ?? [];
  }

  /** Wraps anything thrown into a ConnectorError; unknown errors become INTERNAL (UNKNOWN hides too much). */
  static from(err: unknown): ConnectorError {
    if (err instanceof ConnectorError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new ConnectorError(Code.INTERNAL, message, { cause: err });
  }

  override toString(): string {
    return `${codeName(this.code)}: ${this.message}`;
  }
}

export function isRetryableCode(code: number): boolean {
  return code === Code.UNAVAILABLE || code === Code.DEADLINE_EXCEEDED;
}
