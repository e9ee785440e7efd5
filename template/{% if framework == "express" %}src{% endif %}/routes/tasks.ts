import { Router } from "express";

import { acceptsJson } from "../middleware/body.js";
import { authenticate, callerId } from "../middleware/authenticate.js";
import { changesSomething, TaskCreate, TaskParams, TaskQuery, TaskUpdate } from "../schemas.js";
import type { Tokens } from "../security/tokens.js";
import type { TaskEvents, TaskService } from "../services/tasks.js";
import { parse } from "../validation.js";
import { resource } from "./resource.js";

export function tasksRouter(deps: {
  tasks: TaskService;
  events: TaskEvents;
  tokens: Tokens;
}): Router {
  const { tasks, events, tokens } = deps;
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
        events.publish("task.created", task); // the response is written: this never delays it
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
        const changes = parse(TaskUpdate, req.body);
        const task = await tasks.update(callerId(res), taskId, changes);
        res.json(task);
        if (changesSomething(changes)) events.publish("task.updated", task);
      },
    ],
    delete: [
      caller,
      async (req, res) => {
        const { taskId } = parse(TaskParams, req.params);
        const task = await tasks.delete(callerId(res), taskId);
        res.status(204).end();
        events.publish("task.deleted", task);
      },
    ],
  });

  return router;
}
