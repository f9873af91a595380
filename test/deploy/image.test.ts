// Static checks of the container image definition (no container engine runs here): the Dockerfile parsed with
// dockerfile-ast (both targets: the default `runtime` and `lambda`), the build context computed with Docker's
// .dockerignore rules, and the HEALTHCHECK command run for real against a server. What the image's dist/ holds,
// against what the launcher loads, is image-files.test.ts.
import { spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFrom, imageFilesFromContext, instructionsOf, labelsOf, readDockerfile, type DockerfileModel } from "./dockerfile-model.ts";
import { isIgnored, readDockerignore } from "./dockerignore.ts";
import { runSteps } from "./build-stage.ts";
import { binEntries } from "./runtime-imports.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  version: string;
  license: string;
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const dockerfile = readDockerfile(ROOT);
const WRITABLE_DIR = "/var/lib/baton";

function versionAtLeast(version: string, minimum: string): boolean {
  const a = version.split(".").map(Number);
  const b = minimum.split(".").map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}
function runs(stage: typeof dockerfile.final): string[] {
  return instructionsOf(stage, "RUN").map((i) => (i.getArgumentsContent() ?? "").replace(/\\\n/g, " "));
}
function execForm(keyword: string, model: DockerfileModel = dockerfile): string[] {
  const instruction = instructionsOf(model.final, keyword).at(-1);
  if (!instruction) return [];
  const content = (instruction?.getArgumentsContent() ?? "").replace(/^CMD\s+/, "");
  return JSON.parse(content) as string[];
}

