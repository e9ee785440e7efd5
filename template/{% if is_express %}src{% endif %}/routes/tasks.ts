import type { Request } from "express";

import { authenticate, callerId } from "../middleware/authenticate.js";
import { acceptsJson } from "../middleware/body.js";
import { invalidFields } from "../problems.js";
import {
  IdempotencyKey,
  Task,
  TaskCreate,
  TaskPage,
  TaskParams,
  TaskQuery,
  TaskUpdate,
} from "../schemas.js";
import type { Tokens } from "../security/tokens.js";
import type { TaskService } from "../services/tasks.js";
import { parse } from "../validation.js";
import { DocumentedRouter } from "./documented-router.js";

/** The response to a create, as stored under its `Idempotency-Key` and replayed for it. */
interface Created {
  status: 201;
  location: string;
  body: Task;
}

/** The request's `Idempotency-Key`, when it has one; 422 when it is not a valid key. */
function idempotencyKey(req: Request): string | undefined {
  const key = req.get("idempotency-key");
  if (key === undefined || IdempotencyKey.safeParse(key).success) return key;
  throw invalidFields([
    { field: "Idempotency-Key", message: "must be 1 to 255 printable ASCII characters" },
  ]);
}

export function tasksRouter(deps: { tasks: TaskService; tokens: Tokens }): DocumentedRouter {
  const { tasks, tokens } = deps;
  const routes = new DocumentedRouter("tasks");
  const caller = authenticate(tokens);

  routes.resource("/", {
    get: {
      summary: "The caller's tasks, newest first",
      secured: true,
      query: TaskQuery,
      responses: { 200: ["A page", TaskPage] },
      handlers: [
        caller,
        async (req, res) => {
          res.json(await tasks.list(callerId(res), parse(TaskQuery, req.query)));
        },
      ],
    },
    post: {
      summary: "Create a task",
      secured: true,
      body: TaskCreate,
      idempotencyKey: "Retries with the same key and body create one task (kept 24 hours)",
      location: "Where the task is",
      responses: { 201: ["Created, or replayed for its Idempotency-Key", Task] },
      handlers: [
        caller,
        acceptsJson,
        async (req, res) => {
          const key = idempotencyKey(req);
          const input = parse(TaskCreate, req.body);
          if (key === undefined) {
            const task = await tasks.create(callerId(res), input);
            res.status(201).location(`${req.baseUrl}/${task.id}`).json(task);
            return;
          }
          const { recorded, replayed } = await tasks.createOnce(
            callerId(res),
            key,
            input,
            (task): Created => ({ status: 201, location: `${req.baseUrl}/${task.id}`, body: task }),
          );
          if (replayed) res.set("Idempotent-Replayed", "true");
          res.status(recorded.status).location(recorded.location).json(recorded.body);
        },
      ],
    },
  });

  routes.resource("/:taskId", {
    get: {
      summary: "A task",
      secured: true,
      path: TaskParams,
      responses: { 200: ["", Task], 404: ["Not found"] },
      handlers: [
        caller,
        async (req, res) => {
          const { taskId } = parse(TaskParams, req.params);
          res.json(await tasks.get(callerId(res), taskId));
        },
      ],
    },
    patch: {
      summary: "Change a task",
      secured: true,
      path: TaskParams,
      body: TaskUpdate,
      responses: { 200: ["", Task], 404: ["Not found"] },
      handlers: [
        caller,
        acceptsJson,
        async (req, res) => {
          const { taskId } = parse(TaskParams, req.params);
          res.json(await tasks.update(callerId(res), taskId, parse(TaskUpdate, req.body)));
        },
      ],
    },
    delete: {
      summary: "Delete a task",
      secured: true,
      path: TaskParams,
      responses: { 204: ["Deleted"], 404: ["Not found"] },
      handlers: [
        caller,
        async (req, res) => {
          const { taskId } = parse(TaskParams, req.params);
          await tasks.delete(callerId(res), taskId);
          res.status(204).end();
        },
      ],
    },
  });

  return routes;
}
