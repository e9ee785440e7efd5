import { z } from "zod";

import * as schemas from "./schemas.js";

type Io = "input" | "output";
type JsonSchema = Record<string, unknown>;

/** Named schemas: requests as clients send them (input), responses as the service writes them. */
const COMPONENTS: Record<string, [z.ZodType, Io]> = {
  SignUp: [schemas.SignUp, "input"],
  Credentials: [schemas.Credentials, "input"],
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
  form?: boolean;
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
      form: true,
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
      responses: { 201: ["Created", "Task"] },
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
  const document: JsonSchema = { ...z.toJSONSchema(schema, { io, unrepresentable: "any" }) };
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

function operation(op: Operation): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  for (const [status, [description, schema]] of Object.entries(op.responses)) {
    const type = Number(status) >= 400 ? "application/problem+json" : "application/json";
    const content = schema ?? (Number(status) >= 400 ? "Problem" : undefined);
    responses[status] = {
      description: description || "OK",
      ...(content && { content: { [type]: { schema: ref(content) } } }),
    };
  }
  const problem = { content: { "application/problem+json": { schema: ref("Problem") } } };
  if (op.body || op.query || op.path)
    responses["422"] = { description: "Invalid fields", ...problem };
  if (op.secured) responses["401"] = { description: "Missing or invalid token", ...problem };

  return {
    summary: op.summary,
    tags: [op.tag],
    ...(op.secured && { security: [{ bearer: [] }] }),
    parameters: [
      ...(op.path ? parameters("path", op.path) : []),
      ...(op.query ? parameters("query", op.query) : []),
    ],
    ...(op.body && {
      requestBody: {
        required: true,
        content: {
          "application/json": { schema: ref(op.body) },
          ...(op.form && { "application/x-www-form-urlencoded": { schema: ref(op.body) } }),
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
        Object.fromEntries(Object.entries(methods).map(([method, op]) => [method, operation(op)])),
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
