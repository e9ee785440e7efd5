import { z } from "zod";

import { TASK_STATUSES } from "./db/schema.js";

/** No client means to send NUL in text, and some databases cannot store it. A pattern, not a
 * refinement, so that the OpenAPI document says so too. */
// eslint-disable-next-line no-control-regex -- NUL is exactly what it refuses
const WITHOUT_NUL = /^[^\u0000]*$/;
const NUL_MESSAGE = "must not contain NUL characters";
export const INT4_MAX = 2_147_483_647;

/** Query and path integers, documented as what they are rather than as the strings they arrive as. */
export const integerParameters = z.registry<{ minimum: number; maximum: number }>();

/** A query or path value of decimal digits only (no "1e3", "0x10" or " 1"), within bounds. */
function wholeNumber(minimum: number, maximum: number) {
  const schema = z
    .string()
    .regex(/^\d{1,16}$/, "must be a whole number")
    .transform(Number)
    .pipe(z.int().min(minimum).max(maximum));
  integerParameters.add(schema, { minimum, maximum });
  return schema;
}

// Requests

// Strict objects: a field the schema does not know is a mistake worth a 422, never ignored.

export const SignUp = z.strictObject({
  username: z
    .string()
    .min(3)
    .max(64)
    .regex(/^[A-Za-z0-9_.-]+$/, "may contain letters, digits, '_', '.' and '-' only"),
  password: z.string().min(8).max(128),
});
export type SignUp = z.infer<typeof SignUp>;

export const Credentials = z.strictObject({
  username: z.string().min(1).max(64).regex(WITHOUT_NUL, NUL_MESSAGE),
  password: z.string().min(1).max(128),
});
/** OAuth2's password flow (Swagger UI's Authorize button) sends these beside the credentials. */
export const CredentialsForm = Credentials.extend({
  grant_type: z.literal("password").optional(),
  scope: z.string().max(1000).optional(),
  client_id: z.string().max(255).optional(),
  client_secret: z.string().max(255).optional(),
});
export type Credentials = z.infer<typeof Credentials>;

export const TaskStatus = z.enum(TASK_STATUSES);
const Title = z.string().min(1).max(200).regex(WITHOUT_NUL, NUL_MESSAGE);
const Description = z.string().max(10_000).regex(WITHOUT_NUL, NUL_MESSAGE).nullable();

// A new task is always pending: its status changes through PATCH only.
export const TaskCreate = z.strictObject({
  title: Title,
  description: Description.default(null),
});
export type TaskCreate = z.infer<typeof TaskCreate>;

/**
 * An `Idempotency-Key`: 1 to 255 printable ASCII characters. HTTP trims a header value, so
 * one cannot start or end with a space.
 */
export const IdempotencyKey = z
  .string()
  .regex(
    /^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$/,
    "must be 1 to 255 printable ASCII characters",
  );

export const TaskUpdate = z.strictObject({
  title: Title.optional(),
  description: Description.optional(),
  status: TaskStatus.optional(),
});
export type TaskUpdate = z.infer<typeof TaskUpdate>;

export const TaskQuery = z.object({
  limit: wholeNumber(1, 100).default(20),
  offset: wholeNumber(0, INT4_MAX).default(0),
  // `?status=` (empty) means no filter.
  status: z
    .union([TaskStatus, z.literal("")])
    .optional()
    .transform((status) => (status === "" ? undefined : status)),
});
export type TaskQuery = z.infer<typeof TaskQuery>;

export const TaskParams = z.object({
  taskId: wholeNumber(1, INT4_MAX),
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
