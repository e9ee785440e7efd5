import type { ColumnType, Generated, Selectable } from "kysely";

/** Written as a Date (or ISO text on SQLite, see `timestamp`); read back as a Date or ISO text. */
export type Timestamp = ColumnType<Date | string>;

export const TASK_STATUSES = ["pending", "processing", "done"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export interface UsersTable {
  id: Generated<number>;
  username: string;
  password_hash: string;
  created_at: Timestamp;
}

export interface TasksTable {
  id: Generated<number>;
  owner_id: number;
  title: string;
  description: string | null;
  status: TaskStatus;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** A create's response, stored under the client's `Idempotency-Key` for replays. */
export interface IdempotencyKeysTable {
  owner_id: number;
  key: string;
  /** SHA-256 of the validated request, hex. */
  request_hash: string;
  /** The response as JSON: status, Location and body. */
  response: string;
  created_at: Timestamp;
}

/** The tables as Kysely sees them; migrations in ./migrations create them. */
export interface Schema {
  users: UsersTable;
  tasks: TasksTable;
  idempotency_keys: IdempotencyKeysTable;
}

export type UserRow = Selectable<UsersTable>;
export type TaskRow = Selectable<TasksTable>;
