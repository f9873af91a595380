/**
 * Every generated Baton file the invoker may meet, found by listing src/gen/c1 (not through the runtime's own
 * registry, so a message missing there shows up as a difference), plus google.rpc.Status and the well-known types.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createRegistry, type DescFile, type Registry } from "@bufbuild/protobuf";
import {
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
} from "@bufbuild/protobuf/wkt";
import { file_google_rpc_status } from "../../../src/gen/google/rpc/status_pb.js";

const genRoot = fileURLToPath(new URL("../../../src/gen/c1/", import.meta.url));

function generatedModules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? generatedModules(join(dir, e.name)) : e.name.endsWith("_pb.js") ? [join(dir, e.name)] : [],
  );
}

const files: DescFile[] = [];
for (const path of generatedModules(genRoot).sort()) {
  const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  for (const [name, value] of Object.entries(mod)) {
    if (name.startsWith("file_") && value && typeof value === "object" && (value as DescFile).kind === "file") files.push(value as DescFile);
  }
}

export const invokerRegistry: Registry = createRegistry(
  ...files,
  file_google_rpc_status,
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
);
