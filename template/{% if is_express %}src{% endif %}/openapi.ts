import { z } from "zod";

import * as schemas from "./schemas.js";

type Io = "input" | "output";
type JsonSchema = Record<string, unknown>;

/** Named schemas: requests as clients send them (input), responses as the service writes them. */
const COMPONENTS: Record<string, [z.ZodType, Io]> = {
  SignUp: [schemas.SignUp, "input"],
  Credentials: [schemas.Credentials, "input"],
  CredentialsForm: [schemas.CredentialsForm, "input"],
  TaskCreate: [schemas.TaskCreate, "input"],
  TaskUpdate: [schemas.TaskUpdate, "input"],
  User: [schemas.User, "output"],
  Token: [schemas.Token, "output"],
  Task: [schemas.Task, "output"],
  TaskPage: [schemas.TaskPage, "output"],
  Health: [schemas.Health, "output"],
  Problem: [schemas.Problem, "output"],
};
type Component = keyof typeof COMPONENTS;

interface Operation {
  summary: string;
  tag: string;
  secured?: boolean;
  body?: Component;
  form?: Component;
  idempotent?: boolean;
  query?: z.ZodObject;
  path?: z.ZodObject;
  responses: Record<number, [description: string, schema?: Component]>;
}

const TASK_ID = "/api/v1/tasks/{taskId}";

const OPERATIONS: Record<
  string,
  Partial<Record<"get" | "post" | "patch" | "delete", Operation>>
> = {
  "/healthz": {
    get: { summary: "Liveness", tag: "health", responses: { 200: ["Alive", "Health"] } },
  },
  "/readyz": {
    get: {
      summary: "Readiness: the database answers",
      tag: "health",
      responses: { 200: ["Ready", "Health"], 503: ["Not ready", "Health"] },
    },
  },
  "/api/v1/users": {
    post: {
      summary: "Sign up",
      tag: "users",
      body: "SignUp",
      responses: { 201: ["Created", "User"], 403: ["Sign-up closed"], 409: ["Taken"] },
    },
  },
  "/api/v1/users/me": {
    get: { summary: "The caller", tag: "users", secured: true, responses: { 200: ["", "User"] } },
  },
  "/api/v1/auth/token": {
    post: {
      summary: "Exchange credentials for an access token",
      tag: "auth",
      body: "Credentials",
      form: "CredentialsForm",
      responses: { 200: ["Token", "Token"], 401: ["Bad credentials"] },
    },
  },
  "/api/v1/tasks": {
    get: {
      summary: "The caller's tasks, newest first",
      tag: "tasks",
      secured: true,
      query: schemas.TaskQuery,
      responses: { 200: ["A page", "TaskPage"] },
    },
    post: {
      summary: "Create a task",
      tag: "tasks",
      secured: true,
      body: "TaskCreate",
      idempotent: true,
      responses: { 201: ["Created, or replayed for its Idempotency-Key", "Task"] },
    },
  },
  [TASK_ID]: {
    get: {
      summary: "A task",
      tag: "tasks",
      secured: true,
      path: schemas.TaskParams,
      responses: { 200: ["", "Task"], 404: ["Not found"] },
    },
    patch: {
      summary: "Change a task",
      tag: "tasks",
      secured: true,
      path: schemas.TaskParams,
      body: "TaskUpdate",
      responses: { 200: ["", "Task"], 404: ["Not found"] },
    },
    delete: {
      summary: "Delete a task",
      tag: "tasks",
      secured: true,
      path: schemas.TaskParams,
      responses: { 204: ["Deleted"], 404: ["Not found"] },
    },
  },
};

function jsonSchema(schema: z.ZodType, io: Io): JsonSchema {
  const document: JsonSchema = {
    ...z.toJSONSchema(schema, {
      io,
      unrepresentable: "any",
      // Query and path integers arrive as digit strings: documented as the integers they are.
      override: ({ zodSchema, jsonSchema }) => {
        const bounds = schemas.integerParameters.get(zodSchema);
        if (!bounds) return;
        delete jsonSchema.pattern;
        Object.assign(jsonSchema, { type: "integer", ...bounds });
      },
    }),
  };
  delete document.$schema;
  return document;
}

const ref = (name: Component) => ({ $ref: `#/components/schemas/${name}` });

function parameters(location: "query" | "path", schema: z.ZodObject): JsonSchema[] {
  const { properties = {}, required = [] } = jsonSchema(schema, "input") as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: location,
    required: location === "path" || required.includes(name),
    schema: property,
  }));
}

