// A deliberately small kustomize: enough to render this repository's k8s/ tree without a kustomize binary, so
// that the rendered objects (not only the files) are validated in every checkout. It supports exactly the
// features k8s/ uses and refuses anything else, so a new feature cannot be mis-rendered silently.
// When `kubectl` is installed, manifests.test.ts also checks that real kustomize renders the same objects.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [key: string]: unknown };
  [key: string]: unknown;
};

type JsonPatchOp = { op: "add" | "replace" | "remove"; path: string; value?: unknown };
type PatchTarget = { group?: string; version?: string; kind?: string; name?: string };
type Kustomization = {
  apiVersion: string;
  kind: string;
  resources?: string[];
  images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
  patches?: { target: PatchTarget; patch: string }[];
};

const SUPPORTED_KEYS = new Set(["apiVersion", "kind", "resources", "images", "patches"]);

/** Parses every YAML document of a file; empty documents (a trailing `---`) are skipped. */
export function readYamlDocuments(file: string): unknown[] {
  return parseYamlDocuments(readFileSync(file, "utf8"), file);
}

export function parseYamlDocuments(text: string, source: string): unknown[] {
  const out: unknown[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: YAML error: ${doc.errors[0].message}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

export function readKustomization(dir: string): Kustomization {
  const file = join(dir, "kustomization.yaml");
  const [doc, ...rest] = readYamlDocuments(file);
  if (rest.length > 0) throw new Error(`${file}: expected one YAML document`);
  const k = doc as Kustomization;
  if (k.apiVersion !== "kustomize.config.k8s.io/v1beta1" || k.kind !== "Kustomization") {
    throw new Error(`${file}: not a kustomize.config.k8s.io/v1beta1 Kustomization`);
  }
  for (const key of Object.keys(k)) {
    if (!SUPPORTED_KEYS.has(key)) throw new Error(`${file}: field "${key}" is not supported by test/deploy/kustomize.ts`);
  }
  return k;
}

/** Renders a kustomization directory into the objects `kubectl kustomize <dir>` would print. */
export function renderKustomization(dir: string): K8sObject[] {
  const k = readKustomization(dir);
  let objects: K8sObject[] = [];
  for (const entry of k.resources ?? []) {
    const path = resolve(dir, entry);
    if (!existsSync(path)) throw new Error(`${join(dir, "kustomization.yaml")}: resource ${entry} does not exist`);
    if (statSync(path).isDirectory()) objects.push(...renderKustomization(path));
    else objects.push(...(readYamlDocuments(path) as K8sObject[]));
  }
  objects = structuredClone(objects);
  for (const patch of k.patches ?? []) {
    const ops = parseInlinePatch(patch.patch) as JsonPatchOp[];
    const targets = objects.filter((o) => matchesTarget(o, patch.target));
    if (targets.length === 0) throw new Error(`${dir}: patch target ${JSON.stringify(patch.target)} matches nothing`);
    for (const target of targets) for (const op of ops) applyJsonPatch(target, op);
  }
  for (const image of k.images ?? []) for (const o of objects) setImages(o, image);
  return objects;
}

function parseInlinePatch(text: string): unknown {
  const docs = parseAllDocuments(text);
  if (docs.length !== 1 || docs[0].errors.length > 0) throw new Error(`inline patch is not one valid YAML document`);
  return docs[0].toJS();
}

function matchesTarget(o: K8sObject, t: PatchTarget): boolean {
  const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["", o.apiVersion];
  return (
    (t.kind === undefined || t.kind === o.kind) &&
    (t.name === undefined || t.name === o.metadata.name) &&
    (t.group === undefined || t.group === group) &&
    (t.version === undefined || t.version === version)
  );
}

/** RFC 6902 add / replace / remove with RFC 6901 pointers, as kustomize applies them. */
export function applyJsonPatch(doc: unknown, op: JsonPatchOp): void {
  const tokens = op.path
    .split("/")
    .slice(1)
    .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
  const last = tokens.pop();
  if (last === undefined) throw new Error(`JSON patch path "${op.path}" is empty`);
  let parent: any = doc;
  for (const t of tokens) {
    parent = Array.isArray(parent) ? parent[Number(t)] : parent?.[t];
    if (parent === undefined || parent === null) throw new Error(`JSON patch path "${op.path}": "${t}" does not exist`);
  }
  if (Array.isArray(parent)) {
    const index = last === "-" ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new Error(`JSON patch path "${op.path}": bad index`);
    if (op.op === "add") parent.splice(index, 0, op.value);
    else if (index >= parent.length) throw new Error(`JSON patch ${op.op} "${op.path}": no such element`);
    else if (op.op === "replace") parent[index] = op.value;
    else parent.splice(index, 1);
    return;
  }
  if (op.op !== "add" && !(last in parent)) throw new Error(`JSON patch ${op.op} "${op.path}": no such member`);
  if (op.op === "remove") delete parent[last];
  else parent[last] = op.value;
}

// kustomize's images transformer: every container image whose name (without tag or digest) matches.
function setImages(node: unknown, image: { name: string; newName?: string; newTag?: string; digest?: string }): void {
  if (Array.isArray(node)) {
    for (const item of node) setImages(item, image);
    return;
  }
  if (node === null || typeof node !== "object") return;
  const record = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(record)) {
    if ((key === "containers" || key === "initContainers") && Array.isArray(value)) {
      for (const c of value as { image?: string }[]) {
        if (typeof c.image !== "string") continue;
        const name = c.image.replace(/@.*$/, "").replace(/:[^/:]*$/, "");
        if (name !== image.name) continue;
        const tagOrDigest = image.digest ? `@${image.digest}` : image.newTag ? `:${image.newTag}` : c.image.slice(name.length);
        c.image = `${image.newName ?? name}${tagOrDigest}`;
      }
    } else setImages(value, image);
  }
}

export function objectKey(o: K8sObject): string {
  return `${o.apiVersion}/${o.kind}/${o.metadata.name}`;
}
