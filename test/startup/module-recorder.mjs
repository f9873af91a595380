// Loaded with `node --import` into a CLI child process: records the URL of every module the program resolves and
// writes them, one a line, to $MODULE_RECORD_FILE when the process exits. Plain JavaScript so that it runs before
// (and without) anything else of the program.
import { writeFileSync } from "node:fs";
import { registerHooks } from "node:module";

const seen = new Set();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    seen.add(resolved.url);
    return resolved;
  },
});
process.on("exit", () => writeFileSync(process.env.MODULE_RECORD_FILE, [...seen].join("\n") + "\n"));
