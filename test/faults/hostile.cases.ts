/**
 * Hostile input: oversized and unknown values in gRPC requests to a served connector (typed and raw clients) →
 * INVALID_ARGUMENT (or the transport's own refusal), the server alive afterwards; broken c1z files given to the
 * CLI's inspection commands → a one-line reason and exit 1, never a stack trace; configuration aimed at the wrong
 * place, and client secrets malformed in every way → refused with a clear error that never echoes the secret.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { zstdCompressSync } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { Code, ConnectorError } from "../../src/connector/errors.ts";
import { MAX_ID_BYTES, MAX_PAGE_TOKEN_BYTES } from "../../src/connector/limits.ts";
import { EntitlementSchema } from "../../src/gen/c1/connector/v2/entitlement_pb.js";
import { ResourceSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { connectorClient } from "../../src/grpc/connector-client.ts";
import { serveConnector } from "../../src/grpc/connector-server.ts";
import { parseClientSecret } from "../../src/service/credentials.ts";
import { SyncStore } from "../../src/store/store.ts";
import { createCredentialProvider } from "../../connectors/datadog/auth/index.ts";
import { assertProofDestination } from "../../connectors/datadog/auth/proof-destination.ts";
import { runDatadogCliInProcess } from "../helpers/cli-in-process.ts";
import { collector } from "./collect.ts";
import { record } from "./matrix.ts";
import { builtDatadog, cleanSync, onCleanup, runCli, startSim, tempDir } from "./support.ts";

const codeName = (code: number | undefined) => Object.entries(Code).find(([, v]) => v === code)?.[0] ?? String(code);

async function failure(p: Promise<unknown>): Promise<ConnectorError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ConnectorError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

// ---- zstd frames made by hand (RFC 8878): the shapes a hostile c1z can take --------------------------------

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const C1Z_MAGIC = Buffer.from("C1ZF\0", "latin1");

function blockHeader(type: 0 | 1, size: number, last: boolean): Buffer {
  const v = (size << 3) | (type << 1) | (last ? 1 : 0);
  return Buffer.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff]);
}

/**
 * A frame whose payload starts like a SQLite file and then expands `rleBlocks` blocks of 128 KiB of zeros, each
 * written in 4 bytes: a decompression bomb. With `declaredSize` the header says how large it decodes.
 */
function bombFrame(rleBlocks: number, declaredSize?: bigint): Buffer {
  const parts: Buffer[] = [ZSTD_MAGIC];
  if (declaredSize !== undefined) {
    const fcs = Buffer.alloc(8);
    fcs.writeBigUInt64LE(declaredSize);
    parts.push(Buffer.from([0xc0, (17 - 10) << 3]), fcs); // 8-byte content size, 128 KiB window
  } else {
    parts.push(Buffer.from([0x00, (17 - 10) << 3])); // no content size
  }
  const head = Buffer.from("SQLite format 3\0", "latin1");
  parts.push(blockHeader(0, head.length, false), head);
  for (let i = 0; i < rleBlocks; i++) parts.push(blockHeader(1, 128 * 1024, i === rleBlocks - 1), Buffer.from([0]));
  return Buffer.concat(parts);
}

/** A frame that asks for a 2 GiB window (window log 31): a reader must refuse to allocate it. */
function hugeWindowFrame(): Buffer {
  const data = Buffer.from("SQLite format 3\0", "latin1");
  return Buffer.concat([ZSTD_MAGIC, Buffer.from([0x00, (31 - 10) << 3]), blockHeader(0, data.length, true), data]);
}

/** Runs the CLI in-process; returns its exit code and what it wrote (which the collector sees). */
async function cliInProcess(argv: string[], source: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await runDatadogCliInProcess(argv, { cwd: tempDir("cli-cwd") });
  collector.add(`${source} stdout`, stdout);
  collector.add(`${source} stderr`, stderr);
  return { code, stdout, stderr };
}

