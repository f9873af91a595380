/**
 * Which tasks are refused and how (PROTOCOL-2 §7), and the GetTask decoder that salvages a task whose bytes do not
 * decode; pure functions, no platform.
 */
import { describe, expect, it } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectorError } from "../../src/connector/errors.ts";
import { BatonServiceGetTaskResponseSchema, TaskSchema, type Task } from "../../src/gen/c1/connectorapi/baton/v1/baton_pb.js";
import { decodeGetTaskResponse } from "../../src/service/get-task-decode.ts";
import { refuseTask } from "../../src/service/task-rules.ts";

const task = (init: Parameters<typeof create<typeof TaskSchema>>[1]): Task => create(TaskSchema, { id: "t", ...init });
const refusal = (t: Task) => {
  const r = refuseTask(t);
  return r && { code: r.code, message: r.message, nonRetryable: r.nonRetryable };
};
const marker = "\ntask failed and is non-retryable";

describe("refuseTask", () => {
  it("runs the kinds this service implements when they carry what they need", () => {
    const rid = { resourceType: "user", resource: "u1" };
    for (const t of [
      task({ taskType: { case: "hello", value: {} } }),
      task({ taskType: { case: "syncFull", value: {} } }),
      task({ taskType: { case: "grant", value: { entitlement: { id: "e" }, principal: { id: rid } } } }),
      task({ taskType: { case: "revoke", value: { grant: { id: "g" } } } }),
      task({ taskType: { case: "createAccount", value: { accountInfo: {} } } }),
      task({ taskType: { case: "createResource", value: { resource: {} } } }),
      task({ taskType: { case: "deleteResource", value: { resourceId: rid } } }),
      task({ taskType: { case: "rotateCredentials", value: { resourceId: rid } } }),
      task({ taskType: { case: "issueCredential", value: { identityId: rid, credentialOptions: {}, encryptionConfigs: [{}] } } }),
      task({ taskType: { case: "listEvents", value: {} } }),
      task({ taskType: { case: "listEventFeeds", value: {} } }),
      task({ taskType: { case: "actionListSchemas", value: {} } }),
      task({ taskType: { case: "actionGetSchema", value: { name: "x" } } }),
      task({ taskType: { case: "actionInvoke", value: { name: "x" } } }),
      task({ taskType: { case: "actionStatus", value: { id: "x" } } }),
    ]) {
      expect(refusal(t), t.taskType.case).toBeUndefined();
    }
  });

  it("finishes a known kind missing what it needs as Go does: UNKNOWN, the reason + the marker, non-retryable", () => {
    const cases: [Task, string][] = [
      [task({ taskType: { case: "grant", value: { entitlement: { id: "e" } } } }), "malformed grant task"],
      [task({ taskType: { case: "revoke", value: {} } }), "invalid task type"],
      [task({ taskType: { case: "createAccount", value: {} } }), "malformed create account task"],
      [task({ taskType: { case: "createResource", value: {} } }), "malformed create resource task"],
      [task({ taskType: { case: "deleteResource", value: {} } }), "malformed delete resource task"],
      [task({ taskType: { case: "rotateCredentials", value: {} } }), "malformed rotate credentials task"],
      [task({ taskType: { case: "issueCredential", value: { identityId: { resourceType: "u", resource: "1" }, credentialOptions: {} } } }), "malformed issue credential task"],
    ];
    for (const [t, reason] of cases) expect(refusal(t)).toEqual({ code: Code.UNKNOWN, message: reason + marker, nonRetryable: true });
  });

  it("finishes unknown and unhandled kinds as UNKNOWN \"unsupported task type\", retryable; actions check their name first", () => {
    const unsupported = { code: Code.UNKNOWN, message: "unsupported task type", nonRetryable: false };
    const unknown = task({});
    unknown.$unknown = [{ no: 150, wireType: WireType.Varint, data: new Uint8Array([1]) }];
    for (const t of [
      unknown,
      task({}),
      task({ taskType: { case: "eventFeed", value: {} } }),
      task({ taskType: { case: "createSyncDiff", value: {} } }),
      task({ taskType: { case: "compactSyncs", value: {} } }),
      task({ taskType: { case: "createTicketTask", value: {} } }),
    ]) {
      expect(refusal(t)).toEqual(unsupported);
    }
    expect(refusal(task({ taskType: { case: "actionGetSchema", value: {} } }))).toEqual({ code: Code.UNKNOWN, message: "action name required", nonRetryable: false });
    expect(refusal(task({ taskType: { case: "actionStatus", value: { name: "x" } } }))).toEqual({ code: Code.UNKNOWN, message: "action id required", nonRetryable: false });
  });
});

