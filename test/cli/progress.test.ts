import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { formatSummary, ProgressReporter, TerminalStatus } from "../../src/cli/index.ts";
import { createLogger } from "../../src/log/index.ts";

function stream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, out: { write: (s: string) => void writes.push(s), isTTY, columns: 120 } };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("ProgressReporter on a TTY", () => {
  it("redraws at most once per 250 ms, with the latest numbers", () => {
    const { writes, out } = stream(true);
    const reporter = new ProgressReporter({ status: new TerminalStatus(out), now: () => Date.now() });
    reporter.start();
    reporter.onProgress({ step: "resources", resources: 1 });
    expect(writes).toHaveLength(1);
    for (let i = 2; i <= 50; i++) reporter.onProgress({ step: "resources", resources: i, calls: i });
    expect(writes).toHaveLength(1); // throttled: one redraw is pending
    vi.advanceTimersByTime(250);
    expect(writes).toHaveLength(2);
    expect(writes[1]).toContain("syncing resources · 50 resources · 0 entitlements · 0 grants · 50 calls");
    expect(writes[1]!.startsWith("\r\x1b[2K")).toBe(true);
    vi.advanceTimersByTime(1000); // the elapsed-time ticker fires once a second (at t = 1 s)
    expect(writes).toHaveLength(3);
    expect(writes.at(-1)).toMatch(/· 1\.0s$/);
    reporter.stop();
    expect(writes.at(-1)).toBe("\r\x1b[2K");
    const count = writes.length;
    vi.advanceTimersByTime(5000);
    expect(writes).toHaveLength(count); // nothing after stop
  });

  it("prefers a live request counter over connector calls", () => {
    const { writes, out } = stream(true);
    const reporter = new ProgressReporter({ status: new TerminalStatus(out), now: () => Date.now() });
    let requests = 41;
    reporter.setRequestSource(() => ++requests);
    reporter.start();
    reporter.onProgress({ step: "grants", grants: 1234567, calls: 3 });
    expect(writes[0]).toContain("1,234,567 grants · 42 requests");
    expect(reporter.summary().requests).toBe(43);
    reporter.stop();
  });

  it("log lines go above the status line", () => {
    const { writes, out } = stream(true);
    const status = new TerminalStatus(out);
    const reporter = new ProgressReporter({ status, now: () => Date.now() });
    reporter.start();
    reporter.onProgress({ step: "grants", grants: 5 });
    const logger = createLogger({ format: "json", destination: status });
    logger.info("hello");
    const last = writes.at(-1)!;
    expect(last.startsWith("\r\x1b[2K{")).toBe(true); // status cleared, log line written...
    expect(last).toMatch(/"msg":"hello"\}\nsyncing grants/); // ...then the status redrawn under it
    reporter.stop();
  });
});

describe("ProgressReporter off a TTY", () => {
  it("draws nothing, but still summarizes", () => {
    const { writes, out } = stream(false);
    let now = 1000;
    const reporter = new ProgressReporter({ status: new TerminalStatus(out), now: () => now });
    reporter.start();
    reporter.onProgress({ step: "resources", resources: 10, calls: 4, syncId: "s1" });
    reporter.onProgress({ step: "grants", grants: 7, warnings: 1 });
    vi.advanceTimersByTime(5000);
    now = 4500;
    reporter.stop();
    expect(writes).toEqual([]);
    const summary = reporter.summary();
    expect(summary).toMatchObject({ syncId: "s1", durationMs: 3500, calls: 4, warnings: 1, counts: { resources: 10, grants: 7 } });
  });
});

describe("summary", () => {
  it("uses the handler's stored counts for the per-type table", () => {
    const { out } = stream(false);
    const reporter = new ProgressReporter({ status: new TerminalStatus(out), now: () => 0 });
    const summary = reporter.summary({
      syncId: "2abc",
      file: "/tmp/sync.c1z",
      requests: 1500,
      warnings: ["a", "b"],
      stats: {
        resourceTypes: 2,
        resources: 12,
        entitlements: 2,
        grants: 30,
        resourcesByType: { user: 10, team: 2 },
        entitlementsByType: { team: 2 },
        grantsByType: { team: 30 },
      },
    });
    const text = formatSummary(summary);
    expect(text.split("\n")[0]).toBe("Sync finished in 0ms, 1,500 requests, 2 warnings");
    expect(text).toContain("Sync id: 2abc\n");
    expect(text).toMatch(/RESOURCE TYPE\s+RESOURCES\s+ENTITLEMENTS\s+GRANTS\n/);
    expect(text).toMatch(/team\s+2\s+2\s+30\nuser\s+10\s+0\s+0\ntotal\s+12\s+2\s+30\n$/);
  });
});
