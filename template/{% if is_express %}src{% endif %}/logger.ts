import { pino, type Logger } from "pino";
import pretty from "pino-pretty";

import type { Config, LogLevel } from "./config.js";
import { requestContext } from "./request-context.js";

export type { Logger } from "pino";

// The contract names levels as Python does; pino has its own names for two of them.
const PINO_LEVELS: Record<LogLevel, pino.LevelWithSilent> = {
  debug: "debug",
  info: "info",
  warning: "warn",
  error: "error",
  critical: "fatal",
};
const CONTRACT_LEVELS: Partial<Record<string, LogLevel>> = { warn: "warning", fatal: "critical" };

export function createLogger(
  config: Pick<Config, "logLevel" | "logFormat">,
  // Asynchronous writes to stdout, in call order: a busy service batches its lines; pino
  // flushes what is left on exit.
  destination: pino.DestinationStream = pino.destination({ dest: 1, sync: false }),
): Logger {
  const options: pino.LoggerOptions = {
    level: PINO_LEVELS[config.logLevel],
    base: undefined,
    // Every line written while a request is handled carries its id.
    mixin: () => {
      const context = requestContext.getStore();
      return context ? { request_id: context.requestId } : {};
    },
    // Nothing here logs bodies or headers; this keeps a careless `logger.info(credentials)` safe.
    redact: { paths: ["password", "authorization"], remove: true },
  };
  if (config.logFormat === "console") {
    return pino(options, pretty({ destination, ignore: "pid,hostname", sync: true }));
  }
  return pino(
    {
      ...options,
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: CONTRACT_LEVELS[label] ?? label }) },
    },
    destination,
  );
}