const header = (description: string, schema: JsonSchema = { type: "string" }) => ({
  description,
  schema,
});
const RETRY_AFTER = header("Seconds to wait before retrying", { type: "integer", minimum: 0 });

/** The problem+json answers every operation of a kind can give, besides its own. */
const PROBLEMS: Record<number, [description: string, headers?: Record<string, JsonSchema>]> = {
  400: ["The body is not I-JSON, or the URL is malformed"],
  401: [
    "Missing, invalid or expired token, or its user is gone",
    { "WWW-Authenticate": header("Bearer") },
  ],
  404: ["Not found"],
  413: ["The body is too large"],
  415: ["The body is missing or not JSON"],
  422: ["Invalid fields"],
  429: ["Too many requests", { "Retry-After": RETRY_AFTER }],
  431: ["Request headers too large"],
  500: ["A bug: an unexpected error"],
  503: ["The database is unavailable, retry later", { "Retry-After": RETRY_AFTER }],
};

function problemStatuses(path: string, op: Operation): number[] {
  const statuses = [431, 500];
  if (path.startsWith("/api/")) statuses.push(422, 429, 503);
  if (op.body) statuses.push(400, 413, 415);
  if (op.secured) statuses.push(401);
  // A path parameter with a malformed escape (%E0%A4%A) is a 400 too.
  if (op.path) statuses.push(400, 404);
  return statuses;
}

function operation(path: string, op: Operation): JsonSchema {
  const problem = (description: string, headers?: Record<string, JsonSchema>) => ({
    description,
    ...(headers && { headers }),
    content: { "application/problem+json": { schema: ref("Problem") } },
  });
  const responses: Record<string, JsonSchema> = {};
  for (const status of problemStatuses(path, op)) {
    const [description, headers] = PROBLEMS[status] ?? ["Error"];
    responses[status] = problem(description, headers);
  }
  for (const [status, [description, schema]] of Object.entries(op.responses)) {
    if (Number(status) >= 400 && schema === undefined) {
      responses[status] = problem(description);
      continue;
    }
    const type = Number(status) >= 400 ? "application/problem+json" : "application/json";
    const headers: Record<string, JsonSchema> = {};
    if (status === "201" && path === "/api/v1/tasks") {
      headers.Location = header("Where the task is");
    }
    if (op.idempotent && status === "201") {
      headers["Idempotent-Replayed"] = header("`true` when this replays a stored response", {
        type: "string",
        enum: ["true"],
      });
    }
    responses[status] = {
      description: description || "OK",
      ...(Object.keys(headers).length > 0 && { headers }),
      ...(schema && { content: { [type]: { schema: ref(schema) } } }),
    };
  }

  return {
    summary: op.summary,
    tags: [op.tag],
    ...(op.secured && { security: [{ bearer: [] }] }),
    parameters: [
      ...(op.path ? parameters("path", op.path) : []),
      ...(op.query ? parameters("query", op.query) : []),
      ...(op.idempotent
        ? [
            {
              name: "Idempotency-Key",
              in: "header",
              required: false,
              description: "Retries with the same key and body create one task (kept 24 hours)",
              schema: jsonSchema(schemas.IdempotencyKey, "input"),
            },
          ]
        : []),
    ],
    ...(op.body && {
      requestBody: {
        required: true,
        content: {
          "application/json": { schema: ref(op.body) },
          ...(op.form && { "application/x-www-form-urlencoded": { schema: ref(op.form) } }),
        },
      },
    }),
    responses,
  };
}

/** The OpenAPI 3.1 document, built from the same zod schemas that validate requests. */
export function openApiDocument(info: { title: string; version: string }): JsonSchema {
  return {
    openapi: "3.1.0",
    info,
    paths: Object.fromEntries(
      Object.entries(OPERATIONS).map(([path, methods]) => [
        path,
        Object.fromEntries(
          Object.entries(methods).map(([method, op]) => [method, operation(path, op)]),
        ),
      ]),
    ),
    components: {
      schemas: Object.fromEntries(
        Object.entries(COMPONENTS).map(([name, [schema, io]]) => [name, jsonSchema(schema, io)]),
      ),
      securitySchemes: {
        bearer: {
          type: "oauth2",
          flows: { password: { tokenUrl: "/api/v1/auth/token", scopes: {} } },
        },
      },
    },
  };
}
