/**
 * A small connector built on the SDK's public entry points only, with every kind of action, one event feed
 * and one credential issuer: the subject of test/actions, test/events, test/credentials and the service-mode
 * tests of the new tasks. State is in memory and visible to tests (users' status, issued keys, events).
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ActionDefinition, Connector, CredentialIssuer, EventFeed, FeedEvent, ResourceSyncer } from "../../src/index.ts";
import { Code, ConnectorError, pack, resourceId, resourceType, secretResource, userResource } from "../../src/index.ts";
import {
  ActionType,
  CapabilityDetailCredentialOption,
  ConstraintKind,
  CredentialResourceMode,
  EventType,
  ResourceIdSchema,
  ResourceType_Trait,
} from "../../src/messages.ts";

export interface TestState {
  users: Map<string, { status: "enabled" | "disabled" }>;
  /** Issued keys by id → the plaintext the "target system" accepts. */
  keys: Map<string, { owner: string; secret: string; scopes: string[] }>;
  events: FeedEvent[];
  /** Resolving it lets the `slow_report` action finish. */
  slowGate: PromiseWithResolvers<void>;
  /** Remote job states for `remote_job`: polled by its `status`. */
  jobs: Map<string, "running" | "done" | "broken">;
  /** What `echo` and resource actions were given, for assertions. */
  seen: { action: string; args: unknown; resource?: string }[];
  /** When true, the issuer returns a broken answer of this kind (output-check tests). */
  brokenIssue?: "no-trait" | "wrong-identity" | "empty-value" | "wrong-type";
}

export const FEED_ID = "test_audit";
/** Events are one minute apart from here. */
export const FIRST_EVENT_AT = new Date("2026-01-01T00:00:00Z");
export const EVENT_COUNT = 250;

const userType = resourceType({ id: "user", displayName: "User", traits: [ResourceType_Trait.USER] });
const serviceAccountType = resourceType({ id: "service_account", displayName: "Service account", traits: [ResourceType_Trait.USER] });
const keyType = resourceType({ id: "api_key", displayName: "API key", traits: [ResourceType_Trait.SECRET] });

const empty = async () => ({ items: [] });

function seedEvents(): FeedEvent[] {
  const out: FeedEvent[] = [];
  for (let i = 0; i < EVENT_COUNT; i++) {
    const at = timestampFromDate(new Date(FIRST_EVENT_AT.getTime() + i * 60_000));
    const user = `u${i % 5}`;
    out.push(
      i % 2 === 0
        ? { id: `ev-${i}`, occurredAt: at, event: { case: "usageEvent", value: { targetResource: { id: resourceId("user", user) }, actorResource: { id: resourceId("user", user) } } } }
        : { id: `ev-${i}`, occurredAt: at, event: { case: "resourceChangeEvent", value: { resourceId: resourceId("user", user) } } },
    );
  }
  return out;
}

export function testState(): TestState {
  return {
    users: new Map(["u0", "u1", "u2", "u3", "u4"].map((id) => [id, { status: "enabled" as const }])),
    keys: new Map(),
    events: seedEvents(),
    slowGate: Promise.withResolvers<void>(),
    jobs: new Map(),
    seen: [],
  };
}

function userActions(state: TestState): ActionDefinition[] {
  const target = { name: "user", displayName: "User", isRequired: true, field: { case: "resourceIdField" as const, value: {} } };
  const setStatus = (name: string, type: ActionType, status: "enabled" | "disabled"): ActionDefinition => ({
    name,
    displayName: name,
    actionTypes: [type],
    arguments: [target],
    requiresProvisioning: true,
    async invoke(_ctx, args, id) {
      if (!id) throw new ConnectorError(Code.INVALID_ARGUMENT, "argument user is required");
      const user = state.users.get(id.resource);
      if (!user) throw new ConnectorError(Code.NOT_FOUND, `user ${id.resource} not found`);
      state.seen.push({ action: name, args, resource: id.resource });
      const changed = user.status !== status;
      user.status = status;
      return { status: "complete", response: { success: true, changed } };
    },
  });
  return [setStatus("disable_user", ActionType.ACCOUNT_DISABLE, "disabled"), setStatus("enable_user", ActionType.ACCOUNT_ENABLE, "enabled")];
}

