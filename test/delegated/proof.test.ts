import { inspect } from "node:util";
import { SignatureV4 } from "@smithy/signature-v4";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { delegatedAuthConstraints, delegatedAuthFields } from "../../connectors/datadog/auth/config.ts";
import { ConfigError, defineConfig, resolveConfig } from "../../src/config/index.ts";
import { assertProofDestination, ProofDestinationError } from "../../connectors/datadog/auth/proof-destination.ts";
import {
  buildDelegatedProof,
  canonicalHeaderName,
  parseDelegatedProof,
  ProofError,
  STS_CONTENT_TYPE,
  STS_GET_CALLER_IDENTITY_BODY,
} from "../../connectors/datadog/auth/proof.ts";
import { NodeSha256 } from "../../src/aws/sha256.ts";
import { verifyDelegatedAuthorization } from "../../connectors/datadog/simulator/delegated-token.ts";

const ORG = "0b1c2d3e-4f50-4a61-8b72-9c8d7e6f5a4b";
const CREDS = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };

describe("SigV4 signing with node:crypto hashing", () => {
  it("reproduces AWS's published example signature (IAM ListUsers, 2015-08-30)", async () => {
    const signer = new SignatureV4({ service: "iam", region: "us-east-1", credentials: CREDS, sha256: NodeSha256, applyChecksum: false });
    const signed = await signer.sign(
      {
        method: "GET",
        protocol: "https:",
        hostname: "iam.amazonaws.com",
        path: "/",
        query: { Action: "ListUsers", Version: "2010-05-08" },
        headers: { host: "iam.amazonaws.com", "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
      },
      { signingDate: new Date("2015-08-30T12:36:00Z") },
    );
    expect(signed.headers.authorization).toBe(
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, " +
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
    );
  });
});

describe("delegated-auth proof", () => {
  it("has the documented shape: body|headers|POST|url, canonical header names, no checksum or length header", async () => {
    const built = await buildDelegatedProof({
      credentials: { ...CREDS, sessionToken: "session-token-value" },
      orgUuid: ORG,
      now: new Date("2026-01-02T03:04:05Z"),
    });
    const text = built.proof.reveal();
    const parts = text.split("|");
    expect(parts).toHaveLength(4);
    expect(Buffer.from(parts[0]!, "base64").toString()).toBe("Action=GetCallerIdentity&Version=2011-06-15");
    expect(parts[2]).toBe("POST");
    expect(Buffer.from(parts[3]!, "base64").toString()).toBe("https://sts.amazonaws.com");

    const parsed = parseDelegatedProof(text);
    expect(Object.keys(parsed.headers).sort()).toEqual(
      ["Authorization", "Content-Type", "Host", "X-Amz-Date", "X-Amz-Security-Token", "X-Ddog-Org-Id"].sort(),
    );
    expect(parsed.headers["Content-Type"]).toEqual([STS_CONTENT_TYPE]);
    expect(parsed.headers.Host).toEqual(["sts.amazonaws.com"]);
    expect(parsed.headers["X-Amz-Date"]).toEqual(["20260102T030405Z"]);
    expect(parsed.headers["X-Amz-Security-Token"]).toEqual(["session-token-value"]);
    expect(parsed.headers["X-Ddog-Org-Id"]).toEqual([ORG]);
    expect(parsed.headers.Authorization![0]).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20260102\/us-east-1\/sts\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-ddog-org-id, Signature=[0-9a-f]{64}$/,
    );
    expect(built.signedHeaders).toContain("x-ddog-org-id");
    expect(parsed.body).toBe(STS_GET_CALLER_IDENTITY_BODY);
  });

  it("names the regional STS endpoint and signs for its region when --aws-region is set", async () => {
    const built = await buildDelegatedProof({ credentials: CREDS, orgUuid: ORG, region: "eu-west-2" });
    const parsed = parseDelegatedProof(built.proof.reveal());
    expect(parsed.url).toBe("https://sts.eu-west-2.amazonaws.com");
    expect(parsed.headers.Host).toEqual(["sts.eu-west-2.amazonaws.com"]);
    expect(parsed.headers.Authorization![0]).toContain("/eu-west-2/sts/aws4_request");
    expect(parsed.headers["X-Amz-Security-Token"]).toBeUndefined();
  });

  it("is verified by an independent SigV4 implementation (the simulator's), and fails it with another secret", async () => {
    for (const region of [undefined, "ap-southeast-2"]) {
      const built = await buildDelegatedProof({ credentials: { ...CREDS, sessionToken: "tok/with+chars==" }, orgUuid: ORG, ...(region ? { region } : {}) });
      const expectations = {
        orgUuid: ORG,
        awsAccessKeyId: CREDS.accessKeyId,
        awsSecretAccessKey: CREDS.secretAccessKey,
        roleArn: "arn:aws:iam::123456789012:role/r",
        clockSkewSeconds: 300,
        nowMs: Date.now(),
      };
      expect(verifyDelegatedAuthorization(`Delegated ${built.proof.reveal()}`, expectations).accessKeyId).toBe("AKIDEXAMPLE");
      expect(() =>
        verifyDelegatedAuthorization(`Delegated ${built.proof.reveal()}`, { ...expectations, awsSecretAccessKey: "other" }),
      ).toThrow(/SignatureDoesNotMatch/);
    }
  });

  it("never shows its text when printed, logged or JSON-encoded", async () => {
    const built = await buildDelegatedProof({ credentials: CREDS, orgUuid: ORG });
    const text = built.proof.reveal();
    for (const shown of [String(built.proof), JSON.stringify({ built }), inspect(built, { depth: 5 }), `${built.proof}`]) {
      expect(shown).not.toContain(text);
      expect(shown).not.toContain(text.split("|")[1]!);
    }
  });

  it("rejects a non-UUID org and a malformed region with clear messages", async () => {
    await expect(buildDelegatedProof({ credentials: CREDS, orgUuid: "my-org" })).rejects.toThrow(/--delegated-auth-org-uuid must be/);
    await expect(buildDelegatedProof({ credentials: CREDS, orgUuid: ORG, region: "Europe" })).rejects.toThrow(/--aws-region "Europe" is not an AWS region/);
  });

  it("parses only well-formed proofs", () => {
    expect(() => parseDelegatedProof("a|b|c")).toThrow(ProofError);
    expect(() => parseDelegatedProof("!!!!|e30=|POST|aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbQ==")).toThrow(/not standard base64/);
    expect(() => parseDelegatedProof(`${b64("x")}|${b64("[1]")}|POST|${b64("u")}`)).toThrow(/JSON object/);
    expect(() => parseDelegatedProof(`${b64("x")}|${b64('{"A":"v"}')}|POST|${b64("u")}`)).toThrow(/array of strings/);
  });

  it("uses Go's canonical header casing", () => {
    expect(canonicalHeaderName("x-ddog-org-id")).toBe("X-Ddog-Org-Id");
    expect(canonicalHeaderName("CONTENT-TYPE")).toBe("Content-Type");
    expect(canonicalHeaderName("host")).toBe("Host");
  });
});

