import { homedir } from "node:os";
/**
 * AWS credentials for delegated authentication, from the standard Node chain (env vars, shared config, web-identity
 * token file for EKS IRSA, container credentials for ECS / EKS Pod Identity, EC2 instance metadata with IMDSv2),
 * plus a description of where they came from for the `check` command.
 *
 * The secret parts of the credentials never leave this module except into the proof signer.
 */
import { raceAbort } from "../../../src/api-client.ts";

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** Anything that yields AWS credentials (the SDK chain, or a fixed value in tests). */
export type AwsCredentialProviderFn = () => Promise<AwsCredentials>;

export interface AwsCredentialSourceOptions {
  /** Replaces the standard chain (tests, or a caller that already holds credentials). */
  readonly provider?: AwsCredentialProviderFn;
  /** How to describe an injected provider in `check` output; defaults to "injected credential provider". */
  readonly providerLabel?: string;
  /**
   * STS endpoint override for the chain's own STS calls (AssumeRoleWithWebIdentity), e.g. a local stand-in in tests.
   * This is never where the delegated-auth proof goes: the proof is not sent to AWS at all.
   */
  readonly stsEndpoint?: string;
  /** Region for the chain's STS client; the global endpoint's us-east-1 when absent. */
  readonly region?: string;
  /** Environment used to describe the source (defaults to process.env; the SDK itself always reads process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface ResolvedAwsCredentials {
  readonly credentials: AwsCredentials;
  /** Human-readable source, e.g. "web identity token file (AWS_WEB_IDENTITY_TOKEN_FILE, EKS IRSA)". */
  readonly source: string;
  /** The IAM role ARN when it is known from configuration (web identity: AWS_ROLE_ARN). */
  readonly roleArn?: string;
}

/** Feature markers the SDK records on credentials (`$source`) → what we tell the user. */
const SOURCE_BY_FEATURE: ReadonlyArray<readonly [string, string]> = [
  ["CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN", "web identity token file (AWS_WEB_IDENTITY_TOKEN_FILE, e.g. EKS IRSA)"],
  ["CREDENTIALS_STS_ASSUME_ROLE_WEB_ID", "web identity token (AssumeRoleWithWebIdentity)"],
  ["CREDENTIALS_ENV_VARS", "environment variables (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"],
  ["CREDENTIALS_HTTP", "container credentials endpoint (ECS task role or EKS Pod Identity)"],
  ["CREDENTIALS_SSO", "AWS SSO (shared config profile)"],
  ["CREDENTIALS_SSO_LEGACY", "AWS SSO (shared config profile)"],
  ["CREDENTIALS_PROCESS", "credential_process (shared config profile)"],
  ["CREDENTIALS_PROFILE_STS_WEB_ID_TOKEN", "web identity token from a shared config profile"],
  ["CREDENTIALS_PROFILE_SOURCE_PROFILE", "assumed role from a shared config profile"],
  ["CREDENTIALS_PROFILE_NAMED_PROVIDER", "shared config profile (credential_source)"],
  ["CREDENTIALS_PROFILE_PROCESS", "credential_process (shared config profile)"],
  ["CREDENTIALS_PROFILE_SSO", "AWS SSO (shared config profile)"],
  ["CREDENTIALS_PROFILE_SSO_LEGACY", "AWS SSO (shared config profile)"],
  ["CREDENTIALS_PROFILE_LOGIN", "console login (shared config profile)"],
  ["CREDENTIALS_PROFILE", "shared credentials file (~/.aws/credentials)"],
];

export class AwsCredentialSource {
  readonly #provider: AwsCredentialProviderFn;
  readonly #injectedLabel: string | undefined;
  readonly #env: Readonly<Record<string, string | undefined>>;

