import { createApp } from "./app.js";
import { loadConfig, loadDotEnv } from "./config.js";
import { createDatabase } from "./db/database.js";
import { listen } from "./lifecycle.js";
import { createLogger } from "./logger.js";

loadDotEnv();
const config = loadConfig();
const logger = createLogger(config);
const db = createDatabase(config);
const running = await listen(createApp({ config, db, logger }), { ...config, logger });
logger.info({ url: `http://${config.host}:${running.port}` }, "listening");

/** Past the grace period and this margin, something hangs (a database that stopped answering). */
const HARD_DEADLINE_MARGIN_MS = 5000;

async function shutdown(signal: NodeJS.Signals): Promise<void> {
  logger.info({ signal, grace_s: config.shutdownGraceMs / 1000 }, "shutting down");
  setTimeout(() => {
    logger.error("shutdown did not finish in time");
    process.exit(1);
  }, config.shutdownGraceMs + HARD_DEADLINE_MARGIN_MS).unref();
  await running.stop();
  await db.destroy();
  logger.info("stopped");
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    shutdown(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.fatal({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  });
}
