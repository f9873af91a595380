// Static checks of the Kubernetes manifests under k8s/ (no cluster runs here): every object, as kustomize
// renders it, validates against Kubernetes' own schemas; the Deployment and CronJob keep the locked-down
// security settings; env and Secret key names are the ones existing ConductorOne deployments use.
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { unknownFields, validateAgainstKubernetesSchema } from "./k8s-schema.ts";
import { type K8sObject, objectKey, parseYamlDocuments, readKustomization, readYamlDocuments, renderKustomization } from "./kustomize.ts";
import { instructionsOf, readDockerfile } from "./dockerfile-model.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const K8S = join(ROOT, "k8s");

// The Secret of existing deployments of ConductorOne's Datadog connector, loaded with envFrom.
const SECRET_KEYS = [
  "BATON_CLIENT_ID",
  "BATON_CLIENT_SECRET",
  "BATON_API_KEY",
  "BATON_APP_KEY",
  "BATON_SITE",
  "BATON_PROVISIONING",
  "BATON_SYNC_SCHEDULES",
];
const DELEGATED_AUTH_ENV = ["BATON_DELEGATED_AUTH_ORG_UUID", "BATON_DELEGATED_AUTH_PROVIDER", "BATON_AWS_REGION"];
const WRITABLE_DIR = "/var/lib/baton";
// issue 3's benchmark target: peak RSS below 300 MB for a 20,000-user org.
const BENCH_PEAK_RSS_BYTES = 300 * 1000 * 1000;

const KUSTOMIZATIONS = ["k8s", "k8s/base", "k8s/overlays/eks-irsa", "k8s/overlays/openshift", "k8s/optional"];

type Container = {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }[];
  envFrom?: { secretRef?: { name: string }; configMapRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: { httpGet?: { path: string; port: number | string } };
  readinessProbe?: { httpGet?: { path: string; port: number | string } };
  startupProbe?: { httpGet?: { path: string; port: number | string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, any>;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
};
type PodSpec = {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: Record<string, any>;
  containers: Container[];
  initContainers?: Container[];
  volumes?: { name: string; emptyDir?: { medium?: string }; persistentVolumeClaim?: { claimName: string } }[];
};
type PodTemplate = { metadata: { labels: Record<string, string> }; spec: PodSpec };

function rendered(dir: string): K8sObject[] {
  return renderKustomization(join(ROOT, dir));
}
function find(objects: K8sObject[], kind: string, name?: string): any {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found.map(objectKey), `exactly one ${kind}${name ? ` ${name}` : ""}`).toHaveLength(1);
  return found[0];
}
function podTemplateOf(o: any): PodTemplate {
  if (o.kind === "Deployment") return o.spec.template;
  if (o.kind === "CronJob") return o.spec.jobTemplate.spec.template;
  throw new Error(`no pod template in ${o.kind}`);
}
function envNames(c: Container): string[] {
  return (c.env ?? []).map((e) => e.name);
}
function envValue(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}
function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .map((f) => join(dir, f));
}

/** Byte count of a Kubernetes memory quantity (Ki, Mi, Gi, k, M, G, plain). */
function memoryBytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(q);
  if (!m) throw new Error(`unsupported memory quantity ${q}`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ""] ?? 1;
  return Number(m[1]) * unit;
}
function cpuMillis(q: string): number {
  return q.endsWith("m") ? Number(q.slice(0, -1)) : Number(q) * 1000;
}

