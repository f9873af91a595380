/**
 * `npm run package:lambda`: the AWS Lambda deployment package (nodejs24.x, zip upload) of the Datadog connector.
 *
 * 1. Builds (`npm run build`: tsc into dist/ with the generated messages), unless --built names a directory that
 *    already holds a build (its dist/, package.json and package-lock.json).
 * 2. Installs the production dependencies alone (`npm ci --omit=dev --ignore-scripts`) into a staging directory.
 * 3. Zips dist/ (JavaScript only: no declarations, source maps, tests, benches or simulator test support), bin/,
 *    package.json (its "type": "module" makes the handler an ES module) and node_modules/ (without TypeScript files,
 *    source maps and .bin links) into dist-lambda/baton-datadog-lambda.zip, written whole or not at all.
 * 4. Prints the zip's size in bytes and MB, its entry count and unpacked size, and the handler name.
 *
 * Handler: dist/connectors/datadog/lambda.handler. Options: --out <zip>, --built <dir>, --deps npm-ci|checkout
 * (checkout: the lockfile's production packages from this checkout's node_modules, version-checked; no install).
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative, resolve, sep } from "node:path";
import { parseArgs } from "node:util";
import { writeZip, type ZipEntryInput } from "./lambda-zip.ts";

export const ROOT = resolve(import.meta.dirname, "..");
export const HANDLER = "dist/connectors/datadog/lambda.handler";
export const HANDLER_FILE = "dist/connectors/datadog/lambda.js";
export const DEFAULT_OUT = join(ROOT, "dist-lambda", "baton-datadog-lambda.zip");
/** Lambda's limits for a zip upload: 50 MB direct (larger goes through S3), 250 MB unzipped. */
const DIRECT_UPLOAD_BYTES = 50 * 1024 * 1024;
const UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024;

export interface PackageResult {
  zipPath: string;
  zipBytes: number;
  entries: number;
  unpackedBytes: number;
  handler: string;
}

/** What never runs in a function: type declarations, source maps, tests, benches, the simulator's test support. */
function shippedFromDist(path: string): boolean {
  return !(
    /\.d\.[cm]?ts$/.test(path) ||
    path.endsWith(".map") ||
    /\.test\./.test(path) ||
    /^dist\/connectors\/[^/]+\/bench\//.test(path) ||
    /^dist\/connectors\/datadog\/simulator\/test-support\./.test(path)
  );
}

function shippedFromModules(path: string): boolean {
  return !(
    // TypeScript sources and declarations: Node never runs .ts from node_modules (no type stripping there)
    /\.[cm]?ts$/.test(path) ||
    path.endsWith(".map") ||
    // type-only packages (pulled in as dependencies of dependencies) hold nothing that runs
    /(^|\/)node_modules\/@types\//.test(path) ||
    path.startsWith("node_modules/.bin/") ||
    path === "node_modules/.package-lock.json"
  );
}

/** Regular files under `dir`, as '/'-separated paths relative to `base`; symlinks are not followed. */
function walk(base: string, dir: string, out: string[] = [], skipDir?: (path: string) => boolean): string[] {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    const st = lstatSync(full);
    if (st.isDirectory()) {
      if (!skipDir?.(full)) walk(base, full, out, skipDir);
    } else if (st.isFile()) out.push(relative(base, full).split(sep).join("/"));
  }
  return out;
}

/** The lockfile's production packages ("node_modules/…" paths of entries not flagged dev), as npm ci --omit=dev installs them. */
export function lockedProductionPackages(lockText: string): { path: string; version: string }[] {
  const lock = JSON.parse(lockText) as { lockfileVersion?: number; packages?: Record<string, { version?: string; dev?: boolean; devOptional?: boolean; link?: boolean }> };
  if (!lock.packages || (lock.lockfileVersion ?? 1) < 2) throw new Error("package-lock.json has no `packages` section (lockfile v2 or v3 needed: run npm install with npm 7 or newer)");
  return Object.entries(lock.packages)
    .filter(([path, entry]) => path.startsWith("node_modules/") && !entry.dev && !entry.devOptional)
    .map(([path, entry]) => {
      if (entry.link) throw new Error(`${path} is a linked package; --deps checkout cannot package links (use the default npm ci)`);
      return { path, version: entry.version ?? "" };
    });
}

/**
 * The production dependencies as they are installed in `root`'s node_modules, chosen by the lockfile (the same
 * set and layout npm ci --omit=dev makes from it), each checked against its locked version. Faster than a fresh
 * install and needs no registry or cache; it refuses a node_modules that does not match the lockfile.
 */
function checkoutDependencies(root: string): { name: string; from: string }[] {
  const files: { name: string; from: string }[] = [];
  for (const { path, version } of lockedProductionPackages(readFileSync(join(root, "package-lock.json"), "utf8"))) {
    const dir = join(root, ...path.split("/"));
    let installed: string | undefined;
    try {
      installed = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version?: string }).version;
    } catch {
      throw new Error(`${path} is not installed in ${root} (run npm ci there, or package without --deps checkout)`);
    }
    if (installed !== version) throw new Error(`${path} is ${installed} in node_modules but ${version} in package-lock.json (run npm ci)`);
    // The package's own node_modules holds other lockfile entries, taken (or left out) on their own; a folder of
    // that name deeper inside is the package's content (pino ships test fixtures in one).
    const nested = join(dir, "node_modules");
    for (const f of walk(root, dir, [], (full) => full === nested)) files.push({ name: f, from: join(root, f) });
  }
  return files;
}

