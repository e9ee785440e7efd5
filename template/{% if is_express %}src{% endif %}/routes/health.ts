import { Router } from "express";

import type { Config } from "../config.js";
import { databaseAnswers } from "../db/database.js";
import { resource } from "./resource.js";

/** Readiness answers within this time, connect included, even when the database hangs. */
export const READINESS_TIMEOUT_MS = 2000;

export function healthRouter(config: Config): Router {
  const router = Router();
  // Liveness: touches nothing outside the process.
  resource(router, "/healthz", {
    get: [
      (_req, res) => {
        res.json({ status: "ok" });
      },
    ],
  });
  // Readiness: "does the database answer?", on a connection outside the pool, so that a
  // saturated pool (load) does not take the instance out of rotation.
  resource(router, "/readyz", {
    get: [
      async (_req, res) => {
        const database = (await databaseAnswers(config, READINESS_TIMEOUT_MS)) ? "ok" : "error";
        res
          .status(database === "ok" ? 200 : 503)
          .json({ status: database === "ok" ? "ok" : "unavailable", checks: { database } });
      },
    ],
  });
  return router;
}
