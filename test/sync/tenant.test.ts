// The tenant check on resume: an unfinished sync is resumed only with credentials of the tenant it was made for.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConnectorService } from "../../src/connector/service.ts";
import { findTenantIdentity, MAX_TENANT_FIELD_BYTES, tenantAnnotation, type TenantIdentity } from "../../src/connector/tenant.ts";
import type { Connector } from "../../src/connector/types.ts";
import { runSync } from "../../src/sync/engine.ts";
import { fixtureConnector } from "../fixtures/fixture-connector.ts";
import { c1zRows } from "../helpers/c1z-rows.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tenant-test-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(): { logger: pino.Logger; messages: string[] } {
  const messages: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split("\n").filter(Boolean)) messages.push((JSON.parse(line) as { msg: string }).msg);
      cb();
    },
  });
  return { logger: pino({ level: "info" }, sink), messages };
}

function withTenant(connector: Connector, tenant: (() => Promise<TenantIdentity | undefined>) | undefined): Connector {
  return tenant ? { ...connector, tenant } : connector;
}

/** A sync of the fixture that stops (throws) after `pages` pages, leaving an unfinished run. */
async function interrupted(file: string, tenant: TenantIdentity | undefined, users = 30): Promise<void> {
  const { logger } = capture();
  let pages = 0;
  const connector = withTenant(fixtureConnector({ users }), tenant ? async () => tenant : undefined);
  await expect(
    runSync({
      connector: createConnectorService(connector, { logger, provisioning: false }),
      file,
      logger,
      afterPage: () => {
        if (++pages === 4) throw new Error("stop here");
      },
    }),
  ).rejects.toThrow("stop here");
}

async function finish(file: string, tenant: (() => Promise<TenantIdentity | undefined>) | undefined, users = 30) {
  const log = capture();
  const connector = withTenant(fixtureConnector({ users }), tenant);
  const result = await runSync({ connector: createConnectorService(connector, { logger: log.logger, provisioning: false }), file, logger: log.logger });
  return { result, messages: log.messages };
}

const A: TenantIdentity = { id: "fixture:A", displayName: "fixture tenant A" };
const B: TenantIdentity = { id: "fixture:B", displayName: "fixture tenant B" };

describe("resuming across tenants", () => {
  it("resumes the unfinished sync of the same tenant", async () => {
    const file = join(dir, "same.c1z");
    await interrupted(file, A);
    const { result } = await finish(file, async () => A);
    expect(result.resumed).toBe(true);
  });

  it("discards the unfinished sync of another tenant and says why; the file holds the new tenant's objects only", async () => {
    const clean = join(dir, "clean-b.c1z");
    await finish(clean, async () => B, 12);
    const file = join(dir, "other.c1z");
    await interrupted(file, A, 30);
    const { result, messages } = await finish(file, async () => B, 12);
    expect(result.resumed).toBe(false);
    expect(messages.some((m) => /not resuming the unfinished sync \w+ of .*other\.c1z: it was for fixture tenant A, but these credentials reach fixture tenant B/.test(m))).toBe(true);
    expect((await c1zRows(file)).rows).toEqual((await c1zRows(clean)).rows);
  });

  it("an unknown tenant on either side counts as another tenant; a connector that states none resumes as before", async () => {
    const file = join(dir, "unknown.c1z");
    await interrupted(file, A);
    const failing = await finish(file, async () => {
      throw new Error("identity lookup failed");
    });
    expect(failing.result.resumed).toBe(false);
    expect(failing.messages.some((m) => /it was for fixture tenant A, and which tenant these credentials reach could not be determined/.test(m))).toBe(true);

    const none = join(dir, "none.c1z");
    await interrupted(none, undefined);
    expect((await finish(none, undefined)).result.resumed).toBe(true);
    await interrupted(none, undefined);
    const later = await finish(none, async () => A);
    expect(later.result.resumed).toBe(false);
    expect(later.messages.some((m) => /it did not record which tenant it was for, and these credentials reach fixture tenant A/.test(m))).toBe(true);
  });
});

describe("the TenantIdentity annotation", () => {
  it("round-trips, is found among other annotations, and is bounded", () => {
    const a = tenantAnnotation({ id: "datadog:https://api.datadoghq.com:org:1234", displayName: "Datadog org 1234" });
    expect(findTenantIdentity([a])).toEqual({ id: "datadog:https://api.datadoghq.com:org:1234", displayName: "Datadog org 1234" });
    expect(findTenantIdentity([])).toBeUndefined();
    expect(() => tenantAnnotation({ id: "x".repeat(MAX_TENANT_FIELD_BYTES + 1) })).toThrow(/longer than 1024 bytes/);
    expect(() => tenantAnnotation({ id: "" })).toThrow(/id is empty/);
  });
});
