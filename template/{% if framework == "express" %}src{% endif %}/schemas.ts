import { z } from "zod";

import { TASK_STATUSES } from "./db/schema.js";

/** No client means to send NUL in text, and some databases cannot store it. */
const withoutNul = (text: string) => !text.includes("\u0000");
const NUL_MESSAGE = "must not contain NUL characters";
const INT4_MAX = 2_147_483_647;

/** A query or path value of decimal digits only (no "1e3", "0x10" or " 1"), as a number. */
const wholeNumber = z
  .string()
  .regex(/^\d{1,16}$/, "must be a whole number")
  .transform(Number)
  .pipe(z.int());

// Requests

export const SignUp = z.object({
  username: z
    .string()
    .min(3)
    .max(64)
    .regex(/^[A-Za-z0-9_.-]+$/, "may contain letters, digits, '_', '.' and '-' only"),
  password: z.string().min(8).max(128),
});
export type SignUp = z.infer<typeof SignUp>;

export const Credentials = z.object({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(128),
});
export type Credentials = z.infer<typeof Credentials>;

export const TaskStatus = z.enum(TASK_STATUSES);
const Title = z.string().min(1).max(200).refine(withoutNul, NUL_MESSAGE);
const Description = z.string().max(10_000).refine(withoutNul, NUL_MESSAGE).nullable();

export const TaskCreate = z.object({
  title: Title,
  description: Description.default(null),
  status: TaskStatus.default("pending"),
});
export type TaskCreate = z.infer<typeof TaskCreate>;

export const TaskUpdate = z.object({
  title: Title.optional(),
  description: Description.optional(),
  status: TaskStatus.optional(),
});
export type TaskUpdate = z.infer<typeof TaskUpdate>;

/** Whether an update changes anything at all (`{}` is a valid PATCH that changes nothing). */
export const changesSomething = ({ title, description, status }: TaskUpdate) =>
  title !== undefined || description !== undefined || status !== undefined;

export const TaskQuery = z.object({
  limit: wholeNumber.pipe(z.int().min(1).max(100)).default(20),
  offset: wholeNumber.default(0),
  // `?status=` (empty) means no filter.
  status: z
    .union([TaskStatus, z.literal("")])
    .optional()
    .transform((status) => (status === "" ? undefined : status)),
});
export type TaskQuery = z.infer<typeof TaskQuery>;

export const TaskParams = z.object({
  taskId: wholeNumber.pipe(z.int().min(1).max(INT4_MAX)),
});

// Responses (documented in OpenAPI; the services build them)

const Timestamp = z.iso.datetime().describe("RFC 3339, UTC");

export const User = z.object({
  id: z.int(),
  username: z.string(),
  created_at: Timestamp,
});
export type User = z.infer<typeof User>;

export const Token = z.object({
  access_token: z.string(),
  token_type: z.literal("bearer"),
  expires_in: z.int().describe("seconds"),
});
export type Token = z.infer<typeof Token>;

export const Task = z.object({
  id: z.int(),
  title: z.string(),
  description: z.string().nullable(),
  status: TaskStatus,
  owner_id: z.int(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type Task = z.infer<typeof Task>;

export const TaskPage = z.object({
  items: z.array(Task),
  total: z.int(),
  limit: z.int(),
  offset: z.int(),
});
export type TaskPage = z.infer<typeof TaskPage>;

export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});

export const Health = z.object({
  status: z.enum(["ok", "unavailable"]),
  checks: z.record(z.string(), z.enum(["ok", "error"])).optional(),
});
