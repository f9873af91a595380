import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AwsCredentialSource } from "../../connectors/datadog/auth/aws-credentials.ts";
import { checkDelegatedAuth } from "../../connectors/datadog/auth/check.ts";
import { DelegatedTokenProvider } from "../../connectors/datadog/auth/delegated-provider.ts";
import { startSimulator, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { installDelegatedTokenRoute, type DelegatedTokenStats } from "../../connectors/datadog/simulator/delegated-token.ts";
import { captureLog, isolateAwsEnv, startStsStandIn, type IsolatedAwsEnv, type StsStandIn } from "./helpers.ts";
import { apiGet, expectNoSecrets, fixedAws, TEST_AWS } from "./sim-helpers.ts";

const COUNTS = { users: 12, roles: 3, teams: 1, schedules: 1, apiKeys: 1, appKeys: 1, serviceAccounts: 1 };
const ROLE_ARN = "arn:aws:iam::123456789012:role/baton-datadog";
const WEB_IDENTITY_TOKEN = "eyJhbGciOiJSUzI1NiJ9.projected-service-account-token.signature";

let sim: Simulator;
let env: IsolatedAwsEnv;
let sts: StsStandIn | undefined;
let dt: DelegatedTokenStats;

beforeEach(async () => {
  env = isolateAwsEnv();
  sim = await startSimulator({ seed: 31, counts: COUNTS });
  dt = installDelegatedTokenRoute(sim, {
    awsAccessKeyId: TEST_AWS.accessKeyId,
    awsSecretAccessKey: TEST_AWS.secretAccessKey,
    roleArn: ROLE_ARN,
    roleArnToUserId: { [ROLE_ARN]: sim.org.users.values()[0]!.id },
  });
});
afterEach(async () => {
  await sts?.close();
  sts = undefined;
  await sim.close();
  env.restore();
});

const base = () => ({ orgUuid: sim.orgUuid, apiBaseUrl: sim.baseUrl, explicitBaseUrl: sim.baseUrl });

describe("check: delegated auth, stage by stage", () => {
  it("reports every stage ok with credentials from environment variables", async () => {
    env.set({
      AWS_ACCESS_KEY_ID: TEST_AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_AWS.secretAccessKey,
      AWS_SESSION_TOKEN: TEST_AWS.sessionToken,
    });
    const results = await checkDelegatedAuth(base());
    expect(results.map((r) => [r.stage, r.ok])).toEqual([
      ["aws-credentials", true],
      ["proof", true],
      ["exchange", true],
      ["token-works", true],
    ]);
    expect(results[0]!.detail).toMatch(/temporary credentials from environment variables/);
    expect(results[1]!.detail).toMatch(/https:\/\/sts\.amazonaws\.com \(region us-east-1; signed headers .*x-ddog-org-id/);
    expect(results[2]!.detail).toMatch(new RegExp(`accepted the proof for org ${sim.orgUuid}`));
    expectNoSecrets(JSON.stringify(results), [...dt.issuedTokens, ...dt.receivedProofs, TEST_AWS.secretAccessKey, TEST_AWS.sessionToken]);
  });

  it("gets credentials from a web identity token file via the STS stand-in, and the simulator accepts the proof", async () => {
    sts = await startStsStandIn({ ...TEST_AWS, expectedWebIdentityToken: WEB_IDENTITY_TOKEN });
    const tokenFile = join(env.dir, "web-identity-token");
    writeFileSync(tokenFile, WEB_IDENTITY_TOKEN);
    env.set({ AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: ROLE_ARN, AWS_ROLE_SESSION_NAME: "baton" });
    const aws = new AwsCredentialSource({ stsEndpoint: sts.url, region: "us-east-1" });

    const results = await checkDelegatedAuth({ ...base(), aws });
    expect(results.every((r) => r.ok), JSON.stringify(results)).toBe(true);
    expect(results[0]!.detail).toBe(
      `found temporary credentials from web identity token file (AWS_WEB_IDENTITY_TOKEN_FILE, e.g. EKS IRSA), role ${ROLE_ARN}`,
    );

    // The provider, with the same chain, reads the API with the token it gets.
    const log = captureLog();
    const provider = new DelegatedTokenProvider({ ...base(), aws, logger: log.logger });
    expect((await apiGet(provider, sim.baseUrl, "/api/v2/users?page%5Bsize%5D=2")).data).toHaveLength(2);
    expect(sts.calls.every((c) => c.action === "AssumeRoleWithWebIdentity" && c.roleArn === ROLE_ARN)).toBe(true);
    expectNoSecrets(log.text() + JSON.stringify(results), [
      ...dt.issuedTokens,
      ...dt.receivedProofs,
      TEST_AWS.secretAccessKey,
      TEST_AWS.sessionToken,
      WEB_IDENTITY_TOKEN,
    ]);
    provider.close();
  });

  it("stops at the AWS stage when there are no credentials", async () => {
    const results = await checkDelegatedAuth(base());
    expect(results.map((r) => r.ok)).toEqual([false, false, false, false]);
    expect(results[0]!.detail).toMatch(/no AWS credentials found/);
    expect(results[1]!.detail).toBe("skipped: the aws-credentials stage failed");
  });

  it("reports the exchange refused with Datadog's error text when the org is wrong", async () => {
    const results = await checkDelegatedAuth({ ...base(), orgUuid: "00000000-0000-4000-8000-000000000000", aws: fixedAws() });
    expect(results.map((r) => [r.stage, r.ok])).toEqual([
      ["aws-credentials", true],
      ["proof", true],
      ["exchange", false],
      ["token-works", false],
    ]);
    expect(results[0]!.detail).toMatch(/from test credentials, role ARN not known locally/);
    expect(results[2]!.detail).toMatch(/HTTP 403: Invalid proof: the signed x-ddog-org-id header does not match this organization/);
  });

  it("reports a proof that cannot be built (bad org UUID) at the proof stage", async () => {
    const results = await checkDelegatedAuth({ ...base(), orgUuid: "acme", aws: fixedAws() });
    expect(results[1]).toEqual({ stage: "proof", ok: false, detail: expect.stringMatching(/--delegated-auth-org-uuid must be/) });
  });

  it("reports a token the API does not accept at the token-works stage", async () => {
    sim.injectFaults([{ match: { pathPrefix: "/api/v2/users" }, kind: "status", status: 403 }]);
    const results = await checkDelegatedAuth({ ...base(), aws: fixedAws() });
    expect(results[2]!.ok).toBe(true);
    expect(results[3]).toEqual({ stage: "token-works", ok: false, detail: expect.stringMatching(/HTTP 403: Forbidden/) });
  });

  it("refuses a non-Datadog destination at the exchange stage", async () => {
    const results = await checkDelegatedAuth({ orgUuid: sim.orgUuid, apiBaseUrl: sim.baseUrl, aws: fixedAws() });
    expect(results[2]!.ok).toBe(false);
    expect(results[2]!.detail).toMatch(/refusing to send the AWS identity proof/);
    expect(dt.receivedProofs).toHaveLength(0);
  });
});
