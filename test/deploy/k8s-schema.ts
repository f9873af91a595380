// Validates Kubernetes objects against Kubernetes' own OpenAPI schemas, as compiled by `kubernetes-models`.
// Those validators check types, enums and required fields but accept unknown fields, so a typo such as
// `readOnlyRootFileSystem` would pass; unknownFields() closes that gap with the set of every property name the
// schemas know.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Secret } from "kubernetes-models/v1/Secret";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { K8sObject } from "./kustomize.ts";

type Model = { validate(): void };
const MODELS: Record<string, new (data: any) => Model> = {
  "apps/v1/Deployment": Deployment,
  "batch/v1/CronJob": CronJob,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim,
  "v1/Secret": Secret,
  "v1/ServiceAccount": ServiceAccount,
};

/** Throws with the schema's message when the object does not validate; unknown kinds are an error too. */
export function validateAgainstKubernetesSchema(o: K8sObject): void {
  const Model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!Model) throw new Error(`no Kubernetes schema registered for ${o.apiVersion} ${o.kind} (add it to MODELS)`);
  new Model(o).validate();
}

// Fields whose keys are data (label names, quantities, secret keys), not schema properties.
const MAP_FIELDS = new Set(["labels", "annotations", "matchLabels", "nodeSelector", "data", "stringData", "binaryData", "limits", "requests", "capacity"]);

let knownFields: Set<string> | undefined;
function allSchemaFieldNames(): Set<string> {
  if (knownFields) return knownFields;
  // The API types, and the apimachinery types (ObjectMeta, LabelSelector, ...) they reference.
  const models = fileURLToPath(import.meta.resolve("kubernetes-models"));
  const apimachinery = createRequire(models).resolve("@kubernetes-models/apimachinery");
  knownFields = new Set();
  for (const schemas of [join(dirname(models), "_schemas"), join(dirname(apimachinery), "_schemas")]) {
    for (const file of readdirSync(schemas)) {
      if (!file.endsWith(".mjs")) continue;
      for (const m of readFileSync(join(schemas, file), "utf8").matchAll(/\bdata\.([A-Za-z_$][\w$]*)/g)) knownFields.add(m[1]);
    }
  }
  for (const name of ["labels", "matchLabels", "apiVersion", "kind", "metadata"]) {
    if (!knownFields.has(name)) throw new Error(`field "${name}" not found in the kubernetes-models schemas: the package changed its layout`);
  }
  return knownFields;
}

/** JSON pointers of fields whose names no Kubernetes schema declares. */
export function unknownFields(node: unknown, path = ""): string[] {
  if (Array.isArray(node)) return node.flatMap((item, i) => unknownFields(item, `${path}/${i}`));
  if (node === null || typeof node !== "object") return [];
  const known = allSchemaFieldNames();
  const out: string[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (!known.has(key)) out.push(`${path}/${key}`);
    else if (!MAP_FIELDS.has(key)) out.push(...unknownFields(value, `${path}/${key}`));
  }
  return out;
}
