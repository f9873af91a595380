/**
 * The Datadog connector's Audit Trail event feeds over real gRPC against the simulator, through the
 * generated-proto client: the feeds listed with their kinds; real changes made through the simulator's API (role
 * and team memberships, a user created, disabled and enabled, keys created and deleted) and the logins and key
 * uses it is told about, each read back as its Baton event; paging from a start_at with a small page size and
 * the cursor, resuming from the end cursor (nothing twice, new events only), and hostile answers read tolerantly
 * or refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createConnectorService } from "../../src/connector/service.ts";
import { Code } from "../../src/connector/errors.ts";
import type { ConnectorRpc } from "../../src/connector/rpc.ts";
import { serveConnector, type ServedConnector } from "../../src/grpc/connector-server.ts";
import { connectorClient } from "../../src/grpc/connector-client.ts";
import { EventType, type Event } from "../../src/gen/c1/connector/v2/event_feed_pb.js";
import { setUserDisabled } from "../../connectors/datadog/client/user-state.ts";
import { changeEvents, CHANGES_FEED, USAGE_FEED, usageEvents } from "../../connectors/datadog/resources/audit-feed.ts";
import type { AuditEntry } from "../../connectors/datadog/client/audit.ts";
import { startHarness, type Harness } from "./harness.ts";

let h: Harness;
let rpc: ConnectorRpc;
const servers: ServedConnector[] = [];
const clients: (ConnectorRpc & { close(): void })[] = [];

/** One line per event: what it is and the ids it names. */
function summary(e: Event): string {
  switch (e.event.case) {
    case "usageEvent":
      return `usage ${e.event.value.targetResource?.id?.resourceType}:${e.event.value.targetResource?.id?.resource} by ${e.event.value.actorResource?.id?.resource ?? "-"}`;
    case "createGrantEvent":
      return `grant ${e.event.value.entitlement?.id} to ${e.event.value.principal?.id?.resource}`;
    case "createRevokeEvent":
      return `revoke ${e.event.value.entitlement?.id} from ${e.event.value.principal?.id?.resource}`;
    case "resourceChangeEvent":
      return `change ${e.event.value.resourceId?.resourceType}:${e.event.value.resourceId?.resource}`;
    default:
      return `other ${e.event.case}`;
  }
}

/** Every event of a feed from `startAt`, page by page; the pages and the last cursor too. */
async function readAll(feed: string, startAt: Date, pageSize: number, cursor = "") {
  const events: Event[] = [];
  const pages: number[] = [];
  for (let i = 0; i < 200; i++) {
    const page = await rpc.listEvents({ eventFeedId: feed, startAt: timestampFromDate(startAt), pageSize, cursor });
    expect(page.events.length).toBeLessThanOrEqual(pageSize);
    expect(Buffer.byteLength(page.cursor)).toBeLessThanOrEqual(4096);
    expect(page.cursor).not.toBe("");
    events.push(...page.events);
    pages.push(page.events.length);
    cursor = page.cursor;
    if (!page.hasMore) return { events, pages, cursor };
  }
  throw new Error("the feed never caught up");
}

let start: Date;
let expectedChanges: string[];
let expectedUsage: string[];

