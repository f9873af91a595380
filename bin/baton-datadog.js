#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2
// Entry point for `npx baton-datadog` and the container's ENTRYPOINT.
//
// Plain JavaScript that any Node.js can parse: it checks the Node version against package.json's `engines`
// before loading anything that needs a newer one, so an old Node gets one line saying what to install
// instead of a stack trace (ERR_UNKNOWN_FILE_EXTENSION, a syntax error, a missing node:sqlite...).
//
// Then it runs the program: the compiled JavaScript in dist/ when it is there (an installed package, the image,
// and a checkout after `npm ci`, whose `prepare` script builds it; dist/cli/ is its bundle, which starts in
// half the CPU time of dist/'s 450 modules), otherwise the TypeScript sources (a checkout
// without a build: Node 24 strips the types at every start, which costs about 0.3 s and 30 MB). In a checkout the
// sources also run when dist/ is older than one of them (an edit since the last build), and with RUN_SOURCES=1,
// which the test suite sets (vitest.config.ts).
//
// `--version` alone is answered here from package.json, before any of the program loads: it is what scripts and
// health probes call most, and the answer (name and version) is the one the CLI's runner prints.
//
// A 2 MB young generation keeps a 100,000-grant sync under 300 MB RSS at no measured cost in time (see the
// README's benchmark section); the container sets the same through NODE_OPTIONS.
import { existsSync, readFileSync, statSync } from "node:fs";

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

/**
 * In a checkout, a dist/ built before the last edit of a source would run old code: true when `built` is older
 * than one of the sources the build listed (dist/cli/sources.json), or when there is no such list.
 */
function olderThanSources(built) {
  var builtAt = statSync(built).mtimeMs;
  var list = new URL("../dist/cli/sources.json", import.meta.url);
  if (!existsSync(list)) return true;
  var sources = JSON.parse(readFileSync(list, "utf8"));
  for (var i = 0; i < sources.length; i++) {
    var s = statSync(new URL("../" + sources[i], import.meta.url), { throwIfNoEntry: false });
    if (!s || s.mtimeMs > builtAt) return true;
  }
  return false;
}

/** A yes/no environment setting: true for 1/on/true/yes, false for 0/off/false/no (any case), else undefined. */
function envSwitch(value) {
  if (/^(1|on|true|yes)$/i.test(value || "")) return true;
  if (/^(0|off|false|no)$/i.test(value || "")) return false;
  return undefined;
}

/**
 * Where the compile cache lives: the user's own cache directory ($XDG_CACHE_HOME, else ~/.cache), never a shared
 * one such as /tmp, where another local user could plant compiled code for this program to run. None without an
 * absolute home, or with BATON_COMPILE_CACHE=off.
 */
function compileCacheDirectory(env) {
  if (envSwitch(env.BATON_COMPILE_CACHE) === false) return undefined;
  // A relative XDG_CACHE_HOME is invalid (XDG base directory spec) and ignored, as is a relative HOME.
  var xdg = env.XDG_CACHE_HOME || "";
  var base = xdg.charAt(0) === "/" ? xdg : env.HOME && env.HOME.charAt(0) === "/" ? env.HOME.replace(/\/+$/, "") + "/.cache" : "";
  return base ? base + "/baton-datadog/compile-cache" : undefined;
}

