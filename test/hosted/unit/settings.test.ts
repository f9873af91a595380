import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/config/errors.ts";
import { readHostedSettings } from "../../../src/hosted/settings.ts";
import { tempDirs } from "../../helpers/temp-dir.ts";
import { makeClientSecret } from "../../platform/platform.ts";

const tempDir = tempDirs();
const signer = JSON.stringify((generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" })));

function goodEnv(): Record<string, string> {
  return {
    BATON_LAMBDA_CLIENT_ID: "fn@tenant.example.com:8443/connector-1",
    BATON_LAMBDA_CLIENT_SECRET: makeClientSecret().secret,
    BATON_LAMBDA_AUTH_JWT_SIGNER: signer,
    BATON_LAMBDA_AUTH_JWT_EXPECTED_ISSUER: "https://issuer.example",
    BATON_LAMBDA_AUTH_JWT_EXPECTED_SUBJECT: "connector-1",
    BATON_LAMBDA_AUTH_JWT_EXPECTED_AUDIENCE: "fn",
  };
}

function problems(env: Record<string, string | undefined>): ConfigError {
  try {
    readHostedSettings(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("hosted settings", () => {
  it("reads a complete env: hosts from the client id, the audience without the port, defaults", () => {
    const s = readHostedSettings(goodEnv());
    expect(s.tokenHost).toBe("tenant.example.com:8443");
    expect(s.tokenUrl).toBe("https://tenant.example.com:8443/auth/v1/token");
    expect(s.tokenAudience).toBe("tenant.example.com");
    expect(s.configurationHost).toBe("tenant.example.com:8443");
    expect(s.configurationTarget).toBe("tenant.example.com:8443");
    expect(s.logLevel).toBe("info");
    expect(s.sessionCacheBytes).toBe(15_728_640);
    expect(s.auth).toEqual({ issuer: "https://issuer.example", subject: "connector-1", audience: "fn", signerJwk: signer });
    expect(s.ca).toBeUndefined();
  });

  it("names every missing setting at once", () => {
    const err = problems({});
    const labels = err.issues.map((i) => i.label);
    for (const name of [
      "BATON_LAMBDA_CLIENT_ID",
      "BATON_LAMBDA_CLIENT_SECRET",
      "BATON_LAMBDA_AUTH_JWT_EXPECTED_ISSUER",
      "BATON_LAMBDA_AUTH_JWT_EXPECTED_SUBJECT",
      "BATON_LAMBDA_AUTH_JWT_EXPECTED_AUDIENCE",
    ]) {
      expect(labels).toContain(name);
    }
    expect(err.message).toMatch(/BATON_LAMBDA_AUTH_JWT_SIGNER \/ BATON_LAMBDA_AUTH_JWT_JWKS_URL: set exactly one of them \(neither is set\)/);
  });

  it("refuses a bad client id and a bad client secret with the service mode's reasons, never echoing the secret", () => {
    const env = { ...goodEnv(), BATON_LAMBDA_CLIENT_ID: "no-at-sign", BATON_LAMBDA_CLIENT_SECRET: "secret-token:x:v2:c2VjcmV0LXBhcnQtdmFsdWU" };
    const err = problems(env);
    expect(err.message).toMatch(/BATON_LAMBDA_CLIENT_ID: the client id has no '@'/);
    expect(err.message).toMatch(/BATON_LAMBDA_CLIENT_SECRET: the client secret's version .* is not v1/);
    expect(err.message).not.toContain("c2VjcmV0LXBhcnQtdmFsdWU");
    const publicOnly = Buffer.from(JSON.stringify({ kty: "OKP", crv: "Ed25519", x: "abc" })).toString("base64url");
    expect(problems({ ...goodEnv(), BATON_LAMBDA_CLIENT_SECRET: `a:b:v1:${publicOnly}` }).message).toMatch(/no private part \(d\)/);
  });

  it("refuses both signer and JWKS URL, a private signer key, bad levels, timestamps and sizes", () => {
    const { privateKey } = generateKeyPairSync("ed25519");
    const err = problems({
      ...goodEnv(),
      BATON_LAMBDA_AUTH_JWT_JWKS_URL: "https://issuer.example/jwks.json",
      BATON_LOG_LEVEL: "loud",
      BATON_LOG_LEVEL_DEBUG_EXPIRES_AT: "tomorrow",
      BATON_SESSION_STORE_MAXIMUM_SIZE: "15MB",
      BATON_LOG_FORMAT: "xml",
    });
    expect(err.message).toMatch(/set exactly one of them \(both are set\)/);
    expect(err.message).toMatch(/BATON_LOG_LEVEL: got "loud"/);
    expect(err.message).toMatch(/BATON_LOG_LEVEL_DEBUG_EXPIRES_AT: is not an RFC 3339 timestamp/);
    expect(err.message).toMatch(/BATON_SESSION_STORE_MAXIMUM_SIZE: must be a whole number/);
    expect(err.message).toMatch(/BATON_LOG_FORMAT: got "xml"/);
    const priv = JSON.stringify(privateKey.export({ format: "jwk" }));
    expect(problems({ ...goodEnv(), BATON_LAMBDA_AUTH_JWT_SIGNER: priv }).message).toMatch(/is a private key; give the public key only/);
  });

  it("maps zap's levels, takes the debug expiry, and lets a size of 0 or less turn the cache off", () => {
    const s = readHostedSettings({ ...goodEnv(), BATON_LOG_LEVEL: "DPANIC", BATON_LOG_LEVEL_DEBUG_EXPIRES_AT: "2030-01-02T03:04:05Z", BATON_SESSION_STORE_MAXIMUM_SIZE: "-1" });
    expect(s.logLevel).toBe("error");
    expect(s.logLevelDebugExpiresAt?.toISOString()).toBe("2030-01-02T03:04:05.000Z");
    expect(s.sessionCacheBytes).toBe(0);
  });

  it("applies the host overrides: the token host replaces the client id's, the configuration host defaults to it", () => {
    const s = readHostedSettings({ ...goodEnv(), BATON_LAMBDA_TOKEN_HOST: "127.0.0.1:9443" });
    expect(s.tokenUrl).toBe("https://127.0.0.1:9443/auth/v1/token");
    expect(s.tokenAudience).toBe("127.0.0.1");
    expect(s.configurationTarget).toBe("127.0.0.1:9443");
    const t = readHostedSettings({ ...goodEnv(), BATON_LAMBDA_CONFIGURATION_HOST: "config.example.com" });
    expect(t.configurationHost).toBe("config.example.com");
    expect(t.configurationTarget).toBe("config.example.com:443");
    expect(problems({ ...goodEnv(), BATON_LAMBDA_TOKEN_HOST: "" }).message).toMatch(/BATON_LAMBDA_TOKEN_HOST: is set but empty/);
    expect(problems({ ...goodEnv(), BATON_LAMBDA_CONFIGURATION_HOST: "h:99999" }).message).toMatch(/BATON_LAMBDA_CONFIGURATION_HOST: the host must be host or host:port/);
  });

  it("appends BATON_LAMBDA_CA_CERT_PATH's certificates and refuses a file without one", () => {
    const dir = tempDir("hosted-settings-");
    expect(problems({ ...goodEnv(), BATON_LAMBDA_CA_CERT_PATH: join(dir, "missing.pem") }).message).toMatch(/cannot read the CA bundle .*missing\.pem \(ENOENT\)/);
    writeFileSync(join(dir, "empty.pem"), "not a certificate\n");
    expect(problems({ ...goodEnv(), BATON_LAMBDA_CA_CERT_PATH: join(dir, "empty.pem") }).message).toMatch(/contains no PEM certificate/);
    writeFileSync(join(dir, "bad.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    expect(problems({ ...goodEnv(), BATON_LAMBDA_CA_CERT_PATH: join(dir, "bad.pem") }).message).toMatch(/not a valid X\.509 certificate/);
  });
});
