/**
 * Decoding a GetTask answer so that a task whose bytes do not decode is still finished, not polled forever: when
 * the whole answer fails to decode, the task's id (field 1 of Task) and the field number of its type are read
 * from the raw bytes, and the task is reported as malformed. The Go SDK cannot do this (its gRPC client fails the
 * call, and the task stays unfinished); without a readable id nothing can be finished here either, and the
 * answer is an error like any failed poll (retried with backoff).
 */
import { create, fromBinary } from "@bufbuild/protobuf";
import { DurationSchema, type Duration } from "@bufbuild/protobuf/wkt";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import {
  BatonServiceGetTaskResponseSchema,
  TaskSchema,
  type BatonServiceGetTaskResponse,
} from "../gen/c1/connectorapi/baton/v1/baton_pb.js";
import { Code, ConnectorError } from "../connector/errors.ts";

/** A GetTask answer; `undecodable` is set when its task was salvaged from bytes that do not decode. */
export type PolledTask = BatonServiceGetTaskResponse & {
  undecodable?: {
    /** Why the bytes do not decode (the decoder's words). */
    reason: string;
    /** The proto name of the task's type when its field number is known (e.g. "grant"). */
    kind?: string;
  };
};

const MAX_ID_BYTES = 1024;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export function decodeGetTaskResponse(bytes: Uint8Array): PolledTask {
  try {
    return fromBinary(BatonServiceGetTaskResponseSchema, bytes);
  } catch (err) {
    return salvage(bytes, (err as Error).message);
  }
}

function salvage(bytes: Uint8Array, reason: string): PolledTask {
  let taskBytes: Uint8Array | undefined;
  let nextPoll: Duration | undefined;
  let nextHeartbeat: Duration | undefined;
  readFields(bytes, (no, wireType, reader) => {
    if (wireType !== WireType.LengthDelimited || no < 1 || no > 3) return false;
    const value = reader.bytes();
    if (no === 1) taskBytes = value;
    else if (no === 2) nextPoll = durationOrUndefined(value);
    else nextHeartbeat = durationOrUndefined(value);
    return true;
  });
  let id: string | undefined;
  let typeField: number | undefined;
  if (taskBytes) {
    readFields(taskBytes, (no, wireType, reader) => {
      if (no === 1 && wireType === WireType.LengthDelimited && id === undefined) {
        const raw = reader.bytes();
        if (raw.length > 0 && raw.length <= MAX_ID_BYTES) {
          try {
            id = strictUtf8.decode(raw);
          } catch {
            // an id that is not text cannot be echoed back: left unread
          }
        }
        return true;
      }
      if (no >= 100 && typeField === undefined) typeField = no;
      return false;
    });
  }
  if (!id) {
    throw new ConnectorError(
      Code.INTERNAL,
      `GetTask: the platform's answer does not decode (${reason}) and holds no readable task id, so the task cannot be finished`,
    );
  }
  const kind = typeField === undefined ? undefined : TaskSchema.fields.find((f) => f.number === typeField && f.oneof)?.name;
  return Object.assign(create(BatonServiceGetTaskResponseSchema, { task: { id }, nextPoll, nextHeartbeat }), {
    undecodable: { reason, kind },
  });
}

/**
 * Walks the fields of `bytes` until they end or stop decoding; `take` reads a field's value and returns true, or
 * returns false to have it skipped.
 */
function readFields(bytes: Uint8Array, take: (no: number, wireType: WireType, reader: BinaryReader) => boolean): void {
  const reader = new BinaryReader(bytes);
  try {
    while (reader.pos < reader.len) {
      const [no, wireType] = reader.tag();
      if (!take(no, wireType, reader)) reader.skip(wireType, no);
    }
  } catch {
    // the rest does not decode: what was read so far is all there is
  }
}

function durationOrUndefined(bytes: Uint8Array): Duration | undefined {
  try {
    return fromBinary(DurationSchema, bytes);
  } catch {
    return undefined;
  }
}
