#!/usr/bin/env -S node --max-semi-space-size=2
// Entry point for `npx baton-datadog` and the container's ENTRYPOINT.
//
// Plain JavaScript that any Node.js can parse: it checks the Node version against package.json's `engines`
// before loading anything that needs a newer one, so an old Node gets one line saying what to install
// instead of a stack trace (ERR_UNKNOWN_FILE_EXTENSION, a syntax error, a missing node:sqlite...).
//
// Then it runs the program: the compiled JavaScript in dist/ when it is there (an installed package, the image,
// and a checkout after `npm ci`, whose `prepare` script builds it; dist/cli/ is its bundle, which starts in
// half the CPU time of dist/'s 450 modules), otherwise the TypeScript sources (a checkout
// without a build: Node 24 strips the types at every start, which costs about 0.3 s and 30 MB). RUN_SOURCES=1
// runs the sources of a checkout even when dist/ exists: the test suite sets it (vitest.config.ts), so tests never
// run a dist/ older than the sources they edit.
//
// `--version` alone is answered here from package.json, before any of the program loads: it is what scripts and
// health probes call most, and the answer (name and version) is the one the CLI's runner prints.
//
// A 2 MB young generation keeps a 100,000-grant sync under 300 MB RSS at no measured cost in time (see the
// README's benchmark section); the container sets the same through NODE_OPTIONS.
import { existsSync, readFileSync } from "node:fs";

var pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
var required = String((pkg.engines && pkg.engines.node) || "").replace(/^>=\s*/, "");

function atLeast(version, minimum) {
  var a = version.split(".").map(Number);
  var b = minimum.split(".").map(Number);
  for (var i = 0; i < 3; i++) {
    if ((a[i] || 0) !== (b[i] || 0)) return (a[i] || 0) > (b[i] || 0);
  }
  return true;
}

if (required && !atLeast(process.versions.node, required)) {
  process.stderr.write(
    "baton-datadog needs Node.js " + required + " or newer; this is Node.js " + process.versions.node +
      " (" + process.execPath + "). Install a newer Node.js (https://nodejs.org) or run the container image.\n",
  );
  process.exit(2);
}

var argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
  process.stdout.write(pkg.name + " " + pkg.version + "\n");
} else {
  var source = new URL("../connectors/datadog/main.ts", import.meta.url);
  // The bundle of the compiled program (scripts/bundle-cli.ts) when the build made one, else its modules.
  var bundled = new URL("../dist/cli/baton-datadog.mjs", import.meta.url);
  var compiled = new URL("../dist/connectors/datadog/main.js", import.meta.url);
  var fromSources = process.env.RUN_SOURCES === "1" && existsSync(source);
  var entry = fromSources ? source : existsSync(bundled) ? bundled : existsSync(compiled) ? compiled : source;
  import(entry.href).then(function (m) {
    return m.main(argv);
  });
}
