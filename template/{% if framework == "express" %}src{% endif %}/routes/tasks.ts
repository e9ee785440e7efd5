import { Router } from "express";

import { acceptsJson } from "../middleware/body.js";
import { authenticate, callerId } from "../middleware/authenticate.js";
import { TaskCreate, TaskParams, TaskQuery, TaskUpdate } from "../schemas.js";
import type { Tokens } from "../security/tokens.js";
import type { TaskService } from "../services/tasks.js";
import { parse } from "../validation.js";
import { resource } from "./resource.js";

export function tasksRouter(deps: { tasks: TaskService; tokens: Tokens }): Router {
  const { tasks, tokens } = deps;
  const router = Router();
  const caller = authenticate(tokens);

  resource(router, "/", {
    get: [
      caller,
      async (req, res) => {
        res.json(await tasks.list(callerId(res), parse(TaskQuery, req.query)));
      },
    ],
    post: [
      caller,
      acceptsJson,
      async (req, res) => {
        const task = await tasks.create(callerId(res), parse(TaskCreate, req.body));
        res.status(201).location(`${req.baseUrl}/${task.id}`).json(task);
      },
    ],
  });

  resource(router, "/:taskId", {
    get: [
      caller,
      async (req, res) => {
        const { taskId } = parse(TaskParams, req.params);
        res.json(await tasks.get(callerId(res), taskId));
      },
    ],
    patch: [
      caller,
      acceptsJson,
      async (req, res) => {
        const { taskId } = parse(TaskParams, req.params);
        res.json(await tasks.update(callerId(res), taskId, parse(TaskUpdate, req.body)));
      },
    ],
    delete: [
      caller,
      async (req, res) => {
        const { taskId } = parse(TaskParams, req.params);
        await tasks.delete(callerId(res), taskId);
        res.status(204).end();
      },
    ],
  });

  return router;
}