describe("where the proof may go", () => {
  it("allows Datadog's API hosts for every site", () => {
    for (const site of ["datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu", "ap1.datadoghq.com", "ap2.datadoghq.com", "ddog-gov.com"]) {
      expect(assertProofDestination(`https://api.${site}`)).toBe(`https://api.${site}`);
      expect(assertProofDestination(`https://api.${site}/`)).toBe(`https://api.${site}`);
    }
  });

  it("allows exactly the explicit --base-url, and nothing else", () => {
    expect(assertProofDestination("http://127.0.0.1:8123/", "http://127.0.0.1:8123")).toBe("http://127.0.0.1:8123");
    for (const bad of [
      "https://api.datadoghq.com.evil.example",
      "http://api.datadoghq.com",
      "https://api.datadoghq.com:8443",
      "https://app.datadoghq.com",
      "https://evil.example",
      "https://user@api.datadoghq.com",
      "http://127.0.0.1:8124",
    ]) {
      expect(() => assertProofDestination(bad, "http://127.0.0.1:8123"), bad).toThrow(ProofDestinationError);
    }
    expect(() => assertProofDestination("https://evil.example")).toThrow(/only goes to Datadog's API hosts.*--base-url/);
  });
});

describe("config fields", () => {
  it("validates the org UUID, the provider and the region", () => {
    const { delegatedAuthOrgUuid, delegatedAuthProvider, awsRegion } = delegatedAuthFields;
    expect(delegatedAuthOrgUuid.schema.safeParse(ORG).success).toBe(true);
    expect(delegatedAuthOrgUuid.schema.safeParse(undefined).success).toBe(true);
    const bad = delegatedAuthOrgUuid.schema.safeParse("12345");
    expect(bad.success).toBe(false);
    expect(z.prettifyError(bad.error!)).toMatch(/must be a UUID/);
    expect(delegatedAuthProvider.defaultValue).toBe("aws");
    expect(delegatedAuthProvider.schema.safeParse("aws").success).toBe(true);
    expect(delegatedAuthProvider.schema.safeParse("gcp").success).toBe(false);
    expect(awsRegion.schema.safeParse("eu-central-1").success).toBe(true);
    expect(awsRegion.schema.safeParse(undefined).success).toBe(true);
    expect(awsRegion.schema.safeParse("frankfurt").success).toBe(false);
  });

  it("resolves from BATON_* env vars and flags through the SDK's config system, with clear errors", () => {
    const def = defineConfig({ ...delegatedAuthFields }, { constraints: delegatedAuthConstraints });
    const ok = resolveConfig(def, { env: { BATON_DELEGATED_AUTH_ORG_UUID: ORG }, flags: { awsRegion: "eu-west-1" } });
    expect(ok.values).toEqual({ delegatedAuthOrgUuid: ORG, delegatedAuthProvider: "aws", awsRegion: "eu-west-1" });

    const errorOf = (fn: () => unknown): string => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error("expected a ConfigError");
    };
    expect(errorOf(() => resolveConfig(def, { env: { BATON_DELEGATED_AUTH_ORG_UUID: "acme" } }))).toMatch(
      /--delegated-auth-org-uuid[\s\S]*must be a UUID/,
    );
    expect(errorOf(() => resolveConfig(def, { env: { BATON_DELEGATED_AUTH_ORG_UUID: ORG, BATON_DELEGATED_AUTH_PROVIDER: "gcp" } }))).toMatch(
      /--delegated-auth-provider[\s\S]*must be one of: aws/,
    );
    expect(errorOf(() => resolveConfig(def, { flags: { awsRegion: "us-east-1" } }))).toMatch(/--aws-region is only used with --delegated-auth-org-uuid/);
  });
});

function b64(s: string): string {
  return Buffer.from(s).toString("base64");
}
