export { createLogger, LOG_LEVELS, LOG_FORMATS } from "./logger.ts";
export type { Logger, LoggerOptions, LogLevel, LogFormat, LineSink } from "./logger.ts";
export { registerSecret, redactText, redactValues, containsSecret, clearSecretsForTests, registeredSecretCount, REDACTED, MIN_SUBSTRING_SECRET_LENGTH } from "./secrets.ts";
export { redactObject, isSensitiveKey, SENSITIVE_KEYS } from "./sensitive-keys.ts";