export function hostileInputCases(): void {
  describe("Hostile input", () => {
    it("gRPC: ids over 1024 bytes, page tokens over 1 MiB, page_size over 250, unknown types → INVALID_ARGUMENT; the server lives on", async () => {
      const sim = await startSim();
      const logger = collector.logger("hostile: gRPC server");
      const { rpc } = await builtDatadog(sim, logger);
      const served = await serveConnector(rpc, { address: "127.0.0.1:0", credentials: grpc.ServerCredentials.createInsecure(), logger });
      onCleanup(() => served.close());
      const target = `127.0.0.1:${served.port}`;
      const client = connectorClient(target, grpc.credentials.createInsecure());
      onCleanup(() => client.close());

      const long = "x".repeat(MAX_ID_BYTES + 1);
      const longInBytes = "€".repeat(342); // 342 characters, 1026 bytes: the limit counts bytes
      const resource = (type: string, id: string) => create(ResourceSchema, { id: { resourceType: type, resource: id } });
      const cases: { name: string; call: () => Promise<unknown>; message: RegExp }[] = [
        { name: "ListResources resource_type_id of 1025 bytes", call: () => client.listResources({ resourceTypeId: long }), message: /resource_type_id is 1025 bytes; the limit is 1024/ },
        {
          name: "ListResources parent_resource_id of 1026 bytes (multi-byte)",
          call: () => client.listResources({ resourceTypeId: "user", parentResourceId: { resourceType: "team", resource: longInBytes } }),
          message: /parent_resource_id\.resource is 1026 bytes/,
        },
        { name: "ListEntitlements for a resource id of 1025 bytes", call: () => client.listEntitlements({ resource: resource("role", long) }), message: /1025 bytes; the limit is 1024/ },
        { name: "ListGrants for a resource type of 1025 bytes", call: () => client.listGrants({ resource: resource(long, "r1") }), message: /1025 bytes; the limit is 1024/ },
        {
          name: "ListResources page_token of 1 MiB + 1",
          call: () => client.listResources({ resourceTypeId: "user", pageToken: "t".repeat(MAX_PAGE_TOKEN_BYTES + 1) }),
          message: /page_token is 1048577 bytes; the limit is 1048576/,
        },
        { name: "ListResources page_size 251", call: () => client.listResources({ resourceTypeId: "user", pageSize: 251 }), message: /page_size 251 is over the limit of 250/ },
        { name: "ListGrants page_size 4000000000", call: () => client.listGrants({ resource: resource("role", "r1"), pageSize: 4_000_000_000 }), message: /page_size 4000000000 is over the limit/ },
        { name: "ListResources of an unknown resource type", call: () => client.listResources({ resourceTypeId: "no-such-type" }), message: /unknown resource type "no-such-type"/ },
        { name: "ListEntitlements of an unknown resource type", call: () => client.listEntitlements({ resource: resource("no-such-type", "1") }), message: /unknown resource type "no-such-type"/ },
        {
          name: "Grant with a principal id of 1025 bytes",
          call: () =>
            client.grant({
              entitlement: create(EntitlementSchema, { id: "role:r1:member", resource: resource("role", "r1") }),
              principal: resource("user", long),
            }),
          message: /1025 bytes; the limit is 1024/,
        },
      ];
      const outcomes: string[] = [];
      for (const c of cases) {
        const err = await failure(c.call());
        expect(codeName(err.code), c.name).toBe("INVALID_ARGUMENT");
        expect(err.message, c.name).toMatch(c.message);
        expect(err.message.length, c.name).toBeLessThan(600); // the hostile value is not echoed back
        outcomes.push(c.name);
      }

      // Below the typed client: bytes that are not a protobuf message, and a message over the 8 MiB receive limit.
      const raw = new grpc.Client(target, grpc.credentials.createInsecure());
      onCleanup(() => raw.close());
      const rawCall = (payload: Buffer) =>
        new Promise<grpc.ServiceError | undefined>((resolve) => {
          raw.makeUnaryRequest(
            "/c1.connector.v2.ResourcesService/ListResources",
            (b: Buffer) => b,
            (b: Buffer) => b,
            payload,
            (err) => resolve(err ?? undefined),
          );
        });
      const garbage = await rawCall(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
      expect(garbage?.code, "garbage bytes").toBe(grpc.status.INTERNAL);
      const huge = await rawCall(Buffer.concat([Buffer.from([0x0a]), Buffer.from([0x80, 0x80, 0x80, 0x05]), Buffer.alloc(10 * 1024 * 1024, 0x61)]));
      expect(huge?.code, "a 10 MiB message").toBe(grpc.status.RESOURCE_EXHAUSTED);

      // Still serving, and serving correctly.
      const types = await client.listResourceTypes({});
      expect(types.list.map((t) => t.id)).toContain("user");
      const users = await client.listResources({ resourceTypeId: "user" });
      expect(users.list.length).toBeGreaterThan(0);

      record({
        section: "Hostile input",
        case: "gRPC requests over the limits or of unknown types",
        how: `a served Datadog connector, typed client: ${outcomes.join("; ")}`,
        outcome: "each answered INVALID_ARGUMENT naming the field and the limit; the server answered correctly afterwards",
      });
      record({
        section: "Hostile input",
        case: "gRPC bytes that are not a message, and a 10 MiB message",
        how: "a raw grpc-js client with identity serializers",
        outcome: `not a message: ${grpc.status[garbage!.code]} ("${garbage!.details.slice(0, 80)}"); 10 MiB: ${grpc.status[huge!.code]}; the server lives on`,
      });
    });

    it("c1z files with a bad header, truncated zstd, corrupt data, a huge window, a non-SQLite payload or a bomb → one-line reason, exit 1", async () => {
      const { bytes: clean } = await cleanSync();
      const dir = tempDir("hostile-c1z");
      const files: { name: string; bytes: Buffer; reason: RegExp }[] = [
        { name: "empty file", bytes: Buffer.alloc(0), reason: /not a c1z file: bad header/ },
        { name: "bad header (a text file)", bytes: Buffer.from("name,email\nada,ada@example.com\n"), reason: /not a c1z file: bad header/ },
        { name: "header only", bytes: C1Z_MAGIC, reason: /is truncated: nothing follows the header/ },
        { name: "truncated zstd (the file cut in half)", bytes: clean.subarray(0, Math.floor(clean.length / 2)), reason: /is truncated: the zstd stream ends early/ },
        {
          name: "corrupt zstd (bytes flipped mid-file)",
          bytes: Buffer.from(clean.map((b, i) => (i > clean.length / 2 && i < clean.length / 2 + 64 ? b ^ 0xa5 : b))),
          reason: /holds corrupt zstd data|is truncated/,
        },
        { name: "a 2 GiB zstd window", bytes: Buffer.concat([C1Z_MAGIC, hugeWindowFrame()]), reason: /needs a zstd window larger than 128 MiB/ },
        {
          name: "non-SQLite payload",
          bytes: Buffer.concat([C1Z_MAGIC, zstdCompressSync(Buffer.from("id,name\n".repeat(1000)))]),
          reason: /does not hold a SQLite database/,
        },
        {
          name: "decompression bomb declaring 12 GiB (beyond the 10 GiB cap)",
          bytes: Buffer.concat([C1Z_MAGIC, bombFrame(96 * 1024, 12n * 1024n ** 3n)]),
          reason: /declares 12884901888 decoded bytes: refusing to decode more than 10737418240 bytes/,
        },
      ];
      for (const f of files) {
        const file = join(dir, `${f.name.replace(/\W+/g, "-")}.c1z`);
        writeFileSync(file, f.bytes);
        const result = await runCli(["resources", "-f", file], { source: `hostile: c1z ${f.name}` });
        expect(result.code, `${f.name}: ${result.stderr}`).toBe(1);
        expect(result.error, f.name).toMatch(f.reason);
        expect(result.stderr.trim().split("\n"), f.name).toHaveLength(1); // one line, no stack trace
        record({
          section: "Hostile input",
          case: `c1z: ${f.name}`,
          how: `\`baton-datadog resources -f FILE\` (${f.bytes.length} bytes)`,
          outcome: "refused with a one-line reason, no stack trace",
          exitCode: 1,
          message: result.error!.replace(/^baton-datadog: error: /, ""),
        });
      }

      // A bomb that does not declare its size is caught while decoding; the CLI's cap is 10 GiB, so the reader
      // is shown with a 1 MiB cap rather than made to write 10 GiB first.
      const stream = join(dir, "streaming-bomb.c1z");
      writeFileSync(stream, Buffer.concat([C1Z_MAGIC, bombFrame(512)]));
      const err = await SyncStore.openReadOnly(stream, { maxDecodedBytes: 1024 * 1024 }).then(
        (s) => {
          s.close();
          return undefined;
        },
        (e: unknown) => e as Error & { code?: string },
      );
      expect(err?.code).toBe("TOO_LARGE");
      expect(err?.message).toMatch(/decodes past the cap: refusing to decode more than 1048576 bytes/);
      record({
        section: "Hostile input",
        case: "c1z: decompression bomb without a declared size (64 MiB of zeros in 2 KiB)",
        how: "SyncStore.openReadOnly with maxDecodedBytes 1 MiB (the CLI's --max-c1z-decoded-size: see Trust)",
        outcome: "refused once 1 MiB was decoded; the partial copy removed",
        message: err!.message,
      });
    });

    it("configuration aimed elsewhere: plain http off loopback, credentials in the URL, unknown sites; the delegated proof only to Datadog", async () => {
      const keys = ["--api-key", "faults-config-api-key-0001", "--app-key", "faults-config-app-key-0001"];
      collector.secret("faults-config-api-key-0001", "config test API key");
      collector.secret("faults-config-app-key-0001", "config test application key");
      const cases: { name: string; argv: string[]; reason: RegExp }[] = [
        { name: "--base-url http:// to a public host", argv: ["--base-url", "http://api.datadoghq.com"], reason: /plain http, which is only allowed for loopback hosts/ },
        { name: "--base-url http:// to a private address", argv: ["--base-url", "http://10.1.2.3:8080"], reason: /plain http, which is only allowed for loopback hosts/ },
        { name: "--base-url http:// to a host named like loopback", argv: ["--base-url", "http://127.0.0.1.nip.io"], reason: /plain http, which is only allowed for loopback hosts/ },
        { name: "--base-url with user:password", argv: ["--base-url", "https://user:faults-pass-0001@api.example.com"], reason: /must not contain user:password credentials/ },
        { name: "--base-url not http(s)", argv: ["--base-url", "file:///etc/passwd"], reason: /must use https/ },
        { name: "--site not a Datadog site", argv: ["--site", "datadoghq.evil.example"], reason: /datadoghq\.com|US1/ },
        { name: "--delegated-auth-org-uuid not a UUID", argv: ["--delegated-auth-org-uuid", "not-a-uuid"], reason: /uuid|UUID/ },
      ];
      for (const c of cases) {
        const { code, stderr } = await cliInProcess([...keys, ...c.argv, "-f", join(tempDir("cfg"), "x.c1z")], `hostile: config ${c.name}`);
        expect(code, `${c.name}: ${stderr}`).toBe(2);
        expect(stderr, c.name).toMatch(c.reason);
        expect(stderr).not.toContain("faults-pass-0001");
        record({
          section: "Hostile input",
          case: `config: ${c.name}`,
          how: "the one-shot CLI (in-process runner)",
          outcome: "refused before any request",
          exitCode: 2,
          message: stderr.trim().split("\n").at(-1)!.replace(/^baton-datadog: error: /, ""),
        });
      }

      // The proof is a replayable AWS identity: it may go to Datadog's API hosts, or to the exact --base-url.
      const refusedTargets = [
        "https://evil.example.com",
        "http://api.datadoghq.com",
        "https://api.datadoghq.com:8443",
        "https://api.datadoghq.com.evil.example.com",
        "https://user@api.datadoghq.com",
        "https://api.datadoghq.com/elsewhere",
      ];
      for (const target of refusedTargets) {
        expect(() => assertProofDestination(target), target).toThrow(/refusing to send the AWS identity proof/);
      }
      expect(assertProofDestination("https://api.datadoghq.eu")).toBe("https://api.datadoghq.eu");
      expect(assertProofDestination("https://proxy.internal.example/dd", "https://proxy.internal.example/dd/")).toBe("https://proxy.internal.example/dd");
      expect(() => assertProofDestination("https://proxy.internal.example/other", "https://proxy.internal.example/dd")).toThrow(/refusing/);
      const provider = () =>
        createCredentialProvider(
          { delegatedAuthOrgUuid: "8f6f0b1e-2f3c-4f4e-9a51-1c2d3e4f5a6b" } as never,
          { apiBaseUrl: "https://datadog-proxy.evil.example", logger: collector.logger("hostile: delegated provider") },
        );
      expect(provider).toThrow(/refusing to send the AWS identity proof to https:\/\/datadog-proxy\.evil\.example/);
      record({
        section: "Hostile input",
        case: "delegated-auth proof to a non-Datadog host",
        how: `the proof destination check and the credential provider: ${refusedTargets.join(", ")}`,
        outcome: "refused (INVALID_ARGUMENT at start); allowed only for https://api.<site> and the exact --base-url",
        message: "delegated auth: refusing to send the AWS identity proof to https://datadog-proxy.evil.example: it only goes to Datadog's API hosts …",
      });
    });

    it("client secrets malformed in every way: exit 2, the problem named, the secret never echoed", async () => {
      const b64 = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
      const ed = (generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }) as { d: string; x: string });
      const other = (generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }) as { x: string });
      const tag = randomBytes(6).toString("hex");
      const variants: { problem: string; secret: string; reason: RegExp }[] = [
        { problem: "secret-parts", secret: `faults-${tag}-a-secret-without-any-separators`, reason: /has 1 part separated by ':' but must have 4/ },
        { problem: "secret-parts", secret: `secret-token:faults-${tag}:v1`, reason: /has 3 parts separated by ':' but must have 4/ },
        { problem: "secret-version", secret: `secret-token:faults-${tag}:v2:${b64({ kty: "OKP", crv: "Ed25519", d: ed.d, x: ed.x })}`, reason: /version .* is not v1/ },
        { problem: "secret-base64url", secret: `secret-token:faults-${tag}:v1:not+base64/url==?${tag}`, reason: /is not base64url/ },
        { problem: "secret-json", secret: `secret-token:faults-${tag}:v1:${b64(`not json ${tag}`)}`, reason: /does not decode to JSON/ },
        { problem: "secret-not-jwk", secret: `secret-token:faults-${tag}:v1:${b64([1, 2, 3, tag])}`, reason: /is not a JSON Web Key/ },
        { problem: "secret-key-type", secret: `secret-token:faults-${tag}:v1:${b64({ kty: "EC", crv: "P-256", d: ed.d, x: ed.x })}`, reason: /is not an Ed25519 key/ },
        { problem: "secret-missing-d", secret: `secret-token:faults-${tag}:v1:${b64({ kty: "OKP", crv: "Ed25519", x: ed.x })}`, reason: /has no private part \(d\)/ },
        { problem: "secret-bad-key", secret: `secret-token:faults-${tag}:v1:${b64({ kty: "OKP", crv: "Ed25519", d: b64(`short-${tag}`) })}`, reason: /not a valid Ed25519 private key/ },
        { problem: "secret-key-mismatch", secret: `secret-token:faults-${tag}:v1:${b64({ kty: "OKP", crv: "Ed25519", d: ed.d, x: other.x })}`, reason: /does not belong to its private part/ },
      ];
      collector.secret(ed.d, "malformed-secret test private key (JWK d)");
      const datadog = ["--api-key", "faults-config-api-key-0002", "--app-key", "faults-config-app-key-0002", "--base-url", "http://127.0.0.1:9"];
      for (const v of variants) {
        collector.secret(v.secret, `malformed client secret (${v.problem})`);
        const parts = v.secret.split(":");
        if (parts.length === 4) collector.secret(parts[3], `malformed client secret key part (${v.problem})`);
        // The message itself, before any redaction the CLI adds, must not hold the secret.
        let raw: Error | undefined;
        try {
          parseClientSecret(v.secret);
        } catch (err) {
          raw = err as Error;
        }
        expect((raw as { problem?: string } | undefined)?.problem, v.problem).toBe(v.problem);
        expect(raw!.message).not.toContain(v.secret);
        if (parts.length === 4) expect(raw!.message).not.toContain(parts[3]);
        expect(raw!.message).not.toContain(ed.d);

        const { code, stderr } = await cliInProcess(
          [...datadog, "--client-id", `faults@127.0.0.1:9/${tag}`, "--client-secret", v.secret],
          `hostile: client secret ${v.problem}`,
        );
        expect(code, `${v.problem}: ${stderr}`).toBe(2);
        expect(stderr).toMatch(v.reason);
        expect(stderr).toContain("--client-secret / BATON_CLIENT_SECRET");
        expect(stderr).toContain("(the secret is not shown)");
        record({
          section: "Hostile input",
          case: `client secret: ${v.problem}`,
          how: "`--client-id … --client-secret <malformed>` to the CLI (in-process runner)",
          outcome: "refused before any connection; the secret not echoed",
          exitCode: 2,
          message: stderr.trim().split("\n").at(-1)!.replace(/^baton-datadog: error: /, ""),
        });
      }
      const badId = await cliInProcess([...datadog, "--client-id", "not-a-client-id", "--client-secret", variants[9].secret], "hostile: client id");
      expect(badId.code).toBe(2);
      expect(badId.stderr).toMatch(/a client id looks like <name>@<host>\/<suffix>/);
    });
  });
}
