import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AwsCredentialSource, AwsCredentialsError } from "../../connectors/datadog/auth/aws-credentials.ts";
import { isolateAwsEnv, startStsStandIn, type IsolatedAwsEnv } from "./helpers.ts";

describe("AWS credentials from the standard chain", () => {
  let env: IsolatedAwsEnv;
  beforeEach(() => {
    env = isolateAwsEnv();
  });
  afterEach(() => env.restore());

  it("reads static credentials from environment variables and says so", async () => {
    env.set({ AWS_ACCESS_KEY_ID: "AKIAENVEXAMPLE", AWS_SECRET_ACCESS_KEY: "env-secret-key", AWS_SESSION_TOKEN: "env-session" });
    const resolved = await new AwsCredentialSource().resolve();
    expect(resolved.credentials.accessKeyId).toBe("AKIAENVEXAMPLE");
    expect(resolved.credentials.secretAccessKey).toBe("env-secret-key");
    expect(resolved.credentials.sessionToken).toBe("env-session");
    expect(resolved.source).toMatch(/environment variables/);
    expect(resolved.roleArn).toBeUndefined();
  });

  it("assumes the role from a web identity token file through STS (IRSA), reporting source and role ARN", async () => {
    const sts = await startStsStandIn({
      accessKeyId: "ASIAWEBIDENTITY",
      secretAccessKey: "web-identity-secret",
      sessionToken: "web-identity-session-token",
      expectedWebIdentityToken: "eyJhbGciOiJSUzI1NiJ9.k8s-projected-token.sig",
    });
    try {
      const tokenFile = join(env.dir, "token");
      writeFileSync(tokenFile, "eyJhbGciOiJSUzI1NiJ9.k8s-projected-token.sig\n");
      env.set({
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/baton-datadog",
        AWS_ROLE_SESSION_NAME: "baton-test",
      });
      const resolved = await new AwsCredentialSource({ stsEndpoint: sts.url, region: "us-east-1" }).resolve();
      expect(resolved.credentials).toMatchObject({
        accessKeyId: "ASIAWEBIDENTITY",
        secretAccessKey: "web-identity-secret",
        sessionToken: "web-identity-session-token",
      });
      expect(resolved.credentials.expiration).toBeInstanceOf(Date);
      expect(resolved.source).toMatch(/web identity token file/);
      expect(resolved.roleArn).toBe("arn:aws:iam::123456789012:role/baton-datadog");
      expect(sts.calls).toHaveLength(1);
      expect(sts.calls[0]).toMatchObject({
        action: "AssumeRoleWithWebIdentity",
        roleArn: "arn:aws:iam::123456789012:role/baton-datadog",
        roleSessionName: "baton-test",
      });
    } finally {
      await sts.close();
    }
  });

  it("reports STS's refusal of a bad web identity token clearly", async () => {
    const sts = await startStsStandIn({
      accessKeyId: "ASIAX",
      secretAccessKey: "s",
      sessionToken: "t",
      expectedWebIdentityToken: "the-right-token",
    });
    try {
      const tokenFile = join(env.dir, "token");
      writeFileSync(tokenFile, "a-wrong-token");
      env.set({ AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/r" });
      const err = await new AwsCredentialSource({ stsEndpoint: sts.url, region: "us-east-1" }).resolve().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AwsCredentialsError);
      expect((err as Error).message).toMatch(/no AWS credentials found/);
      expect((err as Error).message).toMatch(/Incorrect token audience/);
      expect((err as Error).message).not.toContain("a-wrong-token");
    } finally {
      await sts.close();
    }
  });

  it("fails with a message naming every source when nothing is configured", async () => {
    const err = await new AwsCredentialSource().resolve().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsCredentialsError);
    expect((err as Error).message).toMatch(/environment variables.*web identity token file.*container credentials.*instance metadata/s);
  });

  it("uses an injected provider and its label", async () => {
    const source = new AwsCredentialSource({
      provider: async () => ({ accessKeyId: "AKIAINJECTED", secretAccessKey: "x" }),
      providerLabel: "test provider",
    });
    expect(await source.resolve()).toMatchObject({ source: "test provider", credentials: { accessKeyId: "AKIAINJECTED" } });
  });

  it("stops waiting when the caller aborts", async () => {
    const source = new AwsCredentialSource({ provider: () => new Promise(() => {}) });
    const ac = new AbortController();
    const pending = source.resolve(ac.signal);
    ac.abort(new Error("stop"));
    await expect(pending).rejects.toThrow("stop");
  });
});

describe("AWS credential lookup time limit", () => {
  it("says it timed out when the chain does not answer in time", async () => {
    const source = new AwsCredentialSource({ provider: () => new Promise(() => {}) });
    await expect(source.resolve(AbortSignal.timeout(20))).rejects.toThrow(/timed out looking for AWS credentials/);
  });
});
