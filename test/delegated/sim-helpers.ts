/**
 * Reading the simulator the way the Datadog client does (headers from a CredentialProvider; on 401 ask
 * onUnauthorized and retry once), plus a secret-leak assertion for captured logs.
 */
import pLimit from "p-limit";
import { request } from "undici";
import { expect } from "vitest";
import type { CredentialProvider } from "../../connectors/datadog/client/credentials.ts";
import { AwsCredentialSource } from "../../connectors/datadog/auth/aws-credentials.ts";

export const TEST_AWS = {
  accessKeyId: "AKIATESTDELEGATED01",
  secretAccessKey: "test/Secret+AccessKey0123456789abcdefghij",
  sessionToken: "IQoJb3JpZ2luX2VjEXAMPLE/session+token==",
};

/** AWS credentials that are always these (the chain itself is covered in aws-credentials.test.ts). */
export function fixedAws(creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = TEST_AWS): AwsCredentialSource {
  return new AwsCredentialSource({ provider: async () => ({ ...creds }), providerLabel: "test credentials" });
}

export interface ReadCounters {
  requests: number;
  unauthorizedRetries: number;
}

export class ApiCallError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export async function apiGet(
  provider: CredentialProvider,
  baseUrl: string,
  path: string,
  counters?: ReadCounters,
): Promise<any> {
  for (let attempt = 0; ; attempt++) {
    const headers = await provider.headers();
    if (counters) counters.requests += 1;
    const res = await request(`${baseUrl}${path}`, { method: "GET", headers });
    const text = await res.body.text();
    if (res.statusCode === 401 && attempt === 0 && provider.onUnauthorized && (await provider.onUnauthorized(headers))) {
      if (counters) counters.unauthorizedRetries += 1;
      continue;
    }
    if (res.statusCode !== 200) throw new ApiCallError(res.statusCode, `GET ${path} answered ${res.statusCode}: ${text.slice(0, 200)}`);
    return JSON.parse(text);
  }
}

export interface OrgSnapshot {
  users: string[];
  roles: string[];
  roleMembers: Record<string, string[]>;
}

/** Users and roles (with members), fetching pages concurrently so several requests wait on one refresh. */
export async function readUsersAndRoles(
  provider: CredentialProvider,
  baseUrl: string,
  counters?: ReadCounters,
  concurrency = 8,
): Promise<OrgSnapshot> {
  const limit = pLimit(concurrency);
  const pageSize = 10;
  const first = await apiGet(provider, baseUrl, `/api/v2/users?page%5Bsize%5D=${pageSize}&page%5Bnumber%5D=0`, counters);
  const total: number = first.meta.page.total_count;
  const pages = await Promise.all(
    Array.from({ length: Math.max(0, Math.ceil(total / pageSize) - 1) }, (_, i) =>
      limit(() => apiGet(provider, baseUrl, `/api/v2/users?page%5Bsize%5D=${pageSize}&page%5Bnumber%5D=${i + 1}`, counters)),
    ),
  );
  const users = [first, ...pages].flatMap((p) => p.data.map((u: { id: string }) => u.id)).sort();

  const roles: string[] = [];
  for (let page = 0; ; page++) {
    const body = await apiGet(provider, baseUrl, `/api/v2/roles?page%5Bsize%5D=100&page%5Bnumber%5D=${page}`, counters);
    roles.push(...body.data.map((r: { id: string }) => r.id));
    if (body.data.length < 100) break;
  }
  roles.sort();
  const roleMembers: Record<string, string[]> = {};
  await Promise.all(
    roles.map((roleId) =>
      limit(async () => {
        const members: string[] = [];
        for (let page = 0; ; page++) {
          const body = await apiGet(provider, baseUrl, `/api/v2/roles/${roleId}/users?page%5Bsize%5D=20&page%5Bnumber%5D=${page}`, counters);
          members.push(...body.data.map((u: { id: string }) => u.id));
          if (body.data.length < 20) break;
        }
        roleMembers[roleId] = members.sort();
      }),
    ),
  );
  return { users, roles, roleMembers };
}

/** None of the secrets (nor an obvious fragment of a proof) appears in `text`. */
export function expectNoSecrets(text: string, secrets: Iterable<string>): void {
  for (const secret of secrets) {
    if (!secret) continue;
    expect(text.includes(secret), `a secret (${secret.length} chars) leaked into the output`).toBe(false);
    for (const part of secret.replace(/^Delegated /, "").split("|")) {
      if (part.length >= 16) expect(text.includes(part), "a part of a proof leaked into the output").toBe(false);
    }
  }
  expect(text).not.toMatch(/Delegated [A-Za-z0-9+/=]{20}/);
  expect(text).not.toMatch(/Signature=[0-9a-f]{64}/);
}
