/**
 * Issue 17's papercuts, each through the real CLI (in-process runner, or the binary as a child process where the
 * process itself matters) against the Datadog simulator: the message a new user sees and the exit code.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../connectors/datadog/simulator/index.ts";
import { type CliRun, runDatadogCliInProcess } from "../helpers/cli-in-process.ts";
import { tempDirs } from "../helpers/temp-dir.ts";
import { lastCliError, runProcess } from "../helpers/child-process.ts";

const newTempDir = tempDirs("all");
const tempDir = () => newTempDir("papercuts-");

type Run = CliRun;

/** The Datadog CLI in-process with a clean environment plus `env`. */
function cli(argv: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  return runDatadogCliInProcess(argv, { env: options.env, cwd: options.cwd ?? tempDir() });
}

const BIN = join(import.meta.dirname, "../../bin/baton-datadog.js");

/** The real binary as a child process (clean environment plus `env`). */
async function child(argv: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env };
  const { code, stdout, stderr } = await runProcess(process.execPath, [BIN, ...argv], { cwd: options.cwd ?? tempDir(), env });
  return { code: code ?? -1, stdout, stderr, error: lastCliError(stderr) };
}

describe("papercuts: simulate", () => {
  it("the binary's simulate --help exits 0 with the flags, and a bad flag exits 2 in the CLI's error format", async () => {
    const help = await child(["simulate", "--help"]);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain("--rate-limit string");
    const bad = await child(["simulate", "--latency-ms", "-5"]);
    expect(bad.code).toBe(2);
    expect(bad.error).toBe('baton-datadog: error: --latency-ms: must be at least 0 (got "-5" from --latency-ms)');
  });

  it("simulate --help and help simulate list its flags (exit 0)", async () => {
    for (const argv of [["simulate", "--help"], ["help", "simulate"]]) {
      const run = await cli(argv);
      expect(run.code, argv.join(" ")).toBe(0);
      for (const flag of ["--port int", "--seed int", "--users int", "--schedules int", "--latency-ms int", "--rate-limit string"]) {
        expect(run.stdout, `${argv.join(" ")} lists ${flag}`).toContain(flag);
      }
    }
  });

  it("a bad simulate flag is reported like every other command's (exit 2)", async () => {
    const bad = await cli(["simulate", "--users", "lots"]);
    expect(bad.code).toBe(2);
    expect(bad.error).toBe('baton-datadog: error: --users: expected an integer (got "lots" from --users)');
    const rate = await cli(["simulate", "--rate-limit", "fast"]);
    expect(rate.code).toBe(2);
    expect(rate.error).toBe('baton-datadog: error: --rate-limit: must look like N/SECONDS with N >= 1 and SECONDS > 0, e.g. 100/10 (got "fast" from --rate-limit)');
    const unknown = await cli(["simulate", "--bogus"]);
    expect(unknown.code).toBe(2);
    expect(unknown.error).toBe("baton-datadog: error: unknown flag --bogus for simulate (see 'baton-datadog simulate --help')");
    const port = await cli(["simulate", "--port", "70000"]);
    expect(port.code).toBe(2);
    expect(port.error).toBe('baton-datadog: error: --port: must be at most 65535 (got "70000" from --port)');
  });
});

/** One simulated org, synced once with schedules and keys; each case copies the file it changes. */
async function syncedOrg(users = 30) {
  const sim = await startSimulator({ seed: 17, counts: { users, teams: 4, roles: 4, schedules: 3, apiKeys: 3, appKeys: 3, serviceAccounts: 2 } });
  cleanups.push(() => sim.close());
  const env = { BATON_API_KEY: sim.apiKey, BATON_APP_KEY: sim.appKey, BATON_BASE_URL: sim.baseUrl };
  const dir = tempDir();
  const file = join(dir, "sync.c1z");
  const sync = await cli(["--sync-schedules", "--sync-secrets", "-f", file], { env });
  if (sync.code !== 0) throw new Error(`sync failed: ${sync.stderr}`);
  return { sim, env, dir, file };
}

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

