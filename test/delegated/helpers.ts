/**
 * Test helpers for delegated auth: a loopback STS stand-in (AssumeRoleWithWebIdentity), a captured debug logger,
 * and an isolated AWS environment so the SDK's credential chain sees only what a test sets.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { pino, type Logger } from "pino";
import { makeTempDir } from "../helpers/temp-dir.ts";

export interface StsCall {
  readonly action: string | null;
  readonly roleArn: string | null;
  readonly roleSessionName: string | null;
  readonly webIdentityToken: string | null;
}

export interface StsStandIn {
  readonly url: string;
  readonly calls: StsCall[];
  close(): Promise<void>;
}

export interface StsStandInOptions {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** Only this web identity token is accepted (what the token file must contain). */
  readonly expectedWebIdentityToken: string;
  readonly expiration?: Date;
}

/** A tiny STS that answers AssumeRoleWithWebIdentity in the AWS Query protocol's XML, as the real one does. */
export async function startStsStandIn(options: StsStandInOptions): Promise<StsStandIn> {
  const calls: StsCall[] = [];
  const server: Server = createServer(async (req, res) => {
    const form = new URLSearchParams(await readBody(req));
    const call: StsCall = {
      action: form.get("Action"),
      roleArn: form.get("RoleArn"),
      roleSessionName: form.get("RoleSessionName"),
      webIdentityToken: form.get("WebIdentityToken"),
    };
    calls.push(call);
    res.setHeader("content-type", "text/xml");
    if (call.action !== "AssumeRoleWithWebIdentity" || call.webIdentityToken?.trim() !== options.expectedWebIdentityToken) {
      res.statusCode = 400;
      res.end(
        `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>` +
          `<Code>InvalidIdentityToken</Code><Message>Incorrect token audience</Message></Error>` +
          `<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`,
      );
      return;
    }
    const roleName = call.roleArn?.split("/").pop() ?? "role";
    const session = call.roleSessionName ?? "session";
    const expiration = (options.expiration ?? new Date(Date.now() + 3600_000)).toISOString();
    res.end(
      `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">` +
        `<AssumeRoleWithWebIdentityResult>` +
        `<SubjectFromWebIdentityToken>system:serviceaccount:baton:baton-datadog</SubjectFromWebIdentityToken>` +
        `<Audience>sts.amazonaws.com</Audience>` +
        `<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/${roleName}/${session}</Arn>` +
        `<AssumedRoleId>AROAEXAMPLE:${session}</AssumedRoleId></AssumedRoleUser>` +
        `<Credentials><SessionToken>${options.sessionToken}</SessionToken>` +
        `<SecretAccessKey>${options.secretAccessKey}</SecretAccessKey>` +
        `<Expiration>${expiration}</Expiration>` +
        `<AccessKeyId>${options.accessKeyId}</AccessKeyId></Credentials>` +
        `<Provider>arn:aws:iam::123456789012:oidc-provider/oidc.eks.example</Provider>` +
        `</AssumeRoleWithWebIdentityResult>` +
        `<ResponseMetadata><RequestId>11111111-1111-1111-1111-111111111111</RequestId></ResponseMetadata>` +
        `</AssumeRoleWithWebIdentityResponse>`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export interface CapturedLog {
  readonly logger: Logger;
  text(): string;
  lines(): Array<Record<string, unknown>>;
}

/**
 * A debug-level pino logger with NO redaction, writing to memory: if a secret shows up here, the code under
 * test logged it (the real logger's scrubbing would have hidden the mistake).
 */
export function captureLog(): CapturedLog {
  const out: string[] = [];
  const logger = pino({ level: "debug", base: null }, { write: (line: string) => out.push(line) });
  return {
    logger,
    text: () => out.join(""),
    lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const AWS_VARS = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_CREDENTIAL_EXPIRATION",
  "AWS_PROFILE",
  "AWS_DEFAULT_PROFILE",
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_ROLE_ARN",
  "AWS_ROLE_SESSION_NAME",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_CONFIG_FILE",
  "AWS_EC2_METADATA_DISABLED",
  "AWS_ENDPOINT_URL",
  "AWS_ENDPOINT_URL_STS",
];

export interface IsolatedAwsEnv {
  readonly dir: string;
  set(vars: Record<string, string>): void;
  restore(): void;
}

/**
 * Clears every AWS variable, points the shared config files at an empty temp dir and disables IMDS, so the
 * chain finds exactly what the test sets (and never waits on a real metadata endpoint).
 */
export function isolateAwsEnv(): IsolatedAwsEnv {
  const saved = new Map(AWS_VARS.map((k) => [k, process.env[k]]));
  const { dir, cleanup } = makeTempDir("baton-dd-aws-");
  for (const k of AWS_VARS) delete process.env[k];
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, "credentials");
  process.env.AWS_CONFIG_FILE = join(dir, "config");
  process.env.AWS_EC2_METADATA_DISABLED = "true";
  return {
    dir,
    set(vars) {
      Object.assign(process.env, vars);
    },
    restore() {
      for (const [k, v] of saved) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      cleanup();
    },
  };
}
