// A Dockerfile read with dockerfile-ast and cut into build stages, plus the list of files the final image gets
// from the build context: what the static image checks (image.test.ts) and the production-entrypoint test
// reason about, since no container engine runs here.
import { existsSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";
import { DockerfileParser, type From, type Instruction } from "dockerfile-ast";
import { contextFiles, readDockerignore } from "./dockerignore.ts";

/**
 * One build stage. A stage FROM an earlier stage (`FROM app AS lambda`) inherits that stage's filesystem and
 * settings: `instructions` are the parent's followed by its own, so checks of a target see everything that
 * applies to it; `own` are the ones written under its FROM, and `base` is the image the chain starts from.
 */
export type Stage = { name: string | null; from: From; parent: string | null; base: From; own: Instruction[]; instructions: Instruction[] };

export type DockerfileModel = {
  stages: Stage[];
  /** The target built by default (the last stage), or the one named to readDockerfile. */
  final: Stage;
  /** ARG defaults of the final stage (after FROM), for resolving ${VAR} in LABEL values. */
  args: Map<string, string>;
};

export function readDockerfile(root: string, target?: string): DockerfileModel {
  const text = readFileSync(join(root, "Dockerfile"), "utf8");
  const dockerfile = DockerfileParser.parse(text);
  const froms = dockerfile.getFROMs();
  if (froms.length === 0) throw new Error("Dockerfile has no FROM");
  const stages: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction.getKeyword() === "FROM") {
      const from = froms[stages.length];
      const parent = stages.find((s) => s.name !== null && s.name.toLowerCase() === (from.getImage() ?? "").toLowerCase()) ?? null;
      stages.push({ name: from.getBuildStage(), from, parent: parent?.name ?? null, base: parent?.base ?? from, own: [], instructions: parent ? [...parent.instructions] : [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].own.push(instruction);
      stages[stages.length - 1].instructions.push(instruction);
    }
  }
  const final = target === undefined ? stages[stages.length - 1] : stages.find((s) => s.name === target);
  if (!final) throw new Error(`Dockerfile has no stage named ${target} (stages: ${stages.map((s) => s.name).join(", ")})`);
  const args = new Map<string, string>();
  for (const i of final.instructions.filter((i) => i.getKeyword() === "ARG")) {
    const [name, ...value] = (i.getArgumentsContent() ?? "").split("=");
    args.set(name.trim(), value.join("=").trim());
  }
  return { stages, final, args };
}

export function instructionsOf(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.getKeyword() === keyword);
}

/** The `--from=` flag of a COPY/ADD, or null. */
export function copyFrom(i: Instruction): string | null {
  const flags = (i as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] }).getFlags();
  return flags.find((f) => f.getName() === "from")?.getValue() ?? null;
}

/** LABEL key → value with the stage's ARG defaults substituted. */
export function labelsOf(model: DockerfileModel): Map<string, string> {
  const labels = new Map<string, string>();
  for (const i of instructionsOf(model.final, "LABEL")) {
    const props = (i as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }).getProperties();
    for (const p of props) {
      const raw = (p.getValue() ?? "").replace(/^"(.*)"$/s, "$1");
      labels.set(p.getName(), raw.replace(/\$\{?(\w+)\}?/g, (_, name: string) => model.args.get(name) ?? ""));
    }
  }
  return labels;
}

/**
 * The absolute paths in the final image of every file copied from the build context (COPY without --from),
 * mapped to their path in the context. WORKDIR is followed for relative destinations.
 */
export function imageFilesFromContext(root: string, model: DockerfileModel): Map<string, string> {
  const ignore = readDockerignore(root);
  const files = new Map<string, string>();
  let workdir = "/";
  for (const i of model.final.instructions) {
    const keyword = i.getKeyword();
    if (keyword === "WORKDIR") workdir = posix.resolve(workdir, i.getArgumentsContent() ?? "/");
    if ((keyword !== "COPY" && keyword !== "ADD") || copyFrom(i) !== null) continue;
    const args = i.getArguments().map((a) => a.getValue()).filter((a) => !a.startsWith("--"));
    const dest = args.pop();
    if (dest === undefined || args.length === 0) throw new Error(`line ${i.getRange().start.line + 1}: COPY without source`);
    const destAbs = posix.resolve(workdir, dest);
    const destIsDir = dest.endsWith("/") || args.length > 1;
    for (const src of args) {
      const clean = posix.normalize(src).replace(/^\.\/|\/$/g, "");
      if (!existsSync(join(root, clean))) throw new Error(`COPY source ${src} does not exist in the build context`);
      for (const file of contextFiles(root, ignore, clean)) {
        const inside = file === clean ? posix.basename(file) : file.slice(clean.length + 1);
        const target = file === clean && !destIsDir ? destAbs : posix.join(destAbs, inside);
        files.set(target, file);
      }
    }
  }
  return files;
}
