// Loaded with `node --import` into a CLI child process: records the URL of every module the program resolves and
// writes them, one a line, to $MODULE_RECORD_FILE when the process exits; and every V8 flag the launcher sets, with
// how many modules had been resolved and how many HTTP connections undici had made by then, as JSON lines to
// $MODULE_RECORD_FILE.flags. Plain JavaScript so that it runs before (and without) anything else of the program.
import { subscribe } from "node:diagnostics_channel";
import { writeFileSync } from "node:fs";
import { createRequire, registerHooks, syncBuiltinESMExports } from "node:module";

const seen = new Set();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    seen.add(resolved.url);
    return resolved;
  },
});

let connections = 0;
subscribe("undici:client:connected", () => connections++);
const flags = [];
const v8 = createRequire(import.meta.url)("node:v8");
const setFlags = v8.setFlagsFromString;
v8.setFlagsFromString = (flag) => {
  flags.push(JSON.stringify({ flag, modules: seen.size, connections }));
  return setFlags(flag);
};
syncBuiltinESMExports();

process.on("exit", () => {
  writeFileSync(process.env.MODULE_RECORD_FILE, [...seen].join("\n") + "\n");
  writeFileSync(process.env.MODULE_RECORD_FILE + ".flags", flags.map((f) => f + "\n").join(""));
});