beforeAll(async () => {
  h = await startHarness({ provisioning: true });
  const served = createConnectorService(h.connector, { logger: h.logs.logger, provisioning: false });
  const s = await serveConnector(served, { address: "127.0.0.1:0", credentials: grpc.ServerCredentials.createInsecure(), logger: h.logs.logger });
  servers.push(s);
  const client = connectorClient(`127.0.0.1:${s.port}`, grpc.credentials.createInsecure());
  clients.push(client);
  rpc = client;

  // Real changes, made through the simulator's HTTP API with the connector's own Datadog client.
  await new Promise((r) => setTimeout(r, 5));
  start = new Date();
  const { sim, client: dd } = h;
  const org = sim.org;
  const role = org.roles.values()[1];
  const team = org.teams.values()[0];
  const [alice, bob] = org.users.values().filter((u) => !u.serviceAccount && u.status === "Active" && !role.users.has(u.id) && !team.members.has(u.id));
  const account = org.users.values().find((u) => u.serviceAccount)!;
  const apiKey = org.apiKeys.values()[0];
  const orgAppKey = org.appKeys.values().find((k) => !k.owner.serviceAccount)!;

  await dd.addUserToRole(role.id, alice.id);
  await dd.removeUserFromRole(role.id, alice.id);
  await dd.createTeamMembership(team.id, bob.id, "admin");
  await dd.updateTeamMembership(team.id, bob.id, null);
  await dd.deleteTeamMembership(team.id, bob.id);
  const created = await dd.createUser({ email: "feed.person@example.com", name: "Feed Person" });
  await dd.disableUser(alice.id);
  await setUserDisabled(dd, alice.id, false);
  await dd.deleteAPIKey(apiKey.id);
  const key = await dd.createServiceAccountApplicationKey(account.id, { name: "feed-key", scopes: ["user_access_read"] });
  await dd.deleteServiceAccountApplicationKey(account.id, key.id);
  sim.recordLogin(bob.id, "saml");
  sim.recordKeyUse(orgAppKey.id);
  const usedApiKey = org.apiKeys.values()[0];
  sim.recordKeyUse(usedApiKey.id);

  expectedChanges = [
    `grant role:${role.id}:member to ${alice.id}`,
    `revoke role:${role.id}:member from ${alice.id}`,
    `grant team:${team.id}:member to ${bob.id}`,
    `grant team:${team.id}:admin to ${bob.id}`,
    `revoke team:${team.id}:admin from ${bob.id}`,
    `revoke team:${team.id}:member from ${bob.id}`,
    `change user:${created.id}`,
    `change user:${alice.id}`,
    `change user:${alice.id}`,
    `change api-key:${apiKey.id}`,
    `change application-key:${key.id}`,
    `change application-key:${key.id}`,
  ];
  expectedUsage = [
    `usage user:${bob.id} by ${bob.id}`,
    `usage application-key:${orgAppKey.id} by ${orgAppKey.owner.id}`,
    `usage api-key:${usedApiKey.id} by -`,
  ];
});
afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
  await h?.close();
});

describe("feeds", () => {
  it("lists the usage feed and the changes feed with the kinds each produces", async () => {
    const { list } = await rpc.listEventFeeds({});
    const kinds = Object.fromEntries(list.map((f) => [f.id, [...f.supportedEventTypes].sort()]));
    expect(kinds).toEqual({
      [USAGE_FEED]: [EventType.USAGE],
      [CHANGES_FEED]: [EventType.RESOURCE_CHANGE, EventType.CREATE_GRANT, EventType.CREATE_REVOKE].sort(),
    });
  });
});

