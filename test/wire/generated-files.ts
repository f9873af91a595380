/** Loads every generated file descriptor (`file_*` exports of src/gen/**\/*_pb.js) for wire tests. */
import { readdirSync } from "node:fs";
import type { DescEnum, DescFile, DescMessage } from "@bufbuild/protobuf";

export const genDir = new URL("../../src/gen/", import.meta.url);

export async function loadGeneratedFiles(): Promise<Map<string, DescFile>> {
  const files = new Map<string, DescFile>();
  const modules = readdirSync(genDir, { recursive: true, encoding: "utf8" }).filter((p) => p.endsWith("_pb.js"));
  for (const rel of modules.sort()) {
    const mod = (await import(new URL(rel, genDir).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      if (name.startsWith("file_")) {
        const file = value as DescFile;
        files.set(`${file.proto.name}`, file);
      }
    }
  }
  return files;
}

/** All messages and enums of a file, nested ones included. */
export function allTypes(file: DescFile): { messages: DescMessage[]; enums: DescEnum[] } {
  const messages: DescMessage[] = [];
  const enums: DescEnum[] = [...file.enums];
  const visit = (m: DescMessage) => {
    messages.push(m);
    enums.push(...m.nestedEnums);
    m.nestedMessages.forEach(visit);
  };
  file.messages.forEach(visit);
  return { messages, enums };
}
