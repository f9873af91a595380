/**
 * The hosted log level (HOSTED-LAMBDA.md §1.5): the config may set `log-level` and `log-level-debug-expires-at`
 * over the process settings; debug lapses to info once the expiry has passed. Re-evaluated on every invocation,
 * so debug mode ends on time without a reload.
 */
import type { Logger } from "pino";
import type { LogLevel } from "../log/logger.ts";

export interface LogLevelConfig {
  level: LogLevel;
  debugExpiresAt: Date | undefined;
}

export function effectiveLogLevel(cfg: LogLevelConfig, now: number = Date.now()): LogLevel {
  if (cfg.level === "debug" && cfg.debugExpiresAt !== undefined && now > cfg.debugExpiresAt.getTime()) return "info";
  return cfg.level;
}

/** Sets the logger's level when it differs (pino's level setter is not free). */
export function applyLogLevel(logger: Logger, cfg: LogLevelConfig, now: number = Date.now()): LogLevel {
  const level = effectiveLogLevel(cfg, now);
  if (logger.level !== level) logger.level = level;
  return level;
}