describe("events from real changes", () => {
  it("each change is its Baton event, in order, paged 3 at a time from start_at", async () => {
    const { events, pages } = await readAll(CHANGES_FEED, start, 3);
    expect(events.map(summary)).toEqual(expectedChanges);
    expect(pages.length).toBeGreaterThan(3);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    for (const e of events) expect(timestampDateMs(e)).toBeGreaterThanOrEqual(start.getTime());
    // One call with a large page gives the same events.
    const whole = await rpc.listEvents({ eventFeedId: CHANGES_FEED, startAt: timestampFromDate(start), pageSize: 1000 });
    expect(whole.hasMore).toBe(false);
    expect(whole.events.map(summary)).toEqual(expectedChanges);
  });

  it("a grant event carries the entitlement with its resource and the principal as resources", async () => {
    const { events } = await readAll(CHANGES_FEED, start, 100);
    const grant = events.find((e) => e.event.case === "createGrantEvent" && e.event.value.entitlement?.slug === "admin")!;
    expect(grant.event.case).toBe("createGrantEvent");
    if (grant.event.case !== "createGrantEvent") return;
    expect(grant.event.value.entitlement?.resource?.id?.resourceType).toBe("team");
    expect(grant.event.value.entitlement?.resource?.displayName).toBe(h.sim.org.teams.values()[0].name);
    expect(grant.event.value.principal?.id?.resourceType).toBe("user");
  });

  it("logins and key uses are usage events of the usage feed", async () => {
    const { events } = await readAll(USAGE_FEED, start, 2);
    expect(events.map(summary)).toEqual(expectedUsage);
  });

  it("from the end cursor: nothing again, then only what happened since", async () => {
    const first = await readAll(CHANGES_FEED, start, 5);
    const again = await rpc.listEvents({ eventFeedId: CHANGES_FEED, pageSize: 5, cursor: first.cursor });
    expect(again.events).toEqual([]);
    expect(again.hasMore).toBe(false);
    const user = h.sim.org.users.values().find((u) => !u.serviceAccount && u.status === "Active" && !u.disabled)!;
    await h.client.disableUser(user.id);
    const later = await readAll(CHANGES_FEED, start, 5, again.cursor);
    expect(later.events.map(summary)).toEqual([`change user:${user.id}`]);
    await setUserDisabled(h.client, user.id, false);
  });

  it("a Datadog cursor refused mid-way (400) is recovered from: reading goes on after the last event handed out, none twice", async () => {
    const whole = (await readAll(CHANGES_FEED, start, 1000)).events.map(summary);
    expect(whole.slice(0, expectedChanges.length)).toEqual(expectedChanges);
    const events: Event[] = [];
    let cursor = "";
    // Page until the feed's cursor carries a Datadog cursor.
    for (let i = 0; i < 20 && !(JSON.parse(cursor || "{}") as { at?: string }).at; i++) {
      const page = await rpc.listEvents({ eventFeedId: CHANGES_FEED, startAt: timestampFromDate(start), pageSize: 3, cursor });
      events.push(...page.events);
      cursor = page.cursor;
    }
    expect((JSON.parse(cursor) as { at?: string }).at).toBeDefined();
    h.sim.injectFaults([{ match: { method: "GET", pathPrefix: "/api/v2/audit/events" }, kind: "status", status: 400, count: 1 }]);
    const rest = await readAll(CHANGES_FEED, start, 3, cursor);
    expect(h.sim.pendingFaults()).toEqual([]);
    expect([...events, ...rest.events].map(summary)).toEqual(whole);
    expect(h.logs.text()).toContain("Datadog refused the Audit Trail cursor");
  });

  it("a start_at after every event gives no events", async () => {
    const page = await rpc.listEvents({ eventFeedId: CHANGES_FEED, startAt: timestampFromDate(new Date(Date.now() + 60_000)), pageSize: 10 });
    expect(page.events).toEqual([]);
    expect(page.hasMore).toBe(false);
  });

  it("keys are left out when the connector does not sync them", () => {
    const entry = (type: string, id: string): AuditEntry => ({
      id: "e1", timestamp: new Date(), evtName: "Authentication", action: "deleted", actorType: "USER", userId: undefined, userEmail: undefined,
      asset: { type, id, name: undefined }, apiKeyId: undefined, applicationKeyId: undefined, authMethod: undefined,
      addedUserIds: [], removedUserIds: [], memberUserId: undefined, teamRole: undefined, previousTeamRole: undefined,
    });
    const id = "11111111-2222-4333-8444-555555555555";
    expect(changeEvents(entry("api_key", id), { keys: false })).toEqual([]);
    expect(changeEvents(entry("api_key", id), { keys: true })).toHaveLength(1);
  });

  it("a login without @usr still names the user from its asset; one naming nobody is no event", () => {
    const id = "11111111-2222-4333-8444-555555555555";
    const login = (asset: AuditEntry["asset"]): AuditEntry => ({
      id: "l1", timestamp: new Date(), evtName: "Authentication", action: "login", actorType: "USER", userId: undefined, userEmail: undefined,
      asset, apiKeyId: undefined, applicationKeyId: undefined, authMethod: "saml",
      addedUserIds: [], removedUserIds: [], memberUserId: undefined, teamRole: undefined, previousTeamRole: undefined,
    });
    const [event] = usageEvents(login({ type: "user", id, name: "a@example.com" }), { keys: false });
    expect(event.event).toMatchObject({ case: "usageEvent", value: { targetResource: { id: { resource: id } }, actorResource: { displayName: "a@example.com" } } });
    expect(usageEvents(login({ type: undefined, id: undefined, name: undefined }), { keys: false })).toEqual([]);
  });
});

