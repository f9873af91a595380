/**
 * The input file: users, groups and roles (each group and role lists its members by user id), as JSON.
 * Everything is checked before a sync starts: the shape (zod), duplicate ids, members that are not users, and
 * the file's size, so a hostile or broken export fails with one line naming the entry instead of a half sync.
 */
import { open } from "node:fs/promises";
import { z } from "zod";
import { Code, ConnectorError, MAX_ID_BYTES } from "../../src/index.ts";

/** Larger inputs are refused before parsing: JSON.parse holds the whole text and its objects in memory. */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;
/** How many problems one error lists before "and N more". */
const MAX_LISTED = 5;

const id = z
  .string()
  .min(1, "must not be empty")
  .refine((v) => Buffer.byteLength(v) <= MAX_ID_BYTES, `must be at most ${MAX_ID_BYTES} bytes`)
  // Ids end up inside entitlement and grant ids ("group:eng:member"), where a control character has no place.
  .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), "must not contain control characters");

const userSchema = z.strictObject({
  id,
  displayName: z.string().max(1024).optional(),
  email: z.email().optional(),
  login: z.string().max(1024).optional(),
  status: z.enum(["enabled", "disabled"]).default("enabled"),
});

const groupSchema = z.strictObject({
  id,
  displayName: z.string().max(1024).optional(),
  description: z.string().max(4096).optional(),
  members: z.array(id).default([]),
});

const inputSchema = z.strictObject({
  users: z.array(userSchema),
  groups: z.array(groupSchema).default([]),
  roles: z.array(groupSchema).default([]),
});

export type InputUser = z.infer<typeof userSchema>;
export type InputGroup = z.infer<typeof groupSchema>;
export type Input = z.infer<typeof inputSchema>;

function invalid(file: string, problems: string[]): ConnectorError {
  const more = problems.length > MAX_LISTED ? ` (and ${problems.length - MAX_LISTED} more)` : "";
  return new ConnectorError(Code.INVALID_ARGUMENT, `input file ${file}: ${problems.slice(0, MAX_LISTED).join("; ")}${more}`);
}

const pathOf = (path: readonly PropertyKey[]) =>
  path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("") || "(top level)";

/** Duplicate ids within a list, and members that name no user. */
function crossCheck(input: Input): string[] {
  const problems: string[] = [];
  const firstIndex = (list: "users" | "groups" | "roles") => {
    const seen = new Map<string, number>();
    input[list].forEach((entry, i) => {
      const earlier = seen.get(entry.id);
      if (earlier !== undefined) problems.push(`${list}[${i}].id "${entry.id}" duplicates ${list}[${earlier}]`);
      else seen.set(entry.id, i);
    });
    return seen;
  };
  const users = firstIndex("users");
  for (const list of ["groups", "roles"] as const) {
    firstIndex(list);
    input[list].forEach((g, i) => {
      const seen = new Set<string>();
      g.members.forEach((m, j) => {
        if (!users.has(m)) problems.push(`${list}[${i}].members[${j}]: no user has id "${m}"`);
        else if (seen.has(m)) problems.push(`${list}[${i}].members[${j}]: "${m}" is listed twice`);
        seen.add(m);
      });
    });
  }
  return problems;
}

/** Reads at most `MAX_INPUT_BYTES` + 1 bytes, so a file that grows while read cannot make us allocate more. */
async function readBounded(file: string, maxBytes: number): Promise<string> {
  let handle;
  try {
    handle = await open(file, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : code === "EACCES" ? "is not readable (permission denied)" : code === "EISDIR" ? "is a directory" : `cannot be opened (${code})`;
    throw new ConnectorError(Code.INVALID_ARGUMENT, `input file ${file} ${why}; pass a JSON file with --input-file`);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new ConnectorError(Code.INVALID_ARGUMENT, `input file ${file} is not a regular file`);
    const tooLarge = () =>
      new ConnectorError(Code.INVALID_ARGUMENT, `input file ${file} is larger than ${maxBytes} bytes; split it or raise the limit`);
    if (stat.size > maxBytes) throw tooLarge();
    const buf = Buffer.alloc(Math.min(stat.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > maxBytes) throw tooLarge();
      if (length === buf.length) break;
    }
    return buf.toString("utf8", 0, length);
  } finally {
    await handle.close();
  }
}

export async function loadInput(file: string, maxBytes = MAX_INPUT_BYTES): Promise<Input> {
  const text = await readBounded(file, maxBytes);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw invalid(file, [`not valid JSON: ${(err as Error).message}`]);
  }
  const parsed = inputSchema.safeParse(json);
  if (!parsed.success) throw invalid(file, parsed.error.issues.map((i) => `${pathOf(i.path)}: ${i.message}`));
  const problems = crossCheck(parsed.data);
  if (problems.length > 0) throw invalid(file, problems);
  return parsed.data;
}
