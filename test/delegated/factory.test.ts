import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCredentialProvider, DelegatedTokenProvider } from "../../connectors/datadog/auth/index.ts";
import { StaticKeyProvider } from "../../connectors/datadog/client/credentials.ts";
import { startSimulator, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { installDelegatedTokenRoute } from "../../connectors/datadog/simulator/delegated-token.ts";
import { captureLog } from "./helpers.ts";
import { apiGet, fixedAws, TEST_AWS } from "./sim-helpers.ts";

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ seed: 41, counts: { users: 8, roles: 2, teams: 1, schedules: 1, apiKeys: 1, appKeys: 1, serviceAccounts: 1 } });
  installDelegatedTokenRoute(sim, { awsAccessKeyId: TEST_AWS.accessKeyId, awsSecretAccessKey: TEST_AWS.secretAccessKey });
});
afterAll(() => sim.close());

const ctx = () => ({ apiBaseUrl: sim.baseUrl, explicitBaseUrl: sim.baseUrl });

describe("createCredentialProvider", () => {
  it("uses static keys when delegated auth is off", () => {
    expect(createCredentialProvider({ apiKey: "a", appKey: "b" }, ctx())).toBeInstanceOf(StaticKeyProvider);
  });

  it("needs some credentials, and both keys or neither", () => {
    expect(() => createCredentialProvider({}, ctx())).toThrow(/no Datadog credentials: set --api-key and --app-key .* or --delegated-auth-org-uuid/);
    expect(() => createCredentialProvider({ apiKey: "a" }, ctx())).toThrow(/set both --api-key .* and --app-key .* or neither \(only the API key is set\)/);
  });

  it("refuses an unknown delegated-auth provider", () => {
    expect(() =>
      createCredentialProvider({ delegatedAuthOrgUuid: sim.orgUuid, delegatedAuthProvider: "gcp" as "aws" }, ctx()),
    ).toThrow(/--delegated-auth-provider "gcp" is not supported; the only provider is "aws"/);
  });

  it("uses delegated auth alone when no keys are set", async () => {
    const p = createCredentialProvider({ delegatedAuthOrgUuid: sim.orgUuid }, { ...ctx(), aws: fixedAws() });
    expect(p).toBeInstanceOf(DelegatedTokenProvider);
    expect((await apiGet(p, sim.baseUrl, "/api/v2/users?page%5Bsize%5D=1")).data).toHaveLength(1);
    expect(Object.keys(await p.headers())).toEqual(["Authorization"]);
  });

  it("keeps the keys as the fallback when both are set", async () => {
    const log = captureLog();
    const p = createCredentialProvider(
      { delegatedAuthOrgUuid: sim.orgUuid, apiKey: sim.apiKey, appKey: sim.appKey },
      { ...ctx(), logger: log.logger, aws: fixedAws({ ...TEST_AWS, secretAccessKey: "wrong" }) },
    );
    expect((await apiGet(p, sim.baseUrl, "/api/v2/users?page%5Bsize%5D=1")).data).toHaveLength(1);
    expect(Object.keys(await p.headers()).sort()).toEqual(["DD-API-KEY", "DD-APPLICATION-KEY"]);
    expect(log.lines().filter((l) => l.event === "delegated_auth_fallback")).toHaveLength(1);
  });
});