describe("bad requests and hostile answers", () => {
  it("a cursor the feed did not make is INVALID_ARGUMENT; an unknown feed NOT_FOUND", async () => {
    await expect(rpc.listEvents({ eventFeedId: CHANGES_FEED, cursor: "not a cursor", pageSize: 10 })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringContaining("not one this feed returned"),
    });
    await expect(rpc.listEvents({ eventFeedId: CHANGES_FEED, cursor: JSON.stringify({ v: 1, from: "yesterday" }), pageSize: 10 })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
    });
    await expect(rpc.listEvents({ eventFeedId: "datadog_audit_nothing", pageSize: 10 })).rejects.toMatchObject({ code: Code.NOT_FOUND });
  });

  it("credentials without audit_logs_read: the error names the permission to add", async () => {
    h.sim.setAppKeyScopes(["user_access_read"]);
    try {
      await expect(rpc.listEvents({ eventFeedId: USAGE_FEED, pageSize: 10 })).rejects.toMatchObject({
        code: Code.PERMISSION_DENIED,
        message: expect.stringContaining("to read the Audit Trail the application key needs the audit_logs_read permission"),
      });
    } finally {
      h.sim.setAppKeyScopes(null);
    }
  });

  it("events without an id or timestamp, or with odd attributes, are skipped or ignored; an oversized cursor is refused", async () => {
    const userId = h.sim.org.users.values()[1].id;
    const good = (id: string) => ({
      id,
      type: "audit",
      attributes: { timestamp: new Date().toISOString(), attributes: { evt: { name: "Access Management" }, action: "created", asset: { type: "user", id: userId } } },
    });
    let after: string | undefined;
    h.sim.addRoute("GET", "/api/v2/audit/events", () => ({
      status: 200,
      body: {
        data: [
          good("a1"),
          { type: "audit", attributes: { timestamp: new Date().toISOString(), attributes: {} } },
          { id: "a2", type: "audit", attributes: { attributes: { evt: { name: "Access Management" } } } },
          { id: "a3", type: "audit", attributes: { timestamp: "not a date", attributes: {} } },
          { id: "a4", type: "audit", attributes: { timestamp: new Date().toISOString(), attributes: { evt: 7, action: ["created"], asset: "user" } } },
          { ...good("a5"), attributes: { ...good("a5").attributes, attributes: { evt: { name: "Access Management" }, action: "created", asset: { type: "user", id: "../../etc" } } } },
        ],
        meta: after === undefined ? {} : { page: { after } },
      },
    }), { permissions: ["audit_logs_read"] });
    const page = await rpc.listEvents({ eventFeedId: CHANGES_FEED, pageSize: 10 });
    expect(page.events.map(summary)).toEqual([`change user:${userId}`]);
    expect(h.logs.text()).toContain("skipped 3 of 6 entries");

    after = "x".repeat(5000);
    await expect(rpc.listEvents({ eventFeedId: CHANGES_FEED, pageSize: 10 })).rejects.toMatchObject({
      message: expect.stringContaining("cannot be carried in an event feed cursor"),
    });
  });
});

describe("the cursor at its largest", () => {
  it("16 events at one instant with 64-character ids and a 1500-character Datadog cursor still fit 4096 bytes; none is handed out twice", async () => {
    const ts = new Date(Date.now() - 1000).toISOString();
    const userId = h.sim.org.users.values()[2].id;
    const ids = Array.from({ length: 16 }, (_, i) => `${String(i).padStart(2, "0")}${"x".repeat(62)}`);
    let after: string | undefined;
    h.sim.addRoute("GET", "/api/v2/audit/events", () => ({
      status: 200,
      body: {
        data: ids.map((id) => ({ id, type: "audit", attributes: { timestamp: ts, attributes: { evt: { name: "Access Management" }, action: "modified", asset: { type: "user", id: userId } } } })),
        meta: after === undefined ? {} : { page: { after } },
      },
    }), { permissions: ["audit_logs_read"] });
    const first = await rpc.listEvents({ eventFeedId: CHANGES_FEED, pageSize: 100 });
    expect(first.events.map((e) => e.id)).toEqual(ids);
    expect(first.hasMore).toBe(false);
    after = "c".repeat(1500);
    const again = await rpc.listEvents({ eventFeedId: CHANGES_FEED, pageSize: 100, cursor: first.cursor });
    expect(again.events).toEqual([]);
    expect(again.hasMore).toBe(true);
    expect(Buffer.byteLength(again.cursor)).toBeGreaterThan(3500);
    expect(Buffer.byteLength(again.cursor)).toBeLessThanOrEqual(4096);
  });
});

function timestampDateMs(e: Event): number {
  return Number(e.occurredAt!.seconds) * 1000 + Math.floor(e.occurredAt!.nanos / 1e6);
}
