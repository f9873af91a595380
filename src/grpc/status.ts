/**
 * ConnectorError <-> gRPC status. Details travel as a google.rpc.Status in the `grpc-status-details-bin`
 * trailer, exactly as grpc-go's status package sends and reads them, so Go peers see the same details.
 */
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectorError } from "../connector/errors.ts";
import { StatusSchema } from "../gen/google/rpc/status_pb.js";

export const STATUS_DETAILS_KEY = "grpc-status-details-bin";

/** What grpc-js accepts as a call's final status (the `details` field is the status message). */
export type GrpcStatus = { code: grpc.status; details: string; metadata: grpc.Metadata };

/**
 * Turns anything a handler threw into a gRPC status. A ConnectorError keeps its code, message and details;
 * anything else becomes INTERNAL with its message only (never a stack trace).
 */
export function toGrpcStatus(err: unknown): GrpcStatus {
  const e = ConnectorError.from(err);
  const code = e.code === Code.OK ? Code.UNKNOWN : e.code; // an error must not read as success
  const metadata = new grpc.Metadata();
  if (e.details.length > 0) {
    const status = create(StatusSchema, { code, message: e.message, details: e.details });
    metadata.set(STATUS_DETAILS_KEY, Buffer.from(toBinary(StatusSchema, status)));
  }
  return { code, details: e.message, metadata };
}

/** Turns a grpc-js client error (a ServiceError) into a ConnectorError with the decoded status details. */
export function fromGrpcError(err: unknown): ConnectorError {
  if (err instanceof ConnectorError) return err;
  if (!isServiceError(err)) return ConnectorError.from(err);
  const raw = err.metadata?.get(STATUS_DETAILS_KEY)[0];
  let details: ConnectorError["details"] = [];
  if (raw instanceof Uint8Array) {
    try {
      details = fromBinary(StatusSchema, raw).details;
    } catch {
      // A peer sent an undecodable trailer: keep the code and message, drop the details.
    }
  }
  return new ConnectorError(err.code as Code, err.details, { cause: err, details });
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === "number" && "details" in err;
}
