import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";

import {
  insertReturningId,
  isForeignKeyViolation,
  isUniqueViolation,
  timestamp,
  toIso,
  type Database,
} from "../db/database.js";
import type { TaskRow } from "../db/schema.js";
import {
  callerGone,
  type DomainError,
  IdempotencyKeyReusedError,
  NotFoundError,
} from "../errors.js";
import {
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
 * Task changes, for work that follows them (logging, pushes to clients). The task service
 * publishes each change once its transaction has committed, whoever asked for it, on the next
 * tick: its caller has carried on by then (a route has written its response, so listeners never
 * delay it), and listeners run in the caller's context (the request's id in their log lines). A
 * listener that throws is reported as an "error" event; the change it follows is done.
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

/** How long a key is remembered. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

async function insertTask(db: Database, ownerId: number, input: TaskCreate): Promise<Task> {
  const now = timestamp(db, new Date());
  const values = {
    ...input,
    status: "pending" as const,
    owner_id: ownerId,
    created_at: now,
    updated_at: now,
  };
  const id = await insertReturningId(db, db.insertInto("tasks").values(values));
  return toTask({ ...values, id });
}

/**
 * Tasks, each owner's own: another owner's task does not exist. No HTTP here: refusals are
 * domain errors. Writes run in a transaction, so one that fails (a timeout, a lost connection)
 * leaves nothing behind. The owner is known to exist without a query on the happy path: a
 * create for a deleted user fails its foreign key, and only a read that found nothing asks
 * whether the user is still there.
 */
export class TaskService {
  constructor(
    private readonly db: Database,
    private readonly events?: TaskEvents,
  ) {}

  async create(ownerId: number, input: TaskCreate): Promise<Task> {
    let task: Task;
    try {
      task = await this.db.transaction().execute((trx) => insertTask(trx, ownerId, input));
    } catch (error) {
      if (isForeignKeyViolation(error)) throw callerGone();
      throw error;
    }
    this.announce("task.created", task);
    return task;
  }

  /**
   * Creates once per `key` and owner: the first call stores what `record` makes of the new task
   * (the caller's response, opaque here) in the same transaction; a later call with the same
   * input gets it back (`replayed`), one with other input an IdempotencyKeyReusedError. Of
   * concurrent calls, the ones that lose the race on the key replay too.
   */
  async createOnce<Recorded>(
    ownerId: number,
    key: string,
    input: TaskCreate,
    record: (task: Task) => Recorded,
  ): Promise<{ recorded: Recorded; replayed: boolean }> {
    const requestHash = createHash("sha256")
      .update(JSON.stringify([input.title, input.description]))
      .digest("hex");
    for (let attempt = 1; ; attempt++) {
      try {
        const { created, ...outcome } = await this.db.transaction().execute(async (trx) => {
          const stored = await trx
            .selectFrom("idempotency_keys")
            .select(["request_hash", "response", "created_at"])
            .where("owner_id", "=", ownerId)
            .where("key", "=", key)
            .executeTakeFirst();
          const expired =
            stored && Date.parse(toIso(stored.created_at)) < Date.now() - IDEMPOTENCY_TTL_MS;
          if (stored && !expired) {
            if (stored.request_hash !== requestHash) throw new IdempotencyKeyReusedError();
            return {
              recorded: JSON.parse(stored.response) as Recorded,
              replayed: true,
              created: undefined,
            };
          }
          if (stored) {
            await trx
              .deleteFrom("idempotency_keys")
              .where("owner_id", "=", ownerId)
              .where("key", "=", key)
              .execute();
          }
          const task = await insertTask(trx, ownerId, input);
          const recorded = record(task);
          await trx
            .insertInto("idempotency_keys")
            .values({
              owner_id: ownerId,
              key,
              request_hash: requestHash,
              response: JSON.stringify(recorded),
              created_at: timestamp(trx, new Date()),
            })
            .execute();
          return { recorded, replayed: false, created: task };
        });
        if (created) this.announce("task.created", created);
        return outcome;
      } catch (error) {
        if (isForeignKeyViolation(error)) throw callerGone();
        // Another request with this key committed first: read what it stored, and replay it.
        if (isUniqueViolation(error) && attempt < 3) continue;
        throw error;
      }
    }
  }

  async get(ownerId: number, id: number): Promise<Task> {
    return this.find(this.db, ownerId, id);
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
    if (Number(total) === 0 && !(await this.ownerExists(ownerId))) throw callerGone();
    return { items: rows.map(toTask), total: Number(total), limit, offset };
  }

  /**
   * An update that names no field (`{}`, an empty mask) changes nothing but `updated_at`, as on
   * the contract's other frameworks, and is announced too.
   */
  async update(ownerId: number, id: number, changes: TaskUpdate): Promise<Task> {
    const task = await this.write(ownerId, id, changes);
    this.announce("task.updated", task);
    return task;
  }

  /** The task as it was before it was deleted. */
  async delete(ownerId: number, id: number): Promise<Task> {
    const task = await this.db.transaction().execute(async (trx) => {
      const found = await this.find(trx, ownerId, id);
      await trx.deleteFrom("tasks").where("id", "=", id).where("owner_id", "=", ownerId).execute();
      return found;
    });
    this.announce("task.deleted", task);
    return task;
  }

  /** A committed change, to the listeners: on the next tick, once the caller has carried on. */
  private announce(type: TaskEvent["type"], task: Task): void {
    const { events } = this;
    if (!events) return;
    process.nextTick(() => {
      events.publish(type, task);
    });
  }

  private async write(ownerId: number, id: number, changes: TaskUpdate): Promise<Task> {
    const { title, description, status } = changes;
    return this.db.transaction().execute(async (trx) => {
      // Kysely leaves out the fields that are undefined.
      const { numUpdatedRows } = await trx
        .updateTable("tasks")
        .set({ title, description, status, updated_at: timestamp(trx, new Date()) })
        .where("id", "=", id)
        .where("owner_id", "=", ownerId)
        .executeTakeFirst();
      if (numUpdatedRows === 0n) throw await this.notFound(trx, ownerId, id);
      return this.find(trx, ownerId, id);
    });
  }

  private async find(db: Database, ownerId: number, id: number): Promise<Task> {
    const row = await db
      .selectFrom("tasks")
      .selectAll()
      .where("id", "=", id)
      .where("owner_id", "=", ownerId)
      .executeTakeFirst();
    if (!row) throw await this.notFound(db, ownerId, id);
    return toTask(row);
  }

  /** A task the caller does not have, unless the caller is gone altogether. */
  private async notFound(db: Database, ownerId: number, id: number): Promise<DomainError> {
    return (await this.ownerExists(ownerId, db))
      ? new NotFoundError(`Task ${id} not found`)
      : callerGone();
  }

  private async ownerExists(ownerId: number, db: Database = this.db): Promise<boolean> {
    const row = await db
      .selectFrom("users")
      .select("id")
      .where("id", "=", ownerId)
      .executeTakeFirst();
    return row !== undefined;
  }
}
