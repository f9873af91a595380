/**
 * Under an arbitrary UID with no passwd entry and no HOME (OpenShift), the AWS chain must still reach the
 * web-identity step (EKS IRSA) instead of dying on os.homedir(). Runs the probe as UID 65532 via setpriv.
 */
import { describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const canSwitchUser = process.getuid?.() === 0 && spawnSync("setpriv", ["--version"]).status === 0;
const source = new URL("../../connectors/datadog/auth/aws-credentials.ts", import.meta.url).pathname;

describe.skipIf(!canSwitchUser)("AWS credentials without a home directory", () => {
  it("reaches the web-identity step (STS) instead of failing on the home directory", () => {
    if (!canSwitchUser) console.warn("SKIPPING: needs root and setpriv to run as a UID without a passwd entry");
    const dir = mkdtempSync(join(tmpdir(), "homeless-"));
    try {
      chmodSync(dir, 0o755);
      writeFileSync(join(dir, "token"), "web-identity-token");
      const probe = join(dir, "probe.ts");
      writeFileSync(
        probe,
        `import { AwsCredentialSource } from ${JSON.stringify(source)};\n` +
          `try { await new AwsCredentialSource({ stsEndpoint: "http://127.0.0.1:9", region: "us-east-1" }).resolve(AbortSignal.timeout(5000)); }\n` +
          `catch (e) { let c = e; const out = []; while (c) { out.push(String(c.message)); c = c.cause; } console.log(out.join(" | ")); }\n`,
      );
      chmodSync(join(dir, "token"), 0o644);
      chmodSync(probe, 0o644);
      const out = execFileSync(
        "setpriv",
        ["--reuid=65532", "--regid=65532", "--clear-groups", "env", "-i", `PATH=${process.env.PATH}`,
          `AWS_WEB_IDENTITY_TOKEN_FILE=${join(dir, "token")}`, "AWS_ROLE_ARN=arn:aws:iam::111122223333:role/baton",
          "AWS_EC2_METADATA_DISABLED=true", process.execPath, probe],
        { encoding: "utf8" },
      );
      expect(out).not.toContain("uv_os_homedir");
      expect(out).toContain("ECONNREFUSED");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
