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

/** The tables as Kysely sees them; migrations in ./migrations create them. */
export interface Schema {
  users: UsersTable;
  tasks: TasksTable;
}

export type UserRow = Selectable<UsersTable>;
export type TaskRow = Selectable<TasksTable>;
