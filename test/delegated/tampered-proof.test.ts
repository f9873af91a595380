import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DelegatedExchangeError, exchangeProofForToken } from "../../connectors/datadog/auth/exchange.ts";
import {
  buildDelegatedProof,
  canonicalHeaderName,
  DelegatedProof,
  parseDelegatedProof,
  STS_CONTENT_TYPE,
  STS_GET_CALLER_IDENTITY_BODY,
  type ParsedProof,
} from "../../connectors/datadog/auth/proof.ts";
import { NodeSha256 } from "../../src/aws/sha256.ts";
import { startSimulator, type Simulator } from "../../connectors/datadog/simulator/index.ts";
import { installDelegatedTokenRoute, type DelegatedTokenStats } from "../../connectors/datadog/simulator/delegated-token.ts";
import { TEST_AWS } from "./sim-helpers.ts";

let sim: Simulator;
let dt: DelegatedTokenStats;

beforeAll(async () => {
  sim = await startSimulator({ seed: 21, counts: { users: 5, roles: 2, teams: 1, schedules: 1, apiKeys: 1, appKeys: 1, serviceAccounts: 1 } });
  dt = installDelegatedTokenRoute(sim, {
    awsAccessKeyId: TEST_AWS.accessKeyId,
    awsSecretAccessKey: TEST_AWS.secretAccessKey,
    awsSessionToken: TEST_AWS.sessionToken,
  });
});
afterAll(async () => {
  await sim.close();
});

const encode = (p: ParsedProof): DelegatedProof =>
  new DelegatedProof(
    [b64(p.body), b64(JSON.stringify(p.headers)), p.method, b64(p.url)].join("|"),
  );
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

async function goodProof(options: { orgUuid?: string; now?: Date } = {}): Promise<ParsedProof> {
  const built = await buildDelegatedProof({
    credentials: TEST_AWS,
    orgUuid: options.orgUuid ?? sim.orgUuid,
    ...(options.now ? { now: options.now } : {}),
  });
  return parseDelegatedProof(built.proof.reveal());
}

async function refusal(proof: DelegatedProof): Promise<DelegatedExchangeError> {
  const err = await exchangeProofForToken({ apiBaseUrl: sim.baseUrl, proof }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DelegatedExchangeError);
  return err as DelegatedExchangeError;
}

describe("the simulator verifies proofs for real, and the connector reports refusals clearly", () => {
  it("accepts an untampered proof", async () => {
    const token = await exchangeProofForToken({ apiBaseUrl: sim.baseUrl, proof: encode(await goodProof()) });
    expect(token.accessToken).toMatch(/^ddsim-delegated-/);
    expect(token.expiresAtMs).toBeGreaterThan(Date.now() + 800_000);
  });

  it("refuses a changed org header (the signature no longer matches)", async () => {
    const p = await goodProof();
    p.headers["X-Ddog-Org-Id"] = ["00000000-0000-4000-8000-000000000000"];
    const err = await refusal(encode(p));
    expect(err.status).toBe(403);
    expect(err.refused).toBe(true);
    expect(err.datadogErrors[0]).toMatch(/SignatureDoesNotMatch/);
    expect(err.message).toMatch(
      /^delegated auth: Datadog refused the token exchange with HTTP 403: AWS rejected the proof: SignatureDoesNotMatch.*check --delegated-auth-org-uuid/,
    );
  });

  it("refuses a changed body", async () => {
    const p = await goodProof();
    const err = await refusal(encode({ ...p, body: "Action=GetCallerIdentity&Version=2011-06-15&Extra=1" }));
    expect(err.datadogErrors[0]).toMatch(/SignatureDoesNotMatch/);
  });

  it("refuses an old date, and a date changed after signing", async () => {
    const old = await goodProof({ now: new Date(Date.now() - 10 * 60_000) });
    const expired = await refusal(encode(old));
    expect(expired.status).toBe(403);
    expect(expired.message).toMatch(/Signature expired: X-Amz-Date is outside the allowed time window/);

    const redated = { ...old, headers: { ...old.headers, "X-Amz-Date": [(await goodProof()).headers["X-Amz-Date"]![0]!] } };
    expect((await refusal(encode(redated))).message).toMatch(/SignatureDoesNotMatch|credential scope/);
  });

  it("refuses a correctly signed proof for another org", async () => {
    const err = await refusal(encode(await goodProof({ orgUuid: "00000000-0000-4000-8000-000000000000" })));
    expect(err.message).toMatch(/the signed x-ddog-org-id header does not match this organization/);
  });

  it("refuses a proof whose org header is not signed", async () => {
    const signer = new SignatureV4({ service: "sts", region: "us-east-1", credentials: TEST_AWS, sha256: NodeSha256, applyChecksum: false });
    const signed = await signer.sign(
      {
        method: "POST",
        protocol: "https:",
        hostname: "sts.amazonaws.com",
        path: "/",
        query: {},
        headers: { host: "sts.amazonaws.com", "content-type": STS_CONTENT_TYPE, "x-ddog-org-id": sim.orgUuid },
        body: STS_GET_CALLER_IDENTITY_BODY,
      },
      { unsignableHeaders: new Set(["x-ddog-org-id"]) },
    );
    const headers: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(signed.headers)) headers[canonicalHeaderName(k)] = [v as string];
    const err = await refusal(encode({ body: STS_GET_CALLER_IDENTITY_BODY, headers, method: "POST", url: "https://sts.amazonaws.com" }));
    expect(err.message).toMatch(/x-ddog-org-id is not among the signed headers/);
  });

  it("refuses a proof addressed to something other than STS, an unknown key, a wrong session token and garbage", async () => {
    const p = await goodProof();
    expect((await refusal(encode({ ...p, url: "https://sts.amazonaws.com.attacker.example" }))).message).toMatch(
      /not addressed to an AWS STS endpoint/,
    );
    const otherKey = parseDelegatedProof(
      (await buildDelegatedProof({ credentials: { ...TEST_AWS, accessKeyId: "AKIAUNKNOWN" }, orgUuid: sim.orgUuid })).proof.reveal(),
    );
    expect((await refusal(encode(otherKey))).message).toMatch(/InvalidClientTokenId/);
    const otherSession = parseDelegatedProof(
      (await buildDelegatedProof({ credentials: { ...TEST_AWS, sessionToken: "another-session" }, orgUuid: sim.orgUuid })).proof.reveal(),
    );
    expect((await refusal(encode(otherSession))).message).toMatch(/InvalidClientTokenId/);
    const garbage = await refusal(new DelegatedProof("not-a-proof"));
    expect(garbage.status).toBe(401);
    expect(garbage.message).toMatch(/HTTP 401: Malformed proof/);
  });

  it("issued no token for any refused proof, and no error message quotes the proof", async () => {
    expect(dt.accepted).toBe(1); // the one untampered proof above
    expect(dt.refused).toBeGreaterThanOrEqual(9);
    for (const text of dt.refusals) expect(text).not.toMatch(/Signature=|AKIA|Delegated /);
  });
});