describe("Dockerfile", () => {
  it("builds in stages, each FROM the official Node image pinned to an exact Node 24 version (and digest)", () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    // Stages FROM another stage (`FROM app AS lambda`) inherit its base.
    const fromImages = dockerfile.stages.filter((s) => s.parent === null);
    for (const { from } of fromImages) {
      expect([null, "docker.io"]).toContain(from.getRegistry());
      expect(from.getImageName()).toBe("node");
      const tag = from.getImageTag() ?? "";
      const m = /^(\d+\.\d+\.\d+)-(bookworm|trixie)-slim$/.exec(tag);
      expect(m, `tag ${tag} is an exact version of a slim Debian image`).not.toBeNull();
      const version = m![1];
      expect(version.split(".")[0]).toBe("24");
      // The Node developers test on (the `node` devDependency) is the Node the image runs.
      expect(version).toBe(pkg.devDependencies.node);
      expect(versionAtLeast(version, pkg.engines.node.replace(/^>=\s*/, ""))).toBe(true);
      const digest = from.getImageDigest();
      if (digest !== null) expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    const images = new Set(fromImages.map((s) => s.from.getImage()));
    expect(images.size, "every stage uses the same pinned base").toBe(1);
  });

  it("final stage runs as a numeric non-root USER", () => {
    const users = instructionsOf(dockerfile.final, "USER").map((i) => i.getArgumentsContent() ?? "");
    expect(users.length).toBeGreaterThan(0);
    for (const user of users) expect(user).toMatch(/^\d+(:\d+)?$/);
    const [uid] = users.at(-1)!.split(":").map(Number);
    expect(uid).toBeGreaterThan(0);
    // Nothing runs after USER that would need root (and nothing switches back).
    const keywords = dockerfile.final.instructions.map((i) => i.getKeyword());
    expect(keywords.slice(keywords.lastIndexOf("USER")).filter((k) => k === "RUN")).toEqual([]);
  });

  it("copies no dev dependencies: node_modules only from a stage that ran `npm ci --omit=dev`", () => {
    const copies = instructionsOf(dockerfile.final, "COPY").filter((i) => copyFrom(i) !== null);
    const modules = copies.filter((i) => i.getArguments().some((a) => a.getValue().includes("node_modules"))).map((i) => copyFrom(i)!);
    expect(modules.length).toBeGreaterThan(0);
    for (const name of modules) {
      const stage = dockerfile.stages.find((s) => s.name === name);
      expect(stage, `COPY --from=${name} names a stage of this Dockerfile`).toBeDefined();
      const installs = runs(stage!).filter((r) => /\bnpm\s+(ci|install|i)\b/.test(r));
      expect(installs.length).toBeGreaterThan(0);
      for (const r of installs) {
        expect(r).toMatch(/\bnpm\s+ci\b/);
        expect(r).toMatch(/--omit=dev\b/);
      }
    }
    // The final stage installs and builds nothing: its RUNs only remove files and prepare the writable directory.
    const commands = runs(dockerfile.final).flatMap((r) => r.split(/&&|;|\|\|/).map((c) => c.trim().split(/\s+/)[0]));
    expect(commands.filter((c) => !["rm", "mkdir", "chown", "chmod", "chgrp"].includes(c))).toEqual([]);
  });

  it("ships dist/ from a stage that runs `npm run build` and then prunes it to what the launcher's entry loads", () => {
    const dist = instructionsOf(dockerfile.final, "COPY").filter((i) => copyFrom(i) !== null && i.getArguments().some((a) => a.getValue().endsWith("/dist")));
    expect(dist).toHaveLength(1);
    const stage = dockerfile.stages.find((s) => s.name === copyFrom(dist[0]));
    expect(stage).toBeDefined();
    const steps = runs(stage!).flatMap(runSteps);
    const build = steps.findIndex((s) => s === "npm run build");
    const prune = steps.findIndex((s) => /^node scripts\/image-prune\.ts\b/.test(s));
    expect(build, steps.join(" && ")).toBeGreaterThanOrEqual(0);
    expect(prune, "the prune runs after the build").toBeGreaterThan(build);
    expect(steps.slice(prune + 1), "nothing adds files after the prune").toEqual([]);
    const args = steps[prune].split(/\s+/).slice(2);
    expect(args.slice(0, 3)).toEqual(["--dir", "dist", "--first-existing"]);
    // The candidates are the compiled programs the launcher may run (image-files.test.ts checks which one it does).
    const launcher = readFileSync(join(ROOT, binEntries(ROOT)[0]), "utf8");
    // (Modules only: the launcher also reads a data file there, dist/cli/sources.json, in a checkout alone.)
    const launcherTargets = [...launcher.matchAll(/new URL\("\.\.\/(dist\/[^"]+\.m?js)", import\.meta\.url\)/g)].map((m) => m[1]);
    expect(launcherTargets.length).toBeGreaterThan(0);
    expect(new Set(args.slice(3))).toEqual(new Set(launcherTargets));
    // The build stage gets the prune script from the context.
    expect(isIgnored(readDockerignore(ROOT), "scripts/image-prune.ts")).toBe(false);
  });

  it("copies only runtime files from the build context: no tests, no node_modules, no sync files", () => {
    const files = imageFilesFromContext(ROOT, dockerfile);
    expect(files.size).toBeGreaterThan(0);
    for (const [imagePath, contextPath] of files) {
      expect(contextPath, imagePath).not.toMatch(/\.test\.ts$/);
      expect(contextPath, imagePath).not.toMatch(/(^|\/)(test|node_modules|\.git)(\/|$)/);
      expect(contextPath, imagePath).not.toMatch(/\.c1z/);
    }
    expect(files.get("/app/package.json")).toBe("package.json");
    expect(files.get("/app/package-lock.json")).toBe("package-lock.json");
  });

  it("ENTRYPOINT runs the package's CLI with node, in exec form", () => {
    const entrypoint = execForm("ENTRYPOINT");
    expect(entrypoint).toEqual(["node", "/app/bin/baton-datadog.js"]);
    const files = imageFilesFromContext(ROOT, dockerfile);
    expect(files.get(entrypoint.at(-1)!)).toBe(binEntries(ROOT)[0].replace(/^\.\//, ""));
  });

  it("points TMPDIR at the one writable directory, made by the image with group 0 and g=u for arbitrary UIDs", () => {
    const env = instructionsOf(dockerfile.final, "ENV").flatMap((i) => i.getArguments().map((a) => a.getValue()));
    expect(env).toContain(`TMPDIR=${WRITABLE_DIR}`);
    // The image's UID has no passwd entry: a HOME elsewhere would be unwritable, none at all makes os.homedir() throw.
    expect(env).toContain(`HOME=${WRITABLE_DIR}`);
    const setup = runs(dockerfile.final).join(" && ");
    expect(setup).toContain(`mkdir -p ${WRITABLE_DIR}`);
    const uid = (instructionsOf(dockerfile.final, "USER").at(-1)?.getArgumentsContent() ?? "").split(":")[0];
    expect(setup).toContain(`chown ${uid}:0 ${WRITABLE_DIR}`);
    expect(setup).toMatch(new RegExp(`chmod (0?770|g=u) ${WRITABLE_DIR}`));
    // The package managers are gone from the final image.
    expect(setup).toMatch(/rm -rf [^&]*\/usr\/local\/lib\/node_modules\/npm\b/);
  });

  it("has the OCI labels: source, version (the package's), licenses (the package's), title, description", () => {
    const labels = labelsOf(dockerfile);
    expect(labels.get("org.opencontainers.image.version")).toBe(pkg.version);
    expect(labels.get("org.opencontainers.image.licenses")).toBe(pkg.license);
    expect(labels.get("org.opencontainers.image.source")).toMatch(/^https:\/\//);
    expect(labels.get("org.opencontainers.image.title")).toBe("baton-datadog");
    expect(labels.get("org.opencontainers.image.description")?.length).toBeGreaterThan(10);
  });
});

describe(".dockerignore", () => {
  const patterns = readDockerignore(ROOT);

  it("leaves node_modules, .git, tests, sync files and local config out of the build context", () => {
    for (const path of [
      "node_modules/zod/package.json",
      "connectors/datadog/node_modules/x/index.js",
      ".git/HEAD",
      "test/deploy/manifests.test.ts",
      "src/store/c1z.test.ts",
      "connectors/datadog/resources/users.test.ts",
      "connectors/datadog/bench/bench.ts",
      "sync.c1z",
      "src/sync.c1z.tmp",
      ".baton.yaml",
      "proto/c1/connector/v2/resource.proto",
      "k8s/base/deployment.yaml",
    ]) {
      expect(isIgnored(patterns, path), path).toBe(true);
    }
  });

  it("keeps what the build and the image need, the simulator included (demo and simulate import it)", () => {
    expect(isIgnored(patterns, "dist/connectors/datadog/main.js"), "dist/ is built inside the image, never sent").toBe(true);
    for (const path of ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "bin/baton-datadog.js", "src/gen/c1/connector/v2/resource_pb.js", "connectors/datadog/main.ts", "connectors/datadog/simulator/server.ts"]) {
      expect(isIgnored(patterns, path), path).toBe(false);
    }
  });
});

describe("the lambda target: the same files as a Lambda container-image function", () => {
  const lambda = readDockerfile(ROOT, "lambda");
  const envOf = (model: DockerfileModel) => {
    const env = new Map<string, string>();
    for (const i of instructionsOf(model.final, "ENV")) for (const a of i.getArguments().map((x) => x.getValue())) env.set(a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1));
    return env;
  };

  it("is built from the same stage as the default target, which stays the last (what `docker build .` makes)", () => {
    expect(dockerfile.final.name).toBe("runtime");
    expect(lambda.final.parent).not.toBeNull();
    expect(lambda.final.parent).toBe(dockerfile.final.parent);
    // Same files: what both copy from other stages and from the context.
    const copies = (m: DockerfileModel) => instructionsOf(m.final, "COPY").map((i) => i.getArgumentsContent());
    expect(copies(lambda)).toEqual(copies(dockerfile));
    expect([...imageFilesFromContext(ROOT, lambda)]).toEqual([...imageFilesFromContext(ROOT, dockerfile)]);
    expect(labelsOf(lambda)).toEqual(labelsOf(dockerfile));
  });

  it("runs `baton-datadog lambda` (the Runtime API client) with the image's ENTRYPOINT, and the default target has no CMD", () => {
    expect(execForm("ENTRYPOINT", lambda)).toEqual(["node", "/app/bin/baton-datadog.js"]);
    expect(execForm("CMD", lambda)).toEqual(["lambda"]);
    // `docker run baton-datadog sync …`: the arguments go straight to the CLI.
    expect(execForm("CMD")).toEqual([]);
  });

  it("puts TMPDIR, HOME and the working directory on /tmp, the one writable place Lambda gives a function; no HEALTHCHECK, no EXPOSE", () => {
    const env = envOf(lambda);
    expect(env.get("TMPDIR")).toBe("/tmp");
    expect(env.get("HOME")).toBe("/tmp");
    expect(env.get("NODE_ENV")).toBe("production");
    expect(env.get("NODE_OPTIONS")).toBe(envOf(dockerfile).get("NODE_OPTIONS"));
    expect(instructionsOf(lambda.final, "WORKDIR").at(-1)?.getArgumentsContent()).toBe("/tmp");
    expect(instructionsOf(lambda.final, "HEALTHCHECK")).toEqual([]);
    expect(instructionsOf(lambda.final, "EXPOSE")).toEqual([]);
  });

  it("the files it copies from the context are readable by any user (Lambda runs the function as its own user)", () => {
    for (const [imagePath, contextPath] of imageFilesFromContext(ROOT, lambda)) {
      expect(statSync(join(ROOT, contextPath)).mode & 0o004, imagePath).not.toBe(0);
    }
  });
});

describe("HEALTHCHECK", () => {
  let server: Server;
  let status = 200;
  const requests: string[] = [];
  let port = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.writeHead(status).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  // Runs the HEALTHCHECK's exec-form command as Docker would, with this test's Node as `node`.
  function runHealthcheck(env: Record<string, string>): Promise<number | null> {
    const [command, ...args] = execForm("HEALTHCHECK");
    expect(command).toBe("node");
    const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? "", ...env }, stdio: "ignore" });
    return new Promise((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", (code) => resolve(code));
    });
  }

  it("has sensible timing flags and probes /live on the health port", () => {
    const [instruction] = instructionsOf(dockerfile.final, "HEALTHCHECK");
    const flags = new Map((instruction as any).getFlags().map((f: any) => [f.getName(), f.getValue()]));
    for (const name of ["interval", "timeout", "start-period", "retries"]) expect(flags.has(name), name).toBe(true);
    const script = execForm("HEALTHCHECK").join(" ");
    expect(script).toContain("/live");
    expect(script).toContain("8081");
  });

  it("is healthy when /live answers 200", async () => {
    status = 200;
    requests.length = 0;
    expect(await runHealthcheck({ BATON_HEALTH_CHECK: "true", BATON_HEALTH_CHECK_PORT: String(port) })).toBe(0);
    expect(requests).toEqual(["GET /live"]);
  });

  it("is unhealthy when /live answers an error status", async () => {
    status = 503;
    expect(await runHealthcheck({ BATON_HEALTH_CHECK: "true", BATON_HEALTH_CHECK_PORT: String(port) })).toBe(1);
  });

  it("is unhealthy when nothing listens on the health port", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(await runHealthcheck({ BATON_HEALTH_CHECK: "1", BATON_HEALTH_CHECK_PORT: String(closedPort) })).toBe(1);
  });

  it("reports healthy without probing when the health server is off (a one-shot sync has none)", async () => {
    requests.length = 0;
    expect(await runHealthcheck({ BATON_HEALTH_CHECK_PORT: String(port) })).toBe(0);
    expect(requests).toEqual([]);
  });
});
