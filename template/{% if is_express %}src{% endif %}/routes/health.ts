import type { Config } from "../config.js";
import { databaseAnswers } from "../db/database.js";
import { Health } from "../schemas.js";
import { DocumentedRouter } from "./documented-router.js";

/** Readiness answers within this time, connect included, even when the database hangs. */
export const READINESS_TIMEOUT_MS = 2000;

export function healthRouter(config: Config): DocumentedRouter {
  const routes = new DocumentedRouter("health");
  // Liveness: touches nothing outside the process.
  routes.resource("/healthz", {
    get: {
      summary: "Liveness",
      responses: { 200: ["Alive", Health] },
      handlers: [
        (_req, res) => {
          res.json({ status: "ok" });
        },
      ],
    },
  });
  // Readiness: "does the database answer?", on a connection outside the pool, so that a
  // saturated pool (load) does not take the instance out of rotation.
  routes.resource("/readyz", {
    get: {
      summary: "Readiness: the database answers",
      responses: { 200: ["Ready", Health], 503: ["Not ready", Health] },
      handlers: [
        async (_req, res) => {
          const database = (await databaseAnswers(config, READINESS_TIMEOUT_MS)) ? "ok" : "error";
          res
            .status(database === "ok" ? 200 : 503)
            .json({ status: database === "ok" ? "ok" : "unavailable", checks: { database } });
        },
      ],
    },
  });
  return routes;
}
