/**
 * The pino logger every part of the SDK uses. It writes synchronously (no worker threads, nothing lost when
 * the process exits right after a line) to stderr or to an injected sink, in JSON or a human console format,
 * and scrubs every line of registered secret values after pino has censored the known key names.
 */
import { createRequire } from "node:module";
import { pino, stdSerializers } from "pino";
import type { Logger } from "pino";
import type { prettyFactory as PrettyFactory } from "pino-pretty";
import { redactText, registerSecret, REDACTED } from "./secrets.ts";
import { pinoRedactPaths, redactObject } from "./sensitive-keys.ts";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["json", "console"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Anything that accepts whole lines of text synchronously (process.stderr, a test buffer, the CLI status line). */
export interface LineSink {
  write(text: string): unknown;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go; process.stderr by default. */
  destination?: LineSink;
  /** Secret values known up front (config secrets); they join the process-wide registry. */
  secrets?: Iterable<string | undefined>;
  /** Colours in console format; defaults to whether the destination is a TTY. */
  colorize?: boolean;
  /** Fields on every line, e.g. { connector: "datadog" }. */
  base?: Record<string, unknown>;
}

/** The scrubbing sink pino writes to: every JSON line is cleaned before it is formatted or written. */
function scrubbingSink(format: LogFormat, out: LineSink, colorize: boolean): LineSink {
  if (format === "json") {
    return { write: (line: string) => out.write(redactText(line)) };
  }
  // pino-pretty (30 modules) loads only for the console format: JSON logs, the image's default, never need it.
  const { prettyFactory } = createRequire(import.meta.url)("pino-pretty") as { prettyFactory: typeof PrettyFactory };
  const prettify = prettyFactory({
    colorize,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname",
    singleLine: false,
  });
  // Scrub before (JSON-escaped forms) and after (pino-pretty unescapes strings) formatting.
  return { write: (line: string) => out.write(redactText(prettify(redactText(line)))) };
}

/** pino's error serializer returns an object with its own prototype; copy it so redactObject walks it. */
function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return redactObject(err);
  return redactObject({ ...stdSerializers.err(err) });
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? "json";
  const out = options.destination ?? process.stderr;
  for (const secret of options.secrets ?? []) registerSecret(secret);
  const colorize = options.colorize ?? (out as { isTTY?: boolean }).isTTY === true;
  return pino(
    {
      level: options.level ?? "info",
      base: options.base ?? null,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: pinoRedactPaths(), censor: REDACTED },
      serializers: { err: serializeError, error: serializeError },
      formatters: {
        // JSON consumers expect level names; pino-pretty needs the numbers, so only the JSON format relabels.
        ...(format === "json" ? { level: (label: string) => ({ level: label }) } : {}),
        log: (object: Record<string, unknown>) => redactObject(object, { keepErrors: true }),
      },
    },
    scrubbingSink(format, out, colorize) as pino.DestinationStream,
  );
}

export type { Logger };
