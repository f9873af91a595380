/**
 * Where `demo` writes. It must never replace a real sync's data with simulated data: by default it writes its
 * own file (demo.c1z, not the sync.c1z of a real sync), and it replaces an existing file only when that file
 * holds an earlier demo's org, recognised by its users: every one of them has an address at example.com, a
 * domain reserved for examples (RFC 2606) that no real Datadog org can have users at.
 */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { Logger } from "pino";
import { sdkConfig } from "../../src/runner.ts";
import type { SyncStore } from "../../src/index.ts";

export const DEMO_FILE = "demo.c1z";

/** A demo org of the largest size demo makes is far below this; a bigger file is not decoded just to look. */
const MAX_INSPECTED_BYTES = 512 * 1024 * 1024;

/** The file demo writes: its own default unless --file names another one than the SDK's default. */
export function demoTarget(file: string, cwd: string): string {
  const sdkDefault = resolve(cwd, String(sdkConfig.fields.file.defaultValue));
  return file === sdkDefault ? resolve(cwd, DEMO_FILE) : file;
}

function simulatedAddress(address: string): boolean {
  const domain = address.slice(address.lastIndexOf("@") + 1).toLowerCase();
  return domain === "example.com" || domain.endsWith(".example.com");
}

/** True when `file` is a c1z whose last sync holds users, all of them at example.com: an earlier demo's output. */
export async function isDemoFile(file: string, logger?: Logger): Promise<boolean> {
  if (statSync(file).size > MAX_INSPECTED_BYTES) return false;
  // The store and the messages load only to look into an existing file (demo.ts is loaded by --help).
  // Through the SDK's annotation helper: a dynamic import of "@bufbuild/protobuf/wkt" would need its whole namespace,
  // which puts every well-known type's descriptor into the chunk every sync loads (about 10 ms at start-up).
  const [{ SyncStore, findAnnotation }, { UserTraitSchema }] = await Promise.all([import("../../src/index.ts"), import("../../src/messages.ts")]);
  let store: SyncStore;
  try {
    store = await SyncStore.openReadOnly(file, logger ? { logger } : {});
  } catch {
    return false;
  }
  try {
    const run = store.latestFinishedSync();
    if (!run) return false;
    let users = 0;
    for (const { resource } of store.iterateResources(run.syncId, { resourceTypeId: "user" })) {
      const emails = findAnnotation(resource.annotations, UserTraitSchema)?.emails ?? [];
      if (emails.length === 0 || !emails.every((e) => simulatedAddress(e.address))) return false;
      users++;
    }
    return users > 0;
  } finally {
    store.close();
  }
}

/** Why demo must not write `file`, or undefined when it may (absent, or an earlier demo's). */
export async function demoFileProblem(file: string, logger?: Logger): Promise<string | undefined> {
  if (!existsSync(file)) return undefined;
  if (await isDemoFile(file, logger)) return undefined;
  return (
    `demo: ${file} already exists and does not hold an earlier demo's simulated org, and demo never replaces ` +
    "other files: name a new file with --file, or move that one away first"
  );
}
