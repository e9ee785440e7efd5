import { decodeJwt } from "jose";
import { z } from "zod";

import { callerGone } from "../errors.js";
import type { TaskServiceServer } from "../gen/tasks/v1/tasks.js";
import { INT4_MAX, TaskCreate, TaskQuery, TaskUpdate } from "../schemas.js";
import type { TaskService } from "../services/tasks.js";
import type { UserService } from "../services/users.js";
import {
  type CallOptions,
  invalidArgument,
  parseArgument,
  serverStreaming,
  unary,
} from "./calls.js";
import { fromProtoStatus, toProtoTask } from "./convert.js";
import type { Watchers } from "./watchers.js";

/** int64 on the wire, 1..2147483647 in the table. */
const ID_RANGE = `must be between 1 and ${INT4_MAX}`;
const TaskId = z.object({
  id: z.bigint().min(1n, ID_RANGE).max(BigInt(INT4_MAX), ID_RANGE).transform(Number),
});

/** The fields UpdateTask's mask may name: PATCH's. */
const MASKABLE = new Set(["title", "description", "status"]);

/**
 * tasks.v1.TaskService: each call validated with HTTP's schemas, then the same TaskService as
 * the routes (same rules, same events). A proto field the client left unset reads as its zero
 * value, which the schemas judge as HTTP would judge an empty field.
 */
export function taskServiceImplementation(
  deps: { tasks: TaskService; users: UserService; watchers: Watchers },
  options: CallOptions,
): TaskServiceServer {
  const { tasks, users, watchers } = deps;
  return {
    getTask: unary(options, async (request, { userId }) => {
      const { id } = parseArgument(TaskId, request);
      return { task: toProtoTask(await tasks.get(userId, id)) };
    }),

    listTasks: unary(options, async (request, { userId }) => {
      // HTTP's query parameters, as HTTP would get them: 0 is the default limit, UNSPECIFIED no
      // filter.
      const query = parseArgument(TaskQuery, {
        limit: String(request.limit || 20),
        offset: String(request.offset),
        status: request.status ? (fromProtoStatus(request.status) ?? String(request.status)) : "",
      });
      const page = await tasks.list(userId, query);
      return {
        tasks: page.items.map(toProtoTask),
        total: BigInt(page.total),
        limit: page.limit,
        offset: page.offset,
      };
    }),

    createTask: unary(options, async (request, { userId }) => {
      const input = parseArgument(TaskCreate, {
        title: request.title,
        description: request.description ?? null,
      });
      return { task: toProtoTask(await tasks.create(userId, input)) };
    }),

    updateTask: unary(options, async (request, { userId }) => {
      const { id } = parseArgument(TaskId, request);
      // PATCH's body: the fields the mask names, unset ones as their zero values (a title of
      // "" is refused as HTTP refuses it; an unset description is null: cleared).
      const patch: Record<string, unknown> = {};
      for (const path of request.updateMask ?? []) {
        if (!MASKABLE.has(path)) {
          throw invalidArgument(
            `update_mask: unknown path "${path}"; use title, description, status`,
          );
        }
        const given = request.task;
        if (path === "title") patch.title = given?.title ?? "";
        else if (path === "description") patch.description = given?.description ?? null;
        else patch.status = given?.status ? fromProtoStatus(given.status) : null;
      }
      const changes = parseArgument(TaskUpdate, patch);
      return { task: toProtoTask(await tasks.update(userId, id, changes)) };
    }),

    deleteTask: unary(options, async (request, { userId }) => {
      const { id } = parseArgument(TaskId, request);
      await tasks.delete(userId, id);
      return {};
    }),

    watchTasks: serverStreaming(options, async (call, { userId, token }, stream) => {
      if (!(await users.find(userId))) throw callerGone();
      // userIdFrom verified the signature and required `exp`.
      const { exp } = decodeJwt(token) as { exp: number };
      watchers.watch(userId, exp * 1000, call, stream);
    }),
  };
}
