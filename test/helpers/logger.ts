import pino, { type Logger } from "pino";

/** A logger that writes nothing (tests that inspect logs build their own). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
