/**
 * The V8 memory flags of bin/baton-datadog.js (heap growth, --liftoff-only, no Maglev, size over speed), which the
 * launcher leaves to the program to set: V8 refuses the code cache of Node's built-in modules once one flag has
 * changed, so the later they are set, the more of the start runs on cached built-ins. The program sets them before
 * it loads its heavy parts; the one-shot sync once its first request is on its way (cli-sync.ts).
 */
const HOOK = Symbol.for("baton-datadog.launcher-flags");

/**
 * Sets the launcher's flags, once; nothing when the process was not started by the launcher (the Lambda handler
 * export, an embedding program, the tests' in-process CLI) or runs only help.
 */
export function setLauncherFlags(): void {
  const set = (globalThis as { [HOOK]?: unknown })[HOOK];
  if (typeof set === "function") set();
}
