#!/usr/bin/env -S node --max-semi-space-size=2
// Entry point for `npx baton-datadog` and the container's ENTRYPOINT.
//
// Plain JavaScript that any Node.js can parse: it checks the Node version against package.json's `engines`
// before loading anything that needs a newer one, so an old Node gets one line saying what to install
// instead of a stack trace (ERR_UNKNOWN_FILE_EXTENSION, a syntax error, a missing node:sqlite...).
//
// Then it runs the program: the TypeScript sources when they are next to it (a checkout of the repository:
// Node 24 strips the types, so development needs no build and never runs a stale dist/), otherwise the
// compiled JavaScript in dist/ (an installed package or the image: neither holds the sources, and Node
// refuses to strip types inside node_modules anyway).
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

var source = new URL("../connectors/datadog/main.ts", import.meta.url);
var entry = existsSync(source) ? source : new URL("../dist/connectors/datadog/main.js", import.meta.url);
import(entry.href).then(function (m) {
  return m.main(process.argv.slice(2));
});