  constructor(options: AwsCredentialSourceOptions = {}) {
    this.#env = options.env ?? process.env;
    if (options.provider) {
      this.#provider = options.provider;
      this.#injectedLabel = options.providerLabel ?? "injected credential provider";
      return;
    }
    this.#injectedLabel = undefined;
    const clientConfig: Record<string, unknown> = {};
    if (options.stsEndpoint !== undefined) clientConfig.endpoint = options.stsEndpoint;
    if (options.region !== undefined) clientConfig.region = options.region;
    // The chain is memoized by the SDK: it re-resolves only when temporary credentials are within 5 min of expiry.
    ensureHomeForAwsSdk();
    // The AWS SDK (its credential chain and STS client) loads with the first resolve: only delegated auth uses it.
    let chain: AwsCredentialProviderFn | undefined;
    this.#provider = async () => {
      if (!chain) {
        const { fromNodeProviderChain } = await import("@aws-sdk/credential-providers");
        chain = fromNodeProviderChain(Object.keys(clientConfig).length > 0 ? { clientConfig } : {});
      }
      return chain();
    };
  }

  /** Resolves credentials (cached by the SDK chain) and says where they came from. */
  async resolve(signal?: AbortSignal): Promise<ResolvedAwsCredentials> {
    signal?.throwIfAborted();
    let credentials: AwsCredentials;
    try {
      credentials = await raceAbort(this.#provider(), signal);
    } catch (err) {
      if (signal?.aborted) {
        if ((signal.reason as { name?: unknown } | undefined)?.name !== "TimeoutError") throw err;
        throw new AwsCredentialsError(
          "timed out looking for AWS credentials for delegated authentication (the credential chain, e.g. instance " +
            "metadata or STS, did not answer)",
          { cause: err },
        );
      }
      throw new AwsCredentialsError(
        "no AWS credentials found for delegated authentication: tried environment variables, the shared config " +
          "files, a web identity token file (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN), container credentials " +
          "(AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI) and EC2 instance metadata. Give the workload an AWS " +
          `identity (IRSA, Pod Identity, task role or instance profile). Cause: ${describeCause(err)}`,
        { cause: err },
      );
    }
    if (typeof credentials?.accessKeyId !== "string" || typeof credentials.secretAccessKey !== "string") {
      throw new AwsCredentialsError("the AWS credential chain returned incomplete credentials (no access key pair)");
    }
    return { credentials, ...this.#describe(credentials) };
  }

  #describe(credentials: AwsCredentials): { source: string; roleArn?: string } {
    if (this.#injectedLabel !== undefined) return { source: this.#injectedLabel };
    const features = readFeatures(credentials);
    const webIdentity =
      features.has("CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN") || features.has("CREDENTIALS_STS_ASSUME_ROLE_WEB_ID");
    const roleArn = webIdentity ? nonEmpty(this.#env.AWS_ROLE_ARN) : undefined;
    for (const [feature, label] of SOURCE_BY_FEATURE) {
      if (features.has(feature)) return roleArn ? { source: label, roleArn } : { source: label };
    }
    // Container and instance metadata providers do not mark their credentials; the chain only reaches them when
    // nothing above matched, and picks the container endpoint whenever its variables are set.
    if (nonEmpty(this.#env.AWS_CONTAINER_CREDENTIALS_FULL_URI) || nonEmpty(this.#env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)) {
      return { source: "container credentials endpoint (ECS task role or EKS Pod Identity)" };
    }
    return { source: "EC2 instance metadata (IMDSv2)" };
  }
}

export class AwsCredentialsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AwsCredentialsError";
  }
}

function readFeatures(credentials: AwsCredentials): Set<string> {
  const marks = (credentials as { $source?: unknown }).$source;
  return new Set(marks && typeof marks === "object" ? Object.keys(marks) : []);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== "" ? value.trim() : undefined;
}

/** SDK errors carry AWS's message (never the secret key); keep it short and on one line. */
function describeCause(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.replace(/\s+/g, " ").slice(0, 300);
}

/**
 * The chain's shared-config step always asks for the home directory (~/.aws), falling back to os.homedir(), and
 * under an arbitrary UID with no passwd entry and no HOME (OpenShift, `runAsUser` without HOME) that throws and
 * ends the whole chain before the web-identity step (EKS IRSA) is tried. The SDK reads process.env directly, so
 * give it a home that does not exist: there are then no shared files, which is the truth. (Not TMPDIR: a shared
 * /tmp could hold someone else's .aws/credentials.)
 */
function ensureHomeForAwsSdk(): void {
  if (process.env.HOME || process.env.USERPROFILE) return;
  try {
    homedir();
  } catch {
    process.env.HOME = "/nonexistent";
  }
}
