export { createLogger, LOG_LEVELS, LOG_FORMATS } from "./logger.ts";
export type { Logger, LoggerOptions, LogLevel, LogFormat, LineSink } from "./logger.ts";
export { registerSecret, redactText, containsSecret, clearSecretsForTests, registeredSecretCount, REDACTED } from "./secrets.ts";
export { redactObject, isSensitiveKey, SENSITIVE_KEYS } from "./sensitive-keys.ts";
