import { EventEmitter } from "node:events";

import { timestamp, toIso, type Database } from "../db/database.js";
import type { TaskRow } from "../db/schema.js";
import { notFound } from "../problems.js";
import {
  changesSomething,
  type Task,
  type TaskCreate,
  type TaskPage,
  type TaskQuery,
  type TaskUpdate,
} from "../schemas.js";

export interface TaskEvent {
  type: "task.created" | "task.updated" | "task.deleted";
  task: Task;
}

/**
 * Task changes, for work that follows them (logging, WebSocket pushes). Routes publish once
 * their response is written to the socket, so listeners never delay it; they run in the
 * request's context (its id in their log lines). A listener that throws is reported as an
 * "error" event; the request it follows is already answered.
 */
export class TaskEvents extends EventEmitter<{ event: [TaskEvent]; error: [unknown] }> {
  publish(type: TaskEvent["type"], task: Task): void {
    try {
      this.emit("event", { type, task });
    } catch (error) {
      this.emit("error", error);
    }
  }
}

export function toTask(row: TaskRow): Task {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    status: row.status,
    owner_id: row.owner_id,
    created_at: toIso(row.created_at),
    updated_at: toIso(row.updated_at),
  };
}

const taskNotFound = (id: number) => notFound(`Task ${id} not found`);

/** Tasks, each owner's own: another owner's task does not exist. No HTTP here. */
export class TaskService {
  constructor(private readonly db: Database) {}

  async create(ownerId: number, input: TaskCreate): Promise<Task> {
    const now = timestamp(this.db, new Date());
    const values = { ...input, owner_id: ownerId, created_at: now, updated_at: now };
    const insert = this.db.insertInto("tasks").values(values);
    const id = this.db.getExecutor().adapter.supportsReturning
      ? (await insert.returning("id").executeTakeFirstOrThrow()).id
      : Number((await insert.executeTakeFirstOrThrow()).insertId);
    return toTask({ ...values, id });
  }

  async get(ownerId: number, id: number): Promise<Task> {
    const row = await this.db
      .selectFrom("tasks")
      .selectAll()
      .where("id", "=", id)
      .where("owner_id", "=", ownerId)
      .executeTakeFirst();
    if (!row) throw taskNotFound(id);
    return toTask(row);
  }

  /** Newest first. */
  async list(ownerId: number, { limit, offset, status }: TaskQuery): Promise<TaskPage> {
    let owned = this.db.selectFrom("tasks").where("owner_id", "=", ownerId);
    if (status) owned = owned.where("status", "=", status);
    const rows = await owned
      .selectAll()
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(limit)
      .offset(offset)
      .execute();
    const { total } = await owned
      .select((eb) => eb.fn.countAll<number | string>().as("total"))
      .executeTakeFirstOrThrow();
    return { items: rows.map(toTask), total: Number(total), limit, offset };
  }

  async update(ownerId: number, id: number, changes: TaskUpdate): Promise<Task> {
    if (!changesSomething(changes)) return this.get(ownerId, id);
    const { title, description, status } = changes;
    // Kysely leaves out the fields that are undefined.
    const { numUpdatedRows } = await this.db
      .updateTable("tasks")
      .set({ title, description, status, updated_at: timestamp(this.db, new Date()) })
      .where("id", "=", id)
      .where("owner_id", "=", ownerId)
      .executeTakeFirst();
    if (numUpdatedRows === 0n) throw taskNotFound(id);
    return this.get(ownerId, id);
  }

  /** The task as it was before it was deleted. */
  async delete(ownerId: number, id: number): Promise<Task> {
    const task = await this.get(ownerId, id);
    await this.db
      .deleteFrom("tasks")
      .where("id", "=", id)
      .where("owner_id", "=", ownerId)
      .execute();
    return task;
  }
}
