import { loadConfig, loadDotEnv } from "../config.js";
import { createDatabaseIfMissing } from "../db/admin.js";
import { createDatabase } from "../db/database.js";
import { migrateToLatest } from "../db/migrator.js";
import { createLogger } from "../logger.js";

loadDotEnv();
const config = loadConfig();
const logger = createLogger(config);
if (!(await createDatabaseIfMissing(config.databaseUrl))) {
  logger.warn("could not check or create the database; migrating anyway");
}
const db = createDatabase(config);
try {
  await migrateToLatest(db, logger);
} finally {
  await db.destroy();
}