describe("papercuts: provisioning messages", () => {
  it("the README's grant then revoke works without a re-sync; a second revoke says it was already revoked", async () => {
    const { sim, env, file } = await syncedOrg();
    const role = sim.org.roles.values()[0]!;
    const user = sim.org.users.values().find((u) => !role.users.has(u.id) && !u.disabled)!;
    const ent = `role:${role.id}:member`;
    const granted = await cli(["-p", "-f", file, "--grant-entitlement", ent, "--grant-principal-type", "user", "--grant-principal", user.id], { env });
    expect(granted.code, granted.stderr).toBe(0);
    expect(granted.stdout).toContain(`granted ${ent} to user:${user.id}`);

    const revoked = await cli(["-p", "-f", file, "--revoke-grant", `${ent}:user:${user.id}`], { env });
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`revoked grant ${ent}:user:${user.id}`);
    expect(role.users.has(user.id)).toBe(false);

    const again = await cli(["-p", "-f", file, "--revoke-grant", `${ent}:user:${user.id}`], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`grant ${ent}:user:${user.id} was already revoked; nothing to do`);

    const unknown = await cli(["-p", "-f", file, "--revoke-grant", `role:nope:member:user:${user.id}`], { env });
    expect(unknown.code).toBe(1);
    expect(unknown.error).toBe(
      `baton-datadog: error: NOT_FOUND: grant "role:nope:member:user:${user.id}" (nor its entitlement and principal) is not in ${file} (run a sync first, or check the id)`,
    );
  });

  it("without -p the refusal names -p and BATON_PROVISIONING (exit 1)", async () => {
    const { sim, env, file } = await syncedOrg();
    const role = sim.org.roles.values()[0]!;
    const user = sim.org.users.values()[0]!;
    const run = await cli(["-f", file, "--grant-entitlement", `role:${role.id}:member`, "--grant-principal-type", "user", "--grant-principal", user.id], { env });
    expect(run.code).toBe(1);
    expect(run.error).toBe(
      "baton-datadog: error: FAILED_PRECONDITION: provisioning is not enabled: start the connector with -p (--provisioning) or set BATON_PROVISIONING=true",
    );
  });

  it("a type that is off names the flag that turns it on; a schedule grant says schedules are read-only (exit 1)", async () => {
    const { sim, env, file } = await syncedOrg();
    const key = sim.org.apiKeys.values()[0]!;
    const del = await cli(["-p", "-f", file, "--delete-resource-type", "api-key", "--delete-resource", key.id], { env });
    expect(del.code).toBe(1);
    expect(del.error).toBe(
      'baton-datadog: error: FAILED_PRECONDITION: resource type "api-key" is not enabled: turn it on with --sync-secrets (BATON_SYNC_SECRETS=true) (enabled: user, role, team)',
    );

    const schedule = (await cli(["entitlements", "-f", file, "--resource-type", "schedule", "-o", "json"])).stdout;
    const entitlementId = (JSON.parse(schedule) as { entitlements: { id: string }[] }).entitlements[0]!.id;
    const user = sim.org.users.values()[0]!;
    const grantArgs = ["-p", "-f", file, "--grant-entitlement", entitlementId, "--grant-principal-type", "user", "--grant-principal", user.id];
    const off = await cli(grantArgs, { env });
    expect(off.code).toBe(1);
    expect(off.error).toBe(
      'baton-datadog: error: FAILED_PRECONDITION: resource type "schedule" is not enabled: turn it on with --sync-schedules (BATON_SYNC_SCHEDULES=true) (enabled: user, role, team)',
    );
    const on = await cli([...grantArgs, "--sync-schedules"], { env });
    expect(on.code).toBe(1);
    expect(on.error).toBe('baton-datadog: error: FAILED_PRECONDITION: resource type "schedule" is read-only: it does not support grants');
  });
});

describe("papercuts: --file and the working files", () => {
  it("a --file in a missing directory is a configuration error naming the directory (exit 2)", async () => {
    const { env, dir } = await syncedOrg();
    const file = join(dir, "no-such-dir", "out.c1z");
    const run = await cli(["-f", file], { env });
    expect(run.code).toBe(2);
    expect(run.error).toBe(
      `baton-datadog: error: --file / BATON_FILE: the directory ${join(dir, "no-such-dir")} does not exist (got "${file}"); create it, or choose a file in an existing directory`,
    );
    expect(existsSync(join(dir, "no-such-dir"))).toBe(false);
  });

  it("a sync that fails before writing anything (a bad application key) leaves nothing behind; the next run does not talk of resuming", async () => {
    const { env, dir, file } = await syncedOrg();
    const badKey = { ...env, BATON_APP_KEY: "0123456789abcdef0123456789abcdef01234567" };
    const before = readFileSync(file);
    const fresh = join(dir, "fresh.c1z");
    for (const target of [fresh, file]) {
      for (let attempt = 1; attempt <= 2; attempt++) {
        const run = await cli(["-f", target, "--log-level", "debug"], { env: badKey });
        expect(run.code).toBe(1);
        expect(run.error).toMatch(/^baton-datadog: error: UNAUTHENTICATED: The application key was rejected/);
        expect(readdirSync(dir).filter((n) => n.endsWith(".work")), `${target} attempt ${attempt}`).toEqual([]);
        expect(run.stderr).not.toMatch(/resum|reopening|unfinished/i);
      }
    }
    expect(existsSync(fresh)).toBe(false);
    expect(readFileSync(file).equals(before)).toBe(true);
  });
});

