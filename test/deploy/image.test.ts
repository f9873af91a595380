// Static checks of the container image definition (no container engine runs here): the Dockerfile parsed with
// dockerfile-ast, the build context computed with Docker's .dockerignore rules, the files the CLI loads at
// run time compared with what the image holds, and the HEALTHCHECK command run for real against a server.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFrom, imageFilesFromContext, instructionsOf, labelsOf, readDockerfile } from "./dockerfile-model.ts";
import { isIgnored, readDockerignore } from "./dockerignore.ts";
import { stagePackage } from "../package/stage.ts";
import { binEntries, runtimeGraph } from "./runtime-imports.ts";

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
function execForm(keyword: string): string[] {
  const [instruction] = instructionsOf(dockerfile.final, keyword);
  const content = (instruction?.getArgumentsContent() ?? "").replace(/^CMD\s+/, "");
  return JSON.parse(content) as string[];
}

describe("Dockerfile", () => {
  it("builds in stages, each FROM the official Node image pinned to an exact Node 24 version (and digest)", () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    for (const { from } of dockerfile.stages) {
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
    const images = new Set(dockerfile.stages.map((s) => s.from.getImage()));
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

  it("ships the compiled dist/ from a stage that runs `npm run build` and deletes declarations and source maps", () => {
    const dist = instructionsOf(dockerfile.final, "COPY").filter((i) => copyFrom(i) !== null && i.getArguments().some((a) => a.getValue().endsWith("/dist")));
    expect(dist).toHaveLength(1);
    const stage = dockerfile.stages.find((s) => s.name === copyFrom(dist[0]));
    expect(stage).toBeDefined();
    const build = runs(stage!).join(" && ");
    expect(build).toMatch(/\bnpm run build\b/);
    expect(build).toContain("-name '*.d.ts'");
    expect(build).toContain("-name '*.map'");
    expect(build).toMatch(/-delete\b/);
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
    expect(files.get(entrypoint[1])).toBe(binEntries(ROOT)[0].replace(/^\.\//, ""));
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

describe("the image holds everything the CLI loads at run time, and only what runs", () => {
  // The image's dist/ as its build stage makes it: the package build, minus declarations and source maps.
  let image = "";
  let graph: ReturnType<typeof runtimeGraph>;
  beforeAll(() => {
    image = stagePackage();
    for (const f of readdirSync(join(image, "dist"), { recursive: true }) as string[]) {
      if (f.endsWith(".d.ts") || f.endsWith(".map")) rmSync(join(image, "dist", f));
    }
    // The launcher picks dist/ when the sources are absent (as in the image); follow from what it imports.
    expect(readFileSync(join(image, binEntries(ROOT)[0]), "utf8")).toContain("../dist/connectors/datadog/main.js");
    graph = runtimeGraph(image, ["dist/connectors/datadog/main.js"]);
  }, 60_000);
  afterAll(() => rmSync(image, { recursive: true, force: true }));

  it("every local module reached from the compiled main is in the image's dist/ (the image gets package.json and bin/ too)", () => {
    expect(graph.missing).toEqual([]);
    expect(graph.files.size).toBeGreaterThan(10);
    const files = imageFilesFromContext(ROOT, dockerfile);
    expect(files.get("/app/bin/baton-datadog.js")).toBe("bin/baton-datadog.js");
    expect(files.get("/app/package.json")).toBe("package.json");
  });

  it("the image's dist/ holds no tests, no simulator test support, no declarations and no source maps", () => {
    const shipped = (readdirSync(join(image, "dist"), { recursive: true }) as string[]).filter((f) => !statSync(join(image, "dist", f)).isDirectory());
    expect(shipped.filter((f) => /\.test\.|test-support|\/bench\/|\.d\.ts$|\.map$|\.ts$/.test(f))).toEqual([]);
    const unreached = shipped.filter((f) => f.endsWith(".js") && !graph.files.has(`dist/${f}`));
    // Measured, not asserted: library entry points (exports) and other connectors the CLI does not load.
    console.log(`image dist/: ${shipped.length} files, ${graph.files.size} loaded by the CLI, not loaded: ${unreached.join(", ")}`);
  });

  it("every package it imports is a production dependency (dev dependencies are not in the image)", () => {
    const notProduction = [...graph.packages].filter(([name]) => !(name in pkg.dependencies)).map(([name, by]) => `${name} (imported by ${by})`);
    expect(notProduction).toEqual([]);
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
