/**
 * `npm run build`'s last step: bundles the compiled CLI (dist/connectors/datadog/main.js and everything it
 * imports, statically or lazily) into dist/cli/, which bin/baton-datadog.js runs when it is there.
 *
 * Why (issue 14, measured): a one-shot sync loads about 450 modules before its first request, and Node's ESM
 * loader (resolve, package.json lookups, link) cost more CPU than their code; bundled, the same code is a few
 * dozen chunks and loads in about half the CPU time. Dynamic imports stay chunks of their own, so what loads
 * lazily still does. The packages a sync never loads (grpc-js, the AWS SDK, jose), the ones loaded with
 * createRequire (undici's own files, pino-pretty, yaml) and native ones stay external: node_modules serves them
 * as before, one copy each.
 */
import { globSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { build } from "rolldown";

const ROOT = new URL("..", import.meta.url).pathname;
// `--dist DIR`: bundle another build's dist/ (test/package/stage.ts builds the package into a temporary stage).
const distArg = process.argv.indexOf("--dist");
const DIST = distArg > 0 ? resolve(process.argv[distArg + 1] ?? "") : `${ROOT}dist`;
const OUT = `${DIST}/cli`;
const EXTERNAL = [/^node:/, /^@grpc\//, /^@aws-sdk\//, /^@smithy\//, /^jose(\/|$)/, /^undici(\/|$)/, /^pino-pretty(\/|$)/, /^yaml(\/|$)/];

rmSync(OUT, { recursive: true, force: true });
await build({
  input: { "baton-datadog": `${DIST}/connectors/datadog/main.js` },
  platform: "node",
  // A staged dist/ outside the checkout finds the packages in the checkout's node_modules.
  resolve: { modules: ["node_modules", `${ROOT}node_modules`] },
  external: EXTERNAL,
  logLevel: "warn",
  // ASCII, without comments but legal ones: V8 keeps each chunk's source for the life of the process, two bytes per
  // character once one character is beyond Latin-1 (an arrow in a comment). Live heap at a sync's start 18.5 -> 17.7 MB.
  output: {
    dir: OUT,
    format: "esm",
    entryFileNames: "[name].mjs",
    chunkFileNames: "[name]-[hash].mjs",
    sourcemap: false,
    charset: "ascii",
    comments: { legal: true, annotation: false, jsdoc: false },
  },
});

// The sources this build was made from, for the launcher in a checkout: it runs the sources instead of dist/ when
// one of them changed after the build (reading this list and stating ~300 files costs a few ms; walking the
// directories cost 30+ ms and 7 MB of RSS, measured).
const sources = globSync(["src/**/*.{ts,js}", "connectors/**/*.ts"], { cwd: ROOT }).filter((f) => !f.endsWith(".test.ts")).sort();
writeFileSync(`${OUT}/sources.json`, JSON.stringify(sources));
