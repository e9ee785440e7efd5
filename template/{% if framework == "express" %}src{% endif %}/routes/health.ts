import { Router } from "express";
import { sql } from "kysely";

import type { Database } from "../db/database.js";
import { resource } from "./resource.js";

/** Readiness answers within this time even when the database hangs. */
export const READINESS_TIMEOUT_MS = 2000;

async function databaseAnswers(db: Database): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => {
      resolve(false);
    }, READINESS_TIMEOUT_MS);
  });
  try {
    return await Promise.race([sql`SELECT 1`.execute(db).then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export function healthRouter(db: Database): Router {
  const router = Router();
  // Liveness: touches nothing outside the process.
  resource(router, "/healthz", {
    get: [
      (_req, res) => {
        res.json({ status: "ok" });
      },
    ],
  });
  resource(router, "/readyz", {
    get: [
      async (_req, res) => {
        const database = (await databaseAnswers(db)) ? "ok" : "error";
        res
          .status(database === "ok" ? 200 : 503)
          .json({ status: database === "ok" ? "ok" : "unavailable", checks: { database } });
      },
    ],
  });
  return router;
}