function globalActions(state: TestState): ActionDefinition[] {
  return [
    {
      name: "echo",
      displayName: "Echo",
      description: "Answers with its arguments",
      actionTypes: [ActionType.DYNAMIC],
      arguments: [{ name: "message", displayName: "Message", field: { case: "stringField", value: {} } }],
      returnTypes: [{ name: "message", displayName: "Message", field: { case: "stringField", value: {} } }],
      async invoke(_ctx, args) {
        state.seen.push({ action: "echo", args });
        return { status: "complete", response: { success: true, ...args } };
      },
    },
    {
      name: "slow_report",
      displayName: "Slow report",
      actionTypes: [ActionType.DYNAMIC],
      arguments: [],
      async invoke(ctx) {
        await new Promise<void>((resolve, reject) => {
          state.slowGate.promise.then(resolve);
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
        });
        return { status: "complete", response: { rows: 42 } };
      },
    },
    {
      name: "remote_job",
      displayName: "Remote job",
      actionTypes: [ActionType.DYNAMIC],
      arguments: [],
      async invoke() {
        const handle = `job-${state.jobs.size + 1}`;
        state.jobs.set(handle, "running");
        return { status: "pending", handle, response: { queued: true } };
      },
      async status(_ctx, handle) {
        const job = state.jobs.get(handle ?? "");
        if (job === "done") return { status: "complete", response: { job: handle ?? "" } };
        if (job === "broken") return { status: "failed", error: `job ${handle} broke` };
        return { status: "pending" };
      },
    },
    {
      name: "explode",
      displayName: "Explode",
      actionTypes: [ActionType.DYNAMIC],
      arguments: [],
      async invoke() {
        throw new ConnectorError(Code.UNAVAILABLE, "the target system is down");
      },
    },
    {
      name: "strict",
      displayName: "Strict",
      actionTypes: [ActionType.DYNAMIC],
      arguments: ["a", "b", "c", "d"].map((n) => ({ name: n, displayName: n, field: { case: "stringField" as const, value: {} } })),
      constraints: [
        { kind: ConstraintKind.REQUIRED_TOGETHER, fieldNames: ["a", "b"] },
        { kind: ConstraintKind.MUTUALLY_EXCLUSIVE, fieldNames: ["c", "d"] },
      ],
      async invoke(_ctx, args) {
        return { status: "complete", response: args };
      },
    },
  ];
}

function auditFeed(state: TestState): EventFeed {
  return {
    id: FEED_ID,
    eventKinds: [EventType.USAGE, EventType.RESOURCE_CHANGE],
    async list(_ctx, { cursor, startAt, pageSize }) {
      // The cursor is the index of the next event; without one, start at the first event at or after startAt.
      let from: number;
      if (cursor) {
        from = Number.parseInt(cursor, 10);
        if (!Number.isSafeInteger(from) || from < 0) throw new ConnectorError(Code.INVALID_ARGUMENT, "cursor is not one this feed gave");
      } else {
        const t = startAt?.getTime() ?? 0;
        from = state.events.findIndex((e) => Number(e.occurredAt!.seconds) * 1000 >= t);
        if (from < 0) from = state.events.length;
      }
      const events = state.events.slice(from, from + pageSize);
      const next = from + events.length;
      return { events, cursor: String(next), hasMore: next < state.events.length };
    },
  };
}

function keyIssuer(state: TestState): CredentialIssuer {
  return {
    preferredOption: CapabilityDetailCredentialOption.API_KEY,
    options: [
      {
        option: CapabilityDetailCredentialOption.API_KEY,
        scopes: ["read", "write"],
        resourceMode: CredentialResourceMode.DISCOVERABLE,
        secretResourceTypeId: "api_key",
      },
    ],
    async issue(_ctx, { identityId, options, requestId }) {
      const scopes = options.options.case === "apiKey" ? options.options.value.scopes : [];
      const id = `key-${requestId}`;
      const secret = `sk_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
      state.keys.set(id, { owner: identityId.resource, secret, scopes });
      const broken = state.brokenIssue;
      const identity = broken === "wrong-identity" ? resourceId("service_account", "someone-else") : identityId;
      const resource =
        broken === "no-trait"
          ? userResource({ type: "api_key", id, displayName: id, user: {} })
          : secretResource({ type: broken === "wrong-type" ? "user" : "api_key", id, displayName: id, secret: { identityId: identity } });
      return {
        secret: resource,
        plaintext: [{ name: "api_key", bytes: new TextEncoder().encode(broken === "empty-value" ? "" : secret) }],
        // Any message will do: the tests check that the annotations reach the caller.
        annotations: [pack(ResourceIdSchema, { resourceType: "issued-by", resource: "test" })],
      };
    },
  };
}

export function testConnector(state: TestState): Connector {
  const users: ResourceSyncer = {
    resourceType: userType,
    async list() {
      return { items: [...state.users].map(([id, u]) => userResource({ type: "user", id, displayName: id, status: u.status, user: {} })) };
    },
    entitlements: empty,
    grants: empty,
    actions: userActions(state),
  };
  const serviceAccounts: ResourceSyncer = {
    resourceType: serviceAccountType,
    async list() {
      return { items: [userResource({ type: "service_account", id: "sa1", displayName: "sa1", user: {} })] };
    },
    entitlements: empty,
    grants: empty,
    credentialIssuer: keyIssuer(state),
  };
  const keys: ResourceSyncer = {
    resourceType: keyType,
    async list() {
      return { items: [...state.keys].map(([id, k]) => secretResource({ type: "api_key", id, displayName: id, secret: { identityId: resourceId("service_account", k.owner) } })) };
    },
    entitlements: empty,
    grants: empty,
    deleter: {
      async delete(_ctx, id) {
        state.keys.delete(id.resource);
        return {};
      },
    },
  };
  return {
    info: { displayName: "Actions test connector" },
    syncers: [users, serviceAccounts, keys],
    async validate() {},
    actions: globalActions(state),
    eventFeeds: [auditFeed(state)],
  };
}
