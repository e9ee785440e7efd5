import { pino } from "pino";

import { loadConfig, loadDotEnv } from "../config.js";
import { createDatabaseIfMissing } from "../db/admin.js";
import { createDatabase, isDatabaseUnavailable, redactedUrl } from "../db/database.js";
import { migrateToLatest } from "../db/migrator.js";
import { createLogger } from "../logger.js";

/** Why a connection failed, in a few words: "connection refused", not a stack trace. */
function reason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const known: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ETIMEDOUT: "connection timed out",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "host not found",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
    ECONNRESET: "connection reset",
  };
  if (typeof code === "string" && code in known) return known[code] ?? code;
  if (error instanceof AggregateError && error.errors.length > 0) return reason(error.errors[0]);
  if (error instanceof Error && /timeout|timed out/i.test(error.message)) {
    return "connection timed out";
  }
  const message = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
  return message.charAt(0).toLowerCase() + message.slice(1);
}

loadDotEnv();
const config = loadConfig();
// Synchronous: a short-lived command whose last line, on failure, must be the error below.
const logger = createLogger(config, pino.destination({ dest: 1, sync: true }));

async function migrate(): Promise<void> {
  const db = createDatabase(config);
  try {
    await migrateToLatest(db, logger);
  } finally {
    await db.destroy();
  }
}

try {
  // The server's maintenance database is asked first, never the missing database itself: a
  // pooler in front may back off from a database whose login failed, long after it exists.
  // A server that does not answer fails here, after one connect timeout.
  if (!(await createDatabaseIfMissing(config.databaseUrl, config.connectTimeoutMs))) {
    logger.warn("could not create the database; migrating anyway");
  }
  await migrate();
} catch (error) {
  if (!isDatabaseUnavailable(error)) throw error;
  // One line for whoever runs `make run`: what is unreachable and why, never the password.
  process.stderr.write(
    `error: database unreachable at ${redactedUrl(config.databaseUrl)}: ${reason(error)}\n`,
  );
  process.exit(1);
}
