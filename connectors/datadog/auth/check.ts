/**
 * The `check` subcommand's delegated-auth report: each stage on its own line, so an operator can see whether the
 * AWS identity, the proof, Datadog's acceptance or the token itself is the problem.
 */
import type { Dispatcher } from "undici";
import { AwsCredentialSource, type ResolvedAwsCredentials } from "./aws-credentials.ts";
import { exchangeProofForToken, extractErrors, type ExchangedToken } from "./exchange.ts";
import { buildDelegatedProof, type BuiltProof } from "./proof.ts";
import { assertProofDestination } from "./proof-destination.ts";
import { registerSecret } from "../../../src/api-client.ts";

export type DelegatedAuthStage = "aws-credentials" | "proof" | "exchange" | "token-works";

export interface DelegatedAuthCheckResult {
  readonly stage: DelegatedAuthStage;
  readonly ok: boolean;
  readonly detail: string;
}

export interface CheckDelegatedAuthOptions {
  readonly orgUuid: string;
  readonly apiBaseUrl: string;
  readonly explicitBaseUrl?: string;
  readonly region?: string;
  readonly aws?: AwsCredentialSource;
  readonly dispatcher?: Dispatcher;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

const STAGES: readonly DelegatedAuthStage[] = ["aws-credentials", "proof", "exchange", "token-works"];
/** The cheapest authenticated read: one user. */
export const TOKEN_PROBE_PATH = "/api/v2/users?page%5Bsize%5D=1";

export async function checkDelegatedAuth(options: CheckDelegatedAuthOptions): Promise<DelegatedAuthCheckResult[]> {
  const results: DelegatedAuthCheckResult[] = [];
  const fail = (stage: DelegatedAuthStage, detail: string): DelegatedAuthCheckResult[] => {
    results.push({ stage, ok: false, detail });
    for (const later of STAGES.slice(STAGES.indexOf(stage) + 1)) {
      results.push({ stage: later, ok: false, detail: `skipped: the ${stage} stage failed` });
    }
    return results;
  };
  const region = options.region === "" ? undefined : options.region;
  const timeoutMs = options.timeoutMs ?? 30_000;

  let aws: ResolvedAwsCredentials;
  try {
    const source = options.aws ?? new AwsCredentialSource(region !== undefined ? { region } : {});
    aws = await source.resolve(options.signal);
    registerSecret(aws.credentials.secretAccessKey);
    registerSecret(aws.credentials.sessionToken);
  } catch (err) {
    return fail("aws-credentials", message(err));
  }
  const roleText = aws.roleArn ? `, role ${aws.roleArn}` : ", role ARN not known locally (Datadog learns it from STS)";
  const temporary = aws.credentials.sessionToken ? "temporary credentials" : "long-term access key";
  results.push({ stage: "aws-credentials", ok: true, detail: `found ${temporary} from ${aws.source}${roleText}` });

  let built: BuiltProof;
  try {
    built = await buildDelegatedProof({
      credentials: aws.credentials,
      orgUuid: options.orgUuid,
      ...(region !== undefined ? { region } : {}),
    });
  } catch (err) {
    return fail("proof", message(err));
  }
  results.push({
    stage: "proof",
    ok: true,
    detail: `signed STS GetCallerIdentity for ${built.stsUrl} (region ${built.signingRegion}; signed headers ${built.signedHeaders})`,
  });

  let apiBaseUrl: string;
  let token: ExchangedToken;
  try {
    apiBaseUrl = assertProofDestination(options.apiBaseUrl, options.explicitBaseUrl);
    token = await exchangeProofForToken({
      apiBaseUrl,
      proof: built.proof,
      timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
    registerSecret(token.accessToken);
  } catch (err) {
    return fail("exchange", message(err));
  }
  const validFor = Math.round((token.expiresAtMs - Date.now()) / 1000);
  results.push({
    stage: "exchange",
    ok: true,
    detail: `Datadog accepted the proof for org ${options.orgUuid.toLowerCase()}; the access token is valid for ${validFor} s`,
  });

  // undici's index loads for `check` with delegated auth only (auth/index.ts re-exports this module to every sync).
  const { request } = await import("undici");
  try {
    const timeout = AbortSignal.timeout(timeoutMs);
    const res = await request(`${apiBaseUrl}${TOKEN_PROBE_PATH}`, {
      method: "GET",
      headers: { authorization: `Bearer ${token.accessToken}`, accept: "application/json" },
      signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
    const text = await readSmall(res.body);
    if (res.statusCode >= 200 && res.statusCode <= 299) {
      results.push({ stage: "token-works", ok: true, detail: "GET /api/v2/users?page[size]=1 succeeded with the access token" });
    } else {
      const said = extractErrors(text);
      results.push({
        stage: "token-works",
        ok: false,
        detail: `GET /api/v2/users answered HTTP ${res.statusCode}${said.length > 0 ? `: ${said.join("; ")}` : ""}` +
          (res.statusCode === 403 ? " (the Datadog user mapped to this AWS role may lack the user_access_read permission)" : ""),
      });
    }
  } catch (err) {
    results.push({ stage: "token-works", ok: false, detail: `GET /api/v2/users failed: ${message(err)}` });
  }
  return results;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function readSmall(body: AsyncIterable<Buffer | Uint8Array> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > 64 * 1024) {
      body.destroy();
      break;
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString("utf8");
}