/** Everything a restricted-profile cluster (and OpenShift's restricted-v2 SCC) demands of a pod. */
function podSecurityProblems(pod: PodSpec): string[] {
  const problems: string[] = [];
  const podCtx = pod.securityContext ?? {};
  if (podCtx.runAsUser === 0) problems.push("pod runAsUser is 0");
  for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
    const ctx = c.securityContext ?? {};
    const where = `container ${c.name}`;
    if ((ctx.runAsNonRoot ?? podCtx.runAsNonRoot) !== true) problems.push(`${where}: runAsNonRoot is not true`);
    const uid = ctx.runAsUser ?? podCtx.runAsUser;
    if (uid !== undefined && !(Number.isInteger(uid) && uid > 0)) problems.push(`${where}: runAsUser ${uid} is not a non-root UID`);
    if (ctx.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem is not true`);
    if (ctx.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
    if (ctx.privileged === true) problems.push(`${where}: privileged`);
    if (!(ctx.capabilities?.drop ?? []).includes("ALL")) problems.push(`${where}: capabilities.drop lacks ALL`);
    if ((ctx.capabilities?.add ?? []).length > 0) problems.push(`${where}: adds capabilities`);
    const seccomp = ctx.seccompProfile?.type ?? podCtx.seccompProfile?.type;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") problems.push(`${where}: seccompProfile is ${seccomp}`);
  }
  return problems;
}

describe("k8s manifests validate against Kubernetes' schemas", () => {
  for (const dir of KUSTOMIZATIONS) {
    it(`${dir}: renders, and every object validates with no unknown fields`, () => {
      const objects = rendered(dir);
      expect(objects.length).toBeGreaterThan(0);
      for (const o of objects) {
        expect(() => validateAgainstKubernetesSchema(o), objectKey(o)).not.toThrow();
        expect(unknownFields(o), `${objectKey(o)} fields unknown to Kubernetes`).toEqual([]);
      }
      const keys = objects.map(objectKey);
      expect(new Set(keys).size, "no object rendered twice").toBe(keys.length);
    });
  }

  it("every YAML manifest file validates on its own (including the Secret example)", () => {
    const files = yamlFilesUnder(K8S).filter((f) => !f.endsWith("kustomization.yaml"));
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const file of files) {
      for (const doc of readYamlDocuments(file) as K8sObject[]) {
        expect(() => validateAgainstKubernetesSchema(doc), relative(ROOT, file)).not.toThrow();
        expect(unknownFields(doc), relative(ROOT, file)).toEqual([]);
      }
    }
  });

  it("every manifest file except the Secret example belongs to a kustomization, and every listed resource exists", () => {
    const listed = new Set<string>();
    for (const dir of KUSTOMIZATIONS) {
      for (const r of readKustomization(join(ROOT, dir)).resources ?? []) listed.add(join(ROOT, dir, r));
    }
    const files = yamlFilesUnder(K8S).filter((f) => !f.endsWith("kustomization.yaml"));
    const orphans = files.filter((f) => !listed.has(f) && !f.endsWith("secret.example.yaml")).map((f) => relative(ROOT, f));
    expect(orphans).toEqual([]);
    // The Secret holds credentials: it must never be applied from the repository.
    expect([...listed].some((f) => f.includes("secret"))).toBe(false);
  });

  it("the schema check itself rejects what it must (wrong type, unknown field)", () => {
    const deployment = structuredClone(find(rendered("k8s"), "Deployment"));
    deployment.spec.template.spec.securityContext.runAsUser = "65532";
    expect(() => validateAgainstKubernetesSchema(deployment)).toThrow(/runAsUser/);
    const typo = structuredClone(find(rendered("k8s"), "Deployment"));
    typo.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    expect(unknownFields(typo)).toEqual(["/spec/template/spec/containers/0/securityContext/readOnlyRootFileSystem"]);
  });

  const kubectl = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  const haveKubectl = kubectl.status === 0;
  if (!haveKubectl) console.warn("SKIPPED: kubectl is not installed; the kustomize cross-check of k8s/ does not run");
  it.skipIf(!haveKubectl)("real kustomize (kubectl kustomize) renders the same objects as the test renderer", () => {
    for (const dir of KUSTOMIZATIONS) {
      const out = spawnSync("kubectl", ["kustomize", join(ROOT, dir)], { encoding: "utf8" });
      expect(out.status, `kubectl kustomize ${dir}: ${out.stderr}`).toBe(0);
      const fromKustomize = new Map(
        (parseYamlDocuments(out.stdout, `kubectl kustomize ${dir}`) as K8sObject[]).map((o) => [objectKey(o), o] as const),
      );
      const ours = new Map(rendered(dir).map((o) => [objectKey(o), o] as const));
      expect([...fromKustomize.keys()].sort(), dir).toEqual([...ours.keys()].sort());
      for (const [key, o] of ours) expect(fromKustomize.get(key), `${dir} ${key}`).toEqual(o);
    }
  });
});

describe("the service-mode Deployment", () => {
  const objects = rendered("k8s");
  const deployment = find(objects, "Deployment", "baton-datadog");
  const pod = podTemplateOf(deployment);
  const container: Container = pod.spec.containers[0];

  it("loads the existing Secret with envFrom and sets exactly the health-check and TMPDIR variables", () => {
    expect(pod.spec.containers).toHaveLength(1);
    expect(container.envFrom).toEqual([{ secretRef: { name: "baton-datadog" } }]);
    expect(envNames(container)).toEqual(["BATON_HEALTH_CHECK", "BATON_HEALTH_CHECK_PORT", "BATON_HEALTH_CHECK_BIND_ADDRESS", "TMPDIR"]);
    expect(envValue(container, "BATON_HEALTH_CHECK")).toBe("true");
    expect(envValue(container, "BATON_HEALTH_CHECK_BIND_ADDRESS")).toBe("0.0.0.0");
    expect(envValue(container, "BATON_HEALTH_CHECK_PORT")).toBe("8081");
    expect(envValue(container, "TMPDIR")).toBe(WRITABLE_DIR);
    // Nothing in the pod spec may shadow a Secret key: the Secret is the one place they are set.
    expect(envNames(container).filter((n) => SECRET_KEYS.includes(n))).toEqual([]);
  });

  it("probes /live (startup, liveness) and /ready (readiness) on the health port", () => {
    const port = container.ports?.find((p) => p.name === "health");
    expect(port?.containerPort).toBe(8081);
    expect(container.livenessProbe?.httpGet).toEqual({ path: "/live", port: "health" });
    expect(container.startupProbe?.httpGet).toEqual({ path: "/live", port: "health" });
    expect(container.readinessProbe?.httpGet).toEqual({ path: "/ready", port: "health" });
  });

  it("is locked down: non-root numeric UID, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp", () => {
    expect(podSecurityProblems(pod.spec)).toEqual([]);
    expect(pod.spec.securityContext?.runAsNonRoot).toBe(true);
    expect(pod.spec.securityContext?.seccompProfile).toEqual({ type: "RuntimeDefault" });
    expect(container.securityContext?.capabilities).toEqual({ drop: ["ALL"] });
  });

  it("runs as the image's USER and writes only to an emptyDir at the image's TMPDIR", () => {
    const dockerfile = readDockerfile(ROOT);
    const user = instructionsOf(dockerfile.final, "USER").at(-1)?.getArgumentsContent() ?? "";
    expect(pod.spec.securityContext?.runAsUser).toBe(Number(user.split(":")[0]));
    const imageTmp = instructionsOf(dockerfile.final, "ENV")
      .flatMap((i) => i.getArguments().map((a) => a.getValue()))
      .find((a) => a.startsWith("TMPDIR="));
    expect(imageTmp).toBe(`TMPDIR=${WRITABLE_DIR}`);
    expect(container.volumeMounts).toEqual([{ name: "work", mountPath: WRITABLE_DIR }]);
    const volume = pod.spec.volumes?.find((v) => v.name === "work");
    expect(volume?.emptyDir).toBeDefined();
    expect(volume?.emptyDir?.medium, "disk-backed: a Memory emptyDir counts against the memory limit").toBeUndefined();
  });

  it("has resources sized from the benchmark's peak memory (< 300 MB): limit ≥ 1.5 × peak, request ≤ limit", () => {
    const { requests = {}, limits = {} } = container.resources ?? {};
    expect(memoryBytes(limits.memory)).toBeGreaterThanOrEqual(1.5 * BENCH_PEAK_RSS_BYTES);
    expect(memoryBytes(requests.memory)).toBeGreaterThanOrEqual(256 * 1024 ** 2);
    expect(memoryBytes(requests.memory)).toBeLessThanOrEqual(memoryBytes(limits.memory));
    expect(cpuMillis(requests.cpu)).toBeGreaterThan(0);
    expect(cpuMillis(requests.cpu)).toBeLessThanOrEqual(cpuMillis(limits.cpu));
  });

  it("uses its own ServiceAccount with no API token, and the image set in the kustomization", () => {
    const sa = find(objects, "ServiceAccount", pod.spec.serviceAccountName);
    expect(sa.automountServiceAccountToken).toBe(false);
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    const image = readKustomization(join(K8S, "base")).images?.[0];
    expect(container.image).toBe(`${image?.newName}:${image?.newTag}`);
  });
});

describe("the Secret example", () => {
  it("secret.example.yaml has exactly the keys of existing ConductorOne deployments", () => {
    const [secret] = readYamlDocuments(join(K8S, "secret.example.yaml")) as any[];
    expect(secret.kind).toBe("Secret");
    expect(secret.metadata.name).toBe("baton-datadog");
    expect(Object.keys(secret.stringData).sort()).toEqual([...SECRET_KEYS].sort());
    expect(secret.data).toBeUndefined();
  });

  it("secret.example.env (for kubectl create secret --from-env-file) has the same keys", () => {
    const keys = readFileSync(join(K8S, "secret.example.env"), "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.startsWith("#"))
      .map((l) => l.split("=")[0]);
    expect(keys.sort()).toEqual([...SECRET_KEYS].sort());
  });
});

describe("the NetworkPolicy", () => {
  const policy = find(rendered("k8s"), "NetworkPolicy");
  const portSet = (p: any) => p.spec.egress.flatMap((rule: any) => rule.ports.map((x: any) => `${x.protocol}/${x.port}`)).sort();

  it("denies all ingress and allows egress only to DNS (53 UDP/TCP) and HTTPS (443 TCP)", () => {
    expect(policy.spec.policyTypes.sort()).toEqual(["Egress", "Ingress"]);
    expect(policy.spec.ingress ?? []).toEqual([]);
    expect(portSet(policy)).toEqual(["TCP/443", "TCP/53", "UDP/53"]);
  });

  it("selects the pods of the Deployment and of the optional sync CronJob", () => {
    const selector: Record<string, string> = policy.spec.podSelector.matchLabels;
    const pods = [podTemplateOf(find(rendered("k8s"), "Deployment")), podTemplateOf(find(rendered("k8s/optional"), "CronJob"))];
    for (const pod of pods) {
      for (const [k, v] of Object.entries(selector)) expect(pod.metadata.labels[k]).toBe(v);
    }
  });
});

describe("overlays", () => {
  it("eks-irsa: the ServiceAccount carries the IRSA role annotation and the Deployment the delegated-auth env", () => {
    const objects = rendered("k8s/overlays/eks-irsa");
    const sa = find(objects, "ServiceAccount");
    expect(sa.metadata.annotations["eks.amazonaws.com/role-arn"]).toMatch(/^arn:aws:iam::\d{12}:role\/.+$/);
    const pod = podTemplateOf(find(objects, "Deployment"));
    const container = pod.spec.containers[0];
    expect(envNames(container)).toEqual(["BATON_HEALTH_CHECK", "BATON_HEALTH_CHECK_PORT", "BATON_HEALTH_CHECK_BIND_ADDRESS", "TMPDIR", ...DELEGATED_AUTH_ENV]);
    expect(envValue(container, "BATON_DELEGATED_AUTH_PROVIDER")).toBe("aws");
    expect(container.envFrom).toEqual([{ secretRef: { name: "baton-datadog" } }]);
    // The pod identity webhook projects the web-identity token; the token must be mountable and readable.
    expect(pod.spec.automountServiceAccountToken).toBe(true);
    expect(pod.spec.securityContext?.fsGroup).toBe(pod.spec.securityContext?.runAsUser);
    expect(podSecurityProblems(pod.spec)).toEqual([]);
  });

  it("openshift: no fixed UID/GID (the SCC assigns them), still non-root and locked down, DNS on 5353 allowed", () => {
    const objects = rendered("k8s/overlays/openshift");
    const pod = podTemplateOf(find(objects, "Deployment"));
    const contexts = [pod.spec.securityContext ?? {}, ...pod.spec.containers.map((c) => c.securityContext ?? {})];
    for (const ctx of contexts) {
      expect(ctx.runAsUser).toBeUndefined();
      expect(ctx.runAsGroup).toBeUndefined();
      expect(ctx.fsGroup).toBeUndefined();
    }
    expect(podSecurityProblems(pod.spec)).toEqual([]);
    const policy = find(objects, "NetworkPolicy");
    const ports = policy.spec.egress[0].ports.map((p: any) => `${p.protocol}/${p.port}`);
    expect(ports).toEqual(expect.arrayContaining(["UDP/53", "TCP/53", "UDP/5353", "TCP/5353"]));
  });
});

describe("the optional sync CronJob", () => {
  const objects = rendered("k8s/optional");
  const cronJob = find(objects, "CronJob");
  const pod = podTemplateOf(cronJob);
  const container: Container = pod.spec.containers[0];

  it("runs a one-shot sync to a file on the PersistentVolumeClaim, never two at once", () => {
    expect(cronJob.spec.concurrencyPolicy).toBe("Forbid");
    const pvc = find(objects, "PersistentVolumeClaim");
    const volume = pod.spec.volumes?.find((v) => v.persistentVolumeClaim);
    expect(volume?.persistentVolumeClaim?.claimName).toBe(pvc.metadata.name);
    const mount = container.volumeMounts?.find((m) => m.name === volume?.name);
    expect(mount?.mountPath).toBe(WRITABLE_DIR);
    const file = container.args?.[container.args.indexOf("--file") + 1];
    expect(file?.startsWith(`${WRITABLE_DIR}/`)).toBe(true);
    expect(envValue(container, "TMPDIR")).toBe(WRITABLE_DIR);
    // The PVC must be writable by the connector's user.
    expect(pod.spec.securityContext?.fsGroup).toBe(pod.spec.securityContext?.runAsUser);
  });

  it("takes only Datadog settings from the Secret (client id/secret would switch to service mode)", () => {
    expect(container.envFrom).toBeUndefined();
    const fromSecret = (container.env ?? []).filter((e) => e.valueFrom?.secretKeyRef);
    for (const e of fromSecret) {
      expect(e.valueFrom?.secretKeyRef?.name).toBe("baton-datadog");
      expect(e.valueFrom?.secretKeyRef?.key).toBe(e.name);
      expect(SECRET_KEYS).toContain(e.name);
    }
    expect(fromSecret.map((e) => e.name).sort()).toEqual(["BATON_API_KEY", "BATON_APP_KEY", "BATON_SITE", "BATON_SYNC_SCHEDULES"]);
    expect(envNames(container)).not.toContain("BATON_CLIENT_ID");
    expect(envNames(container)).not.toContain("BATON_CLIENT_SECRET");
  });

  it("is locked down like the Deployment and uses the ServiceAccount its own kustomization brings, with no API token", () => {
    expect(podSecurityProblems(pod.spec)).toEqual([]);
    const account = find(objects, "ServiceAccount");
    expect(pod.spec.serviceAccountName).toBe(account.metadata.name);
    expect(account.automountServiceAccountToken).toBe(false);
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    expect(memoryBytes(container.resources?.limits?.memory ?? "0")).toBeGreaterThanOrEqual(1.5 * BENCH_PEAK_RSS_BYTES);
  });

  // Issue 17: installing the CronJob used to need `kubectl apply -k k8s/` first, which also started the
  // service-mode Deployment, crash-looping without client credentials.
  it("installs on its own: no Deployment, everything its pods reference is in it, and no object shared with k8s/", () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(["CronJob", "NetworkPolicy", "PersistentVolumeClaim", "ServiceAccount"]);
    expect(pod.spec.volumes?.every((v) => !v.persistentVolumeClaim || find(objects, "PersistentVolumeClaim", v.persistentVolumeClaim.claimName))).toBe(true);
    const service = new Set(rendered("k8s").map(objectKey));
    for (const o of objects) expect(service.has(objectKey(o)), objectKey(o)).toBe(false);
  });

  it("has its own egress-only NetworkPolicy (DNS and 443), selecting its pods and not the Deployment's", () => {
    const policy = find(objects, "NetworkPolicy");
    expect(policy.spec.policyTypes.sort()).toEqual(["Egress", "Ingress"]);
    expect(policy.spec.ingress ?? []).toEqual([]);
    const ports = policy.spec.egress.flatMap((rule: any) => rule.ports.map((x: any) => `${x.protocol}/${x.port}`)).sort();
    expect(ports).toEqual(["TCP/443", "TCP/53", "UDP/53"]);
    const selects = (labels: Record<string, string>) => Object.entries(policy.spec.podSelector.matchLabels).every(([k, v]) => labels[k] === v);
    expect(selects(pod.metadata.labels)).toBe(true);
    expect(selects(podTemplateOf(find(rendered("k8s"), "Deployment")).metadata.labels)).toBe(false);
  });
});

describe("k8s/README.md", () => {
  it("documents the install from the Secret to a ready connector, with OpenShift and EKS notes", () => {
    const readme = readFileSync(join(K8S, "README.md"), "utf8");
    expect(readme).toContain("kubectl create secret generic baton-datadog --from-env-file=");
    expect(readme).toContain("kubectl apply -k k8s/");
    expect(readme).toMatch(/\/ready/);
    expect(readme).toMatch(/OpenShift/);
    expect(readme).toMatch(/IRSA/);
    expect(readme).toContain("eks.amazonaws.com/role-arn");
  });

  it("installs the optional CronJob with its own kustomization alone, never with k8s/ (the service Deployment)", () => {
    const readme = readFileSync(join(K8S, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Optional: scheduled one-shot sync"), readme.indexOf("## Upgrade and removal"));
    const commands = [...section.matchAll(/^kubectl apply -k (\S+)/gm)].map((m) => m[1]);
    expect(commands).toEqual(["k8s/optional"]);
  });
});