// V8 flags for memory (issue 14), each measured (README, Memory), set with v8.setFlagsFromString: V8 refuses most
// of them in NODE_OPTIONS.
// - The sync's heap growth (src/sync/heap-growth.ts, same variable and default). runSync sets it too, but by then
//   the heap may have been sized with V8's own factor while the modules loaded, and that first limit stands
//   until the next full collection. A value runSync would refuse is left for it to refuse, with its message.
// - --liftoff-only: no optimising compile of undici's WebAssembly HTTP parser on worker threads, whose memory
//   glibc kept (8-20 MB of peak RSS). It only needs to be set before the parser compiles, at the first connection.
//   Set at run time it does not turn off what it implies on the command line, so those are set with it: without
//   them the 2,000-user org's peak RSS was 110-120 MB, in two modes, against 108-113.
// - No Maglev (V8's mid-tier optimising compiler; TurboFan still optimises what stays hot): its background
//   compiles' memory and code raise a sync's peak RSS. BATON_MAGLEV=on keeps it (CPU over memory).
// - V8's memory-over-speed mode: twice the scavenges and a heap that gives pages back sooner, for 12-25 % more
//   CPU. BATON_OPTIMIZE_FOR_SIZE=off keeps V8's defaults (a small Lambda gets CPU in proportion to its memory).
// Exported for the bench's sync child (connectors/datadog/bench/sync-child.mjs), which sets the same ones.
export function launcherFlags(env) {
  var growth = (env.BATON_HEAP_GROWING_PERCENT || "").trim() || "20";
  var flags = ["--liftoff-only", "--no-wasm-tier-up", "--no-wasm-dynamic-tiering"];
  if (/^\d{1,3}$/.test(growth) && Number(growth) <= 400) flags.push("--heap-growing-percent=" + Number(growth));
  if (envSwitch(env.BATON_MAGLEV) !== true) flags.push("--no-maglev");
  if (envSwitch(env.BATON_OPTIMIZE_FOR_SIZE) !== false) flags.push("--optimize-for-size");
  return flags;
}

var argv = process.argv.slice(2);
if (!import.meta.main) {
  // Imported, not run: only launcherFlags is wanted.
} else if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
  process.stdout.write(pkg.name + " " + pkg.version + "\n");
} else {
  // When they are set matters for start-up. Any changed flag makes V8 refuse the code cache Node ships for its
  // built-in modules, which then compile from source: node:net, http, tls, crypto and the rest take about 50 ms
  // instead of 20, --help 64 MB instead of 57. So help sets none; every other run hands the program a function
  // that sets them once (connectors/datadog/launcher-flags.ts), which the program calls before it loads its heavy
  // parts, and the one-shot sync only once its first request is on its way (the built-ins of that request's path
  // load from the cache; issue 14's time to the first request).
  var flags = launcherFlags(process.env);
  var helpOnly = argv[0] === "help" || argv.indexOf("--help") !== -1 || argv.indexOf("-h") !== -1;
  var source = new URL("../connectors/datadog/main.ts", import.meta.url);
  // The bundle of the compiled program (scripts/bundle-cli.ts) when the build made one, else its modules.
  var bundled = new URL("../dist/cli/baton-datadog.mjs", import.meta.url);
  var compiled = new URL("../dist/connectors/datadog/main.js", import.meta.url);
  var built = existsSync(bundled) ? bundled : existsSync(compiled) ? compiled : undefined;
  var fromSources = existsSync(source) && (process.env.RUN_SOURCES === "1" || !built || olderThanSources(built));
  var entry = fromSources ? source : built;
  var cacheDir = fromSources ? undefined : compileCacheDirectory(process.env);
  Promise.all([helpOnly ? undefined : import("node:v8"), cacheDir ? import("node:module") : undefined])
    .then(function (loaded) {
      if (loaded[0]) {
        var v8 = loaded[0];
        var set = false;
        globalThis[Symbol.for("baton-datadog.launcher-flags")] = function () {
          if (set) return;
          set = true;
          for (var i = 0; i < flags.length; i++) v8.setFlagsFromString(flags[i]);
        };
      }
      // V8's compiled code of the program, kept between runs (Node's module compile cache): a later one-shot sync
      // sends its first request about 20 ms sooner, --help answers sooner. Node checks each entry against the
      // source and the V8 version and flags, writes it when the process exits, and turns it off when it cannot
      // create the directory (a read-only home) or when NODE_DISABLE_COMPILE_CACHE=1.
      if (cacheDir && loaded[1].enableCompileCache) loaded[1].enableCompileCache(cacheDir);
      return import(entry.href);
    })
    .then(function (m) {
      return m.main(argv);
    });
}