function run(cmd: string, args: string[], cwd: string, what: string): void {
  // npm runs scripts with the Node that runs this script (the repository's Node 24), not an older one on PATH.
  const env = { ...process.env, PATH: [dirname(process.execPath), process.env.PATH ?? ""].join(delimiter) };
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 });
  if (r.status !== 0) {
    const tail = `${r.stderr ?? ""}${r.stdout ?? ""}`.trim().split("\n").slice(-8).join("\n");
    throw new Error(`${what} failed (${cmd} ${args.join(" ")} in ${cwd}, exit ${r.status ?? r.signal ?? r.error?.message}):\n${tail}`);
  }
}

export interface PackageOptions {
  /** A directory holding a build (dist/, package.json, package-lock.json); default: build the checkout. */
  built?: string;
  out?: string;
  /** "npm-ci" (default): a fresh `npm ci --omit=dev`; "checkout": the lockfile's production packages from the checkout's node_modules. */
  deps?: "npm-ci" | "checkout";
  log?: (line: string) => void;
}

export function packageLambda(opts: PackageOptions = {}): PackageResult {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const out = resolve(opts.out ?? DEFAULT_OUT);
  const built = opts.built ? resolve(opts.built) : ROOT;
  if (!opts.built) {
    log("building (npm run build)…");
    run("npm", ["run", "build", "--silent"], ROOT, "the build");
  }
  if (!existsSync(join(built, HANDLER_FILE))) {
    throw new Error(`the handler module ${HANDLER_FILE} is not in the build under ${built} (is connectors/datadog/lambda.ts there, and did the build run?)`);
  }

  const staging = mkdtempSync(join(tmpdir(), "baton-lambda-stage-"));
  try {
    for (const f of ["package.json", "package-lock.json"]) {
      const from = existsSync(join(built, f)) ? join(built, f) : join(ROOT, f);
      cpSync(from, join(staging, f));
    }
    if (opts.deps !== "checkout") {
      log("installing production dependencies (npm ci --omit=dev)…");
      run("npm", ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"], staging, "installing the production dependencies");
    }

    const files: { name: string; from: string }[] = [];
    for (const path of walk(built, join(built, "dist"))) if (shippedFromDist(path)) files.push({ name: path, from: join(built, path) });
    const binDir = existsSync(join(built, "bin")) ? built : ROOT;
    for (const path of walk(binDir, join(binDir, "bin"))) files.push({ name: path, from: join(binDir, path) });
    files.push({ name: "package.json", from: join(staging, "package.json") });
    if (opts.deps === "checkout") {
      for (const f of checkoutDependencies(ROOT)) if (shippedFromModules(f.name)) files.push(f);
    } else if (existsSync(join(staging, "node_modules"))) {
      for (const path of walk(staging, join(staging, "node_modules"))) if (shippedFromModules(path)) files.push({ name: path, from: join(staging, path) });
    }
    files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

    let unpackedBytes = 0;
    const entries: ZipEntryInput[] = files.map(({ name, from }) => {
      const data = readFileSync(from);
      unpackedBytes += data.length;
      // Lambda runs the code as another user than the owner: everything world-readable, executables kept so.
      const mode = statSync(from).mode & 0o111 ? 0o755 : 0o644;
      return { name, data, mode };
    });
    if (unpackedBytes > UNZIPPED_LIMIT_BYTES) {
      throw new Error(`the package unpacks to ${unpackedBytes} bytes, past Lambda's ${UNZIPPED_LIMIT_BYTES}-byte limit for zip functions; use the container image`);
    }
    const zip = writeZip(entries);
    mkdirSync(dirname(out), { recursive: true });
    const partial = `${out}.partial-${process.pid}`;
    try {
      writeFileSync(partial, zip);
      renameSync(partial, out);
    } catch (err) {
      rmSync(partial, { force: true });
      throw err;
    }

    const mb = (zip.length / 1e6).toFixed(2);
    const mib = (zip.length / 1024 / 1024).toFixed(2);
    log(`${relative(process.cwd(), out) || out}: ${zip.length} bytes (${mb} MB, ${mib} MiB), ${entries.length} files, ${unpackedBytes} bytes unpacked`);
    log(`handler: ${HANDLER} (runtime nodejs24.x)`);
    if (zip.length > DIRECT_UPLOAD_BYTES) log(`note: larger than ${DIRECT_UPLOAD_BYTES} bytes: upload it through S3 (aws lambda update-function-code --s3-bucket …)`);
    return { zipPath: out, zipBytes: zip.length, entries: entries.length, unpackedBytes, handler: HANDLER };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  try {
    const { values } = parseArgs({ options: { out: { type: "string" }, built: { type: "string" }, deps: { type: "string" } }, strict: true });
    if (values.deps !== undefined && values.deps !== "npm-ci" && values.deps !== "checkout") {
      throw new Error(`--deps must be npm-ci (default: a fresh npm ci --omit=dev) or checkout (the lockfile's production packages from this checkout's node_modules), got ${JSON.stringify(values.deps)}`);
    }
    packageLambda({ out: values.out, built: values.built, deps: values.deps as PackageOptions["deps"] });
  } catch (err) {
    process.stderr.write(`package:lambda: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
