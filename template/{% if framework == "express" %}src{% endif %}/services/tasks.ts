import { EventEmitter } from "node:events";

import { timestamp, toIso, type Database } from "../db/database.js";
import type { TaskRow } from "../db/schema.js";
import { notFound } from "../problems.js";
import type { Task, TaskCreate, TaskPage, TaskQuery, TaskUpdate } from "../schemas.js";

export interface TaskEvent {
  type: "task.created" | "task.updated" | "task.deleted";
  task: Task;
}

/** Task changes, delivered after the response is on its way (logging, WebSocket pushes). */
export class TaskEvents extends EventEmitter<{ event: [TaskEvent] }> {
  publish(event: TaskEvent): void {
    // setImmediate keeps the request context (its id in every log line) and never delays
    // the response: listeners run once the current request's I/O is done.
    setImmediate(() => this.emit("event", event));
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
  constructor(
    private readonly db: Database,
    private readonly events: TaskEvents,
  ) {}

  async create(ownerId: number, input: TaskCreate): Promise<Task> {
    const now = timestamp(this.db, new Date());
    const values = { ...input, owner_id: ownerId, created_at: now, updated_at: now };
    const insert = this.db.insertInto("tasks").values(values);
    const id = this.db.getExecutor().adapter.supportsReturning
      ? (await insert.returning("id").executeTakeFirstOrThrow()).id
      : Number((await insert.executeTakeFirstOrThrow()).insertId);
    const task = toTask({ ...values, id });
    this.events.publish({ type: "task.created", task });
    return task;
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
    const { title, description, status } = changes;
    if (title === undefined && description === undefined && status === undefined) {
      return this.get(ownerId, id);
    }
    // Kysely leaves out the fields that are undefined.
    const { numUpdatedRows } = await this.db
      .updateTable("tasks")
      .set({ title, description, status, updated_at: timestamp(this.db, new Date()) })
      .where("id", "=", id)
      .where("owner_id", "=", ownerId)
      .executeTakeFirst();
    if (numUpdatedRows === 0n) throw taskNotFound(id);
    const task = await this.get(ownerId, id);
    this.events.publish({ type: "task.updated", task });
    return task;
  }

  async delete(ownerId: number, id: number): Promise<void> {
    const task = await this.get(ownerId, id);
    await this.db
      .deleteFrom("tasks")
      .where("id", "=", id)
      .where("owner_id", "=", ownerId)
      .execute();
    this.events.publish({ type: "task.deleted", task });
  }
}
