// Service mode with a working directory it may not write (a volume mounted read-only, or one the image's UID
// does not own): it must refuse at start with one line naming the directory and what to mount, exit 2, and
// never reach the platform, instead of failing every sync task later.
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startTestPlatform } from "../platform/index.ts";
import { runUnprivileged } from "./unprivileged.ts";

const BIN = join(import.meta.dirname, "..", "..", "bin", "baton-datadog.js");
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("service mode's working directory", () => {
  it("read-only: one line naming the directory and what to mount, exit 2, no Hello sent", async () => {
    const platform = await startTestPlatform({ clientIdHost: "platform.invalid" });
    cleanups.push(() => platform.close());
    const base = mkdtempSync(join(tmpdir(), "baton-ro-"));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    const writable = join(base, "writable");
    const readOnly = join(base, "data");
    mkdirSync(writable);
    chmodSync(writable, 0o777);
    // Root-owned 0555: read-only for the image's UID (when the test drops to it) and for a non-root user alike.
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o555);
    chmodSync(base, 0o755);
    const run = await runUnprivileged(process.execPath, [BIN], {
      writableDir: writable,
      env: {
        PATH: process.env.PATH ?? "",
        TMPDIR: readOnly,
        BATON_CLIENT_ID: platform.clientId,
        BATON_CLIENT_SECRET: platform.clientSecret,
        BATON_C1_API_HOST: platform.host,
        BATON_API_KEY: "x".repeat(32),
        BATON_APP_KEY: "y".repeat(40),
      },
    });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(`the working directory ${readOnly} is not writable`);
    expect(run.stderr).toContain(`Mount a writable volume at ${readOnly}`);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(platform.hellos).toEqual([]);
  });
});
