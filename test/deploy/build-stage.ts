// Runs a Dockerfile build stage without a container engine: its COPYs from the build context (with .dockerignore's
// rules) into a temporary directory standing for the stage's WORKDIR, and its RUN commands there with `sh`, one
// `&&` step at a time, the repository's Node first on PATH. The dependency install (`npm ci`) is the one step not
// run: the stage gets a node_modules made of links to the checkout's packages instead (no registry, and nothing the
// stage's commands delete can reach the shared node_modules: `.bin` and the top level are the stage's own).
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, posix } from "node:path";
import { contextFiles, readDockerignore } from "./dockerignore.ts";
import { copyFrom, type Stage } from "./dockerfile-model.ts";

export type StepHook = (command: string, dir: string) => void;

/** A node_modules of symlinks to `root`'s packages (and .bin entries), leaving out the `node` package's shim. */
export function linkedNodeModules(root: string, into: string): void {
  const source = join(root, "node_modules");
  const target = join(into, "node_modules");
  mkdirSync(join(target, ".bin"), { recursive: true });
  for (const name of readdirSync(source)) {
    if (name === ".bin") continue;
    symlinkSync(join(source, name), join(target, name));
  }
  for (const name of readdirSync(join(source, ".bin"))) {
    if (name === "node") continue; // the build stage removes it, so that scripts run the image's own Node
    symlinkSync(join(source, ".bin", name), join(target, ".bin", name));
  }
}

/** The `&&`-separated steps of a RUN (shell form, line continuations joined). */
export function runSteps(run: string): string[] {
  return run
    .replace(/\\\r?\n/g, " ")
    .split(/\s&&\s/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/**
 * Runs `stage` (a stage built FROM an image, not from another stage) on a copy of `root`'s build context and
 * returns the directory that stands for its WORKDIR. `onStep` is called before each RUN step with the command.
 */
export function runBuildStage(root: string, stage: Stage, onStep?: StepHook): string {
  if (stage.parent !== null) throw new Error(`stage ${stage.name} is built FROM ${stage.parent}; only stages FROM an image are run here`);
  const dir = mkdtempSync(join(tmpdir(), `baton-stage-${stage.name ?? "anon"}-`));
  const ignore = readDockerignore(root);
  let workdir: string | null = null;
  const local = (imagePath: string) => {
    if (workdir === null || (imagePath !== workdir && !imagePath.startsWith(`${workdir}/`))) {
      throw new Error(`stage ${stage.name}: ${imagePath} is outside the WORKDIR ${workdir}; this runner maps only the WORKDIR`);
    }
    return join(dir, imagePath.slice(workdir.length));
  };
  const env = { PATH: [dirname(process.execPath), "/usr/local/bin", "/usr/bin", "/bin"].join(":"), HOME: dir };
  for (const i of stage.own) {
    const keyword = i.getKeyword();
    if (keyword === "WORKDIR") {
      if (workdir !== null) throw new Error(`stage ${stage.name}: a second WORKDIR; this runner knows one`);
      workdir = posix.resolve("/", i.getArgumentsContent() ?? "/");
    } else if (keyword === "COPY") {
      if (copyFrom(i) !== null) throw new Error(`stage ${stage.name}: COPY --from is not run here`);
      const args = i.getArguments().map((a) => a.getValue()).filter((a) => !a.startsWith("--"));
      const dest = args.pop()!;
      const destAbs = posix.resolve(workdir ?? "/", dest);
      for (const src of args) {
        const clean = posix.normalize(src).replace(/^\.\/|\/$/g, "");
        const files = contextFiles(root, ignore, clean);
        if (files.length === 0) throw new Error(`stage ${stage.name}: COPY ${src}: nothing in the build context (.dockerignore leaves it out?)`);
        for (const file of files) {
          const inside = file === clean ? posix.basename(file) : file.slice(clean.length + 1);
          const target = file === clean && !(dest.endsWith("/") || args.length > 1) ? destAbs : posix.join(destAbs, inside);
          mkdirSync(dirname(local(target)), { recursive: true });
          cpSync(join(root, file), local(target));
        }
      }
    } else if (keyword === "RUN") {
      const steps = runSteps(i.getArgumentsContent() ?? "");
      if (steps.some((s) => /^npm\s+ci\b/.test(s))) {
        linkedNodeModules(root, dir);
        continue;
      }
      for (const step of steps) {
        onStep?.(step, dir);
        const r = spawnSync("sh", ["-c", step], { cwd: dir, env, encoding: "utf8", timeout: 180_000 });
        if (r.status !== 0) throw new Error(`stage ${stage.name}: \`${step}\` failed (exit ${r.status ?? r.signal}):\n${`${r.stderr}${r.stdout}`.trim().split("\n").slice(-12).join("\n")}`);
      }
    } else if (!["ARG", "LABEL"].includes(keyword)) {
      throw new Error(`stage ${stage.name}: ${keyword} is not understood by this runner`);
    }
  }
  return dir;
}
