import { z } from "zod";

import * as schemas from "./schemas.js";

type Io = "input" | "output";
type JsonSchema = Record<string, unknown>;

/** Named schemas: requests as clients send them (input), responses as the service writes them. */
const COMPONENTS = new Map<z.ZodType, [name: string, io: Io]>([
  [schemas.SignUp, ["SignUp", "input"]],
  [schemas.Credentials, ["Credentials", "input"]],
  [schemas.CredentialsForm, ["CredentialsForm", "input"]],
  [schemas.TaskCreate, ["TaskCreate", "input"]],
  [schemas.TaskUpdate, ["TaskUpdate", "input"]],
  [schemas.User, ["User", "output"]],
  [schemas.Token, ["Token", "output"]],
  [schemas.Task, ["Task", "output"]],
  [schemas.TaskPage, ["TaskPage", "output"]],
  [schemas.Health, ["Health", "output"]],
  [schemas.Problem, ["Problem", "output"]],
]);

/** What the document says of one operation, declared by the router that routes it. */
export interface Operation {
  summary: string;
  /** Behind `authenticate`: a bearer token, or 401. */
  secured?: boolean;
  /** The JSON body's schema; `form` when it may come as a form too. */
  body?: z.ZodType;
  form?: z.ZodType;
  query?: z.ZodObject;
  path?: z.ZodObject;
  /** What an optional `Idempotency-Key` header guarantees, when the operation takes one. */
  idempotencyKey?: string;
  /** What the `Location` of a 201 points to, when it sends one. */
  location?: string;
  /** Its own answers; the problems every operation of its kind gives are added. */
  responses: Record<number, [description: string, schema?: z.ZodType]>;
}

export type Method = "get" | "post" | "patch" | "put" | "delete";

/** An operation where the app routes it: `path` as OpenAPI spells it (`/tasks/{taskId}`). */
export interface RoutedOperation {
  path: string;
  method: Method;
  tag: string;
  operation: Operation;
}

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

function ref(schema: z.ZodType) {
  const [name] = COMPONENTS.get(schema) ?? [];
  if (name === undefined) throw new Error("Only the named schemas of COMPONENTS are referenced");
  return { $ref: `#/components/schemas/${name}` };
}

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

type ProblemStatus = 400 | 401 | 404 | 413 | 415 | 422 | 429 | 431 | 500 | 503;
type ProblemAnswer = [description: string, headers?: Record<string, JsonSchema>];

/** The problem+json answers every operation of a kind can give, besides its own. */
const PROBLEMS: Record<ProblemStatus, ProblemAnswer> = {
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

function problemStatuses(path: string, op: Operation): ProblemStatus[] {
  const statuses: ProblemStatus[] = [431, 500];
  if (path.startsWith("/api/")) statuses.push(422, 429, 503);
  if (op.body) statuses.push(400, 413, 415);
  if (op.secured) statuses.push(401);
  // A path parameter with a malformed escape (%E0%A4%A) is a 400 too.
  if (op.path) statuses.push(400, 404);
  return statuses;
}

function operation({ path, tag, operation: op }: RoutedOperation): JsonSchema {
  const problem = (description: string, headers?: Record<string, JsonSchema>) => ({
    description,
    ...(headers && { headers }),
    content: { "application/problem+json": { schema: ref(schemas.Problem) } },
  });
  const responses: Record<string, JsonSchema> = {};
  for (const status of problemStatuses(path, op)) {
    const [description, headers] = PROBLEMS[status];
    responses[status] = problem(description, headers);
  }
  for (const [status, [description, schema]] of Object.entries(op.responses)) {
    if (Number(status) >= 400 && schema === undefined) {
      responses[status] = problem(description);
      continue;
    }
    const type = Number(status) >= 400 ? "application/problem+json" : "application/json";
    const headers: Record<string, JsonSchema> = {};
    if (op.location && status === "201") headers.Location = header(op.location);
    if (op.idempotencyKey && status === "201") {
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
    tags: [tag],
    ...(op.secured && { security: [{ bearer: [] }] }),
    parameters: [
      ...(op.path ? parameters("path", op.path) : []),
      ...(op.query ? parameters("query", op.query) : []),
      ...(op.idempotencyKey
        ? [
            {
              name: "Idempotency-Key",
              in: "header",
              required: false,
              description: op.idempotencyKey,
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

/**
 * The OpenAPI 3.1 document of the operations the routers declare where they route them, built
 * from the same zod schemas that validate requests.
 */
export function openApiDocument(
  info: { title: string; version: string },
  operations: readonly RoutedOperation[],
): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const routed of operations) {
    (paths[routed.path] ??= {})[routed.method] = operation(routed);
  }
  return {
    openapi: "3.1.0",
    info,
    paths,
    components: {
      schemas: Object.fromEntries(
        [...COMPONENTS].map(([schema, [name, io]]) => [name, jsonSchema(schema, io)]),
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