describe("papercuts: grants", () => {
  it("the PRINCIPAL NAME column holds each principal's name; an unknown --resource-type is an error (exit 2)", async () => {
    const { sim, file } = await syncedOrg();
    const run = await cli(["grants", "-f", file]);
    expect(run.code).toBe(0);
    const rows = run.stdout.trim().split("\n").slice(1);
    expect(rows.length).toBeGreaterThan(10);
    for (const row of rows) {
      const [, type, id] = row.split(/\s{2,}/);
      if (type !== "user") continue;
      const user = sim.org.user(id!);
      expect(row.trimEnd().endsWith(user.name || user.handle), row).toBe(true);
    }
    const unknown = await cli(["grants", "-f", file, "--resource-type", "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe("");
    expect(unknown.error).toMatch(
      /^baton-datadog: error: --resource-type: unknown resource type "nope"; sync \S+ of .*sync\.c1z has: user, role, team, schedule, api-key, application-key$/,
    );
    const typo = await cli(["grants", "-f", file, "--resource-type", "teams"]);
    expect(typo.code).toBe(2);
    expect(typo.error).toContain('unknown resource type "teams" (did you mean team?)');
  });
});

describe("papercuts: stray BATON_* variables", () => {
  it("a misspelt variable is named once with the setting it was probably meant for; the command still runs (exit 0)", async () => {
    const { env, file } = await syncedOrg();
    const run = await cli(["stats", "-f", file], { env: { ...env, BATON_SYNC_SCHEDULE: "true", BATON_OTEL_ENDPOINT: "http://collector", BATON_LAMBDA_CLIENT_ID: "x" } });
    expect(run.code).toBe(0);
    const warnings = run.stderr.split("\n").filter((l) => l.includes("BATON_"));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({
      level: "warn",
      msg: "BATON_SYNC_SCHEDULE (did you mean BATON_SYNC_SCHEDULES?) is not a setting of this connector; ignored",
    });
    const clean = await cli(["stats", "-f", file], { env });
    expect(clean.stderr).not.toContain("not a setting");
  });
});

describe("papercuts: check -p", () => {
  const READS = ["user_access_read", "teams_read", "api_keys_read", "org_app_keys_read", "on_call_read"];

  it("names each write permission the application key's scopes leave out, per operation (exit 1)", async () => {
    const sim = await startSimulator({ seed: 17, counts: { users: 20, teams: 3, roles: 4, schedules: 2, apiKeys: 2, appKeys: 2, serviceAccounts: 2 } });
    cleanups.push(() => sim.close());
    const key = sim.createApplicationKey({ scopes: [...READS, "user_app_keys", "user_access_invite"] });
    const env = { BATON_API_KEY: sim.apiKey, BATON_APP_KEY: key.key, BATON_BASE_URL: sim.baseUrl };

    const reads = await cli(["check", "--sync-secrets"], { env });
    expect(reads.code, reads.stdout).toBe(0);
    expect(reads.stdout).not.toMatch(/write|Missing/i);

    const run = await cli(["check", "-p", "--sync-secrets"], { env });
    expect(run.code).toBe(1);
    const lines = run.stdout.trim().split("\n");
    const scopesLack = "the key's scopes leave it out";
    expect(lines).toEqual(
      expect.arrayContaining([
        " OK   Can read users.",
        `FAIL  Missing permission user_access_manage (${scopesLack}): needed to grant and revoke role membership (POST /api/v2/roles/{role_id}/users, DELETE /api/v2/roles/{role_id}/users). Grant it to a role of the application key's owner, or add it to the key's scopes.`,
        `FAIL  Missing permission user_access_manage (${scopesLack}): needed to grant and revoke team membership and team admin (POST /api/v2/team/{team_id}/memberships, PATCH /api/v2/team/{team_id}/memberships/{user_id}, DELETE /api/v2/team/{team_id}/memberships/{user_id}); an admin of a team may also change that team's members. Grant it to a role of the application key's owner, or add it to the key's scopes.`,
        " OK   Can create accounts (a user and its invitation) (user_access_invite).",
        `FAIL  Missing permission user_access_manage or service_account_write (${scopesLack}): needed to delete (disable) users (DELETE /api/v2/users/{user_id}). Grant it to a role of the application key's owner, or add it to the key's scopes.`,
        `FAIL  Missing permission api_keys_delete (${scopesLack}): needed to delete API keys (DELETE /api/v2/api_keys/{api_key_id}). Grant it to a role of the application key's owner, or add it to the key's scopes.`,
        `FAIL  Missing permission org_app_keys_write (${scopesLack}): needed to delete application keys (DELETE /api/v2/application_keys/{app_key_id}). Grant it to a role of the application key's owner, or add it to the key's scopes.`,
      ]),
    );
    expect(lines.filter((l) => l.startsWith("FAIL")).some((l) => l.includes("service_account_write (") && l.includes("rotate"))).toBe(true);

    // Without --sync-secrets the key operations are not needed, so not checked.
    const noKeys = await cli(["check", "-p"], { env });
    expect(noKeys.stdout).not.toContain("api_keys_delete");
  });

  it("names what the owner's roles lack; all held is all OK (exit 0)", async () => {
    const sim = await startSimulator({ seed: 17, counts: { users: 20, teams: 3, roles: 4, schedules: 2, apiKeys: 2, appKeys: 2, serviceAccounts: 2 } });
    cleanups.push(() => sim.close());
    const admin = await cli(["check", "-p", "--sync-secrets"], { env: { BATON_API_KEY: sim.apiKey, BATON_APP_KEY: sim.appKey, BATON_BASE_URL: sim.baseUrl } });
    expect(admin.code, admin.stdout).toBe(0);
    expect(admin.stdout).toContain(" OK   Can grant and revoke role membership (user_access_manage).");
    expect(admin.stdout).toContain(" OK   Can rotate service accounts' application keys (service_account_write).");
    // The writes of the actions and of issue_credential (issue 18) are checked too.
    expect(admin.stdout).toMatch(/ OK {3}Can disable and re-enable users \(actions disable_user, enable_user\) \(.*user_access_manage.*\)\./);
    expect(admin.stdout).toContain(" OK   Can send an invitation again (action resend_invitation) (user_access_invite).");
    expect(admin.stdout).toContain(" OK   Can issue scoped application keys for service accounts (issue_credential) (service_account_write).");

    const readOnly = sim.org.roles.values().find((r) => r.name === "Datadog Read Only Role")!;
    const reader = sim.org.users.values().find((u) => !u.serviceAccount && u.roles.length === 1 && u.roles[0] === readOnly)!;
    const key = sim.createApplicationKey({ ownerId: reader.id });
    const run = await cli(["check", "-p"], { env: { BATON_API_KEY: sim.apiKey, BATON_APP_KEY: key.key, BATON_BASE_URL: sim.baseUrl } });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      "FAIL  Missing permission user_access_manage (no role of the key's owner grants it): needed to grant and revoke role membership",
    );
    expect(run.stdout).toContain("FAIL  Missing permission user_access_invite (no role of the key's owner grants it): needed to create accounts");
  });

  it("a key that may not list its own keys says the write permissions were not tested, and which are needed", async () => {
    const sim = await startSimulator({ seed: 17, counts: { users: 20, teams: 3, roles: 4, schedules: 2, apiKeys: 2, appKeys: 2, serviceAccounts: 2 } });
    cleanups.push(() => sim.close());
    const key = sim.createApplicationKey({ scopes: READS });
    const run = await cli(["check", "-p"], { env: { BATON_API_KEY: sim.apiKey, BATON_APP_KEY: key.key, BATON_BASE_URL: sim.baseUrl } });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      "SKIP  Write permissions not tested: GET /api/v2/current_user/application_keys answered 403 (it needs user_app_keys). " +
        "Provisioning needs user_access_manage, teams_read, user_access_invite, user_access_manage or service_account_write.",
    );
  });
});

describe("papercuts: output into a pipe", () => {
  it("a large -o json listing reaches a slow reader whole before the process exits (exit 0)", async () => {
    const { file } = await syncedOrg(200);
    const whole = (await cli(["resources", "-f", file, "-o", "json"])).stdout;
    // More than a pipe holds (64 KiB on Linux), so the last writes have to wait for the reader.
    expect(Buffer.byteLength(whole)).toBeGreaterThan(65536);
    // A reader that takes its time (as `| jq` on a busy machine): the pipe fills and the writes queue up.
    const run = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const proc = spawn(process.execPath, [BIN, "resources", "-f", file, "-o", "json"], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
        stdio: ["ignore", "pipe", "ignore"],
      });
      let stdout = "";
      proc.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      proc.stdout.pause();
      setTimeout(() => proc.stdout.resume(), 1500);
      proc.on("error", reject);
      proc.on("close", (code) => resolve({ code, stdout }));
    });
    expect(run.code).toBe(0);
    expect(Buffer.byteLength(run.stdout)).toBe(Buffer.byteLength(whole));
    expect(run.stdout).toBe(whole);
  });
});