describe("decodeGetTaskResponse", () => {
  const answerWithTaskBytes = (taskBytes: Uint8Array, extra?: (w: BinaryWriter) => void) => {
    const w = new BinaryWriter();
    w.tag(1, WireType.LengthDelimited).bytes(taskBytes);
    extra?.(w);
    return w.finish();
  };

  it("decodes a well-formed answer as it is", () => {
    const bytes = toBinary(BatonServiceGetTaskResponseSchema, create(BatonServiceGetTaskResponseSchema, { task: { id: "a", taskType: { case: "hello", value: {} } }, nextPoll: { seconds: 2n } }));
    const got = decodeGetTaskResponse(bytes);
    expect(got.undecodable).toBeUndefined();
    expect(got.task?.taskType.case).toBe("hello");
    expect(got.nextPoll?.seconds).toBe(2n);
  });

  it("salvages the id, the kind and the poll interval of a task whose body does not decode", () => {
    const inner = new BinaryWriter();
    inner.tag(1, WireType.LengthDelimited).string("task-7");
    inner.tag(105, WireType.LengthDelimited).bytes(new Uint8Array([0x0a, 0x05, 0xff])); // create_account, cut short inside
    const bytes = answerWithTaskBytes(inner.finish(), (w) => w.tag(2, WireType.LengthDelimited).bytes(new BinaryWriter().tag(1, WireType.Varint).int64(3).finish()));
    const got = decodeGetTaskResponse(bytes);
    expect(got.task?.id).toBe("task-7");
    expect(got.undecodable).toEqual({ reason: expect.any(String), kind: "create_account" });
    expect(got.nextPoll?.seconds).toBe(3n);
  });

  it("salvages a task whose strings are not UTF-8, and names no kind for an unknown field", () => {
    const inner = new BinaryWriter();
    inner.tag(1, WireType.LengthDelimited).string("task-8");
    inner.tag(140, WireType.LengthDelimited).bytes(new Uint8Array([0x0a, 0x02, 0xc3, 0x28]));
    const bad = new BinaryWriter();
    bad.tag(1, WireType.LengthDelimited).string("task-9");
    bad.tag(103, WireType.LengthDelimited).bytes(new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(new Uint8Array([0xc3, 0x28])).finish()).finish());
    const got = decodeGetTaskResponse(answerWithTaskBytes(bad.finish()));
    expect(got.task?.id).toBe("task-9");
    expect(got.undecodable?.kind).toBe("grant");
    // An unknown field is kept by the decoder, not an error: the task decodes, with no type.
    const fine = decodeGetTaskResponse(answerWithTaskBytes(inner.finish()));
    expect(fine.undecodable).toBeUndefined();
    expect(fine.task?.taskType.case).toBeUndefined();
  });

  it("throws when no id can be read (nothing could be finished)", () => {
    for (const bytes of [new Uint8Array([0x0a, 0xff, 0xff]), answerWithTaskBytes(new Uint8Array([0x0a, 0x02, 0xc3, 0x28, 0x12, 0x01]))]) {
      expect(() => decodeGetTaskResponse(bytes)).toThrow(ConnectorError);
      expect(() => decodeGetTaskResponse(bytes)).toThrow(/holds no readable task id/);
    }
  });
});
