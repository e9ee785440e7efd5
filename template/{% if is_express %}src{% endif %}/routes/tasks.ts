import { type Request, Router } from "express";

import { acceptsJson } from "../middleware/body.js";
import { authenticate, callerId } from "../middleware/authenticate.js";
import { HttpProblem } from "../problems.js";
import {
  changesSomething,
  IdempotencyKey,
  TaskCreate,
  TaskParams,
  TaskQuery,
  TaskUpdate,
} from "../schemas.js";
import type { Tokens } from "../security/tokens.js";
import type { TaskEvents, TaskService } from "../services/tasks.js";
import { parse } from "../validation.js";
import { resource } from "./resource.js";

/** The request's `Idempotency-Key`, when it has one; 422 when it is not a valid key. */
function idempotencyKey(req: Request): string | undefined {
  const key = req.get("idempotency-key");
  if (key === undefined || IdempotencyKey.safeParse(key).success) return key;
  throw new HttpProblem(422, "The request has invalid fields", {}, [
    { field: "Idempotency-Key", message: "must be 1 to 255 printable ASCII characters" },
  ]);
}

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
        const key = idempotencyKey(req);
        const input = parse(TaskCreate, req.body);
        if (key === undefined) {
          const task = await tasks.create(callerId(res), input);
          res.status(201).location(`${req.baseUrl}/${task.id}`).json(task);
          events.publish("task.created", task); // the response is written: this never delays it
          return;
        }
        const { response, replayed } = await tasks.createOnce(
          callerId(res),
          key,
          input,
          (task) => `${req.baseUrl}/${task.id}`,
        );
        if (replayed) res.set("Idempotent-Replayed", "true");
        res.status(response.status).location(response.location).json(response.body);
        if (!replayed) events.publish("task.created", response.body);
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
