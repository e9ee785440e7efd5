import { STATUS_CODES } from "node:http";
import type { ErrorRequestHandler, RequestHandler, Response } from "express";
import type { z } from "zod";

import {
  ConflictError,
  DomainError,
  IdempotencyKeyReusedError,
  NotFoundError,
  UnauthenticatedError,
} from "./errors.js";
import type { Logger } from "./logger.js";

export interface FieldError {
  field: string;
  message: string;
}

/** An RFC 9457 problem: thrown at the edge (routes, middleware), answered by `problemHandler`. */
export class HttpProblem extends Error {
  override name = "HttpProblem";

  constructor(
    readonly status: number,
    readonly detail: string,
    readonly headers: Readonly<Record<string, string>> = {},
    readonly errors?: readonly FieldError[],
  ) {
    super(detail);
  }
}

export const badRequest = (detail: string) => new HttpProblem(400, detail);
export const unauthorized = (detail: string) =>
  new HttpProblem(401, detail, { "WWW-Authenticate": "Bearer" });
export const forbidden = (detail: string) => new HttpProblem(403, detail);
export const notFound = (detail = "Not found") => new HttpProblem(404, detail);
export const conflict = (detail: string) => new HttpProblem(409, detail);
export const unsupportedMediaType = (detail: string) => new HttpProblem(415, detail);
/** Clients retry after this many seconds when the database is unavailable. */
export const RETRY_AFTER_S = 5;
export const serviceUnavailable = () =>
  new HttpProblem(503, "The database is unavailable, retry later", {
    "Retry-After": String(RETRY_AFTER_S),
  });

/** A 422 naming each invalid field, the way a form shows it next to the input. */
export const invalidFields = (
  errors: readonly FieldError[],
  detail = "The request has invalid fields",
) => new HttpProblem(422, detail, {}, errors);

export function validationFailed(error: z.ZodError): HttpProblem {
  // One message per field, the first one: what a form shows next to the input.
  const errors = new Map<string, string>();
  for (const issue of error.issues) {
    const at = issue.path.join(".");
    // A field not in the schema is reported under its own name, like any other invalid field.
    const fields =
      issue.code === "unrecognized_keys"
        ? issue.keys.map((key) => (at ? `${at}.${key}` : key))
        : [at || "body"];
    const message = issue.code === "unrecognized_keys" ? "is not a known field" : issue.message;
    for (const field of fields) if (!errors.has(field)) errors.set(field, message);
  }
  return invalidFields([...errors].map(([field, message]) => ({ field, message })));
}

/** The answer to what a service refused; undefined for a refusal this edge does not know. */
function fromDomainError(error: DomainError): HttpProblem | undefined {
  if (error instanceof NotFoundError) return notFound(error.message);
  if (error instanceof ConflictError) return conflict(error.message);
  if (error instanceof UnauthenticatedError) return unauthorized(error.message);
  if (error instanceof IdempotencyKeyReusedError) {
    return invalidFields(
      [{ field: "Idempotency-Key", message: "was already used with another body" }],
      error.message,
    );
  }
  return undefined;
}

export function sendProblem(res: Response, problem: HttpProblem): void {
  const body: Record<string, unknown> = {
    type: "about:blank",
    title: STATUS_CODES[problem.status] ?? "Error",
    status: problem.status,
    detail: problem.detail,
  };
  if (problem.errors) body.errors = problem.errors;
  res.status(problem.status).set(problem.headers);
  // Set directly: Express would append a charset to the media type.
  res.setHeader("Content-Type", "application/problem+json");
  res.end(JSON.stringify(body));
}

/** Any route nobody claimed. */
export const notFoundHandler: RequestHandler = (req) => {
  throw notFound(`No route for ${req.method} ${req.path}`);
};

/** What Express and its body parsers throw for a bad request: an http-errors object. */
interface ClientError {
  status: number;
  type?: string;
}

function isClientError(error: unknown): error is ClientError {
  const status = (error as Partial<ClientError> | null)?.status;
  return error instanceof Error && typeof status === "number" && status >= 400 && status < 500;
}

function fromClientError(error: ClientError, limit: number): HttpProblem {
  switch (error.type) {
    case "entity.parse.failed":
      return badRequest("The body is not valid JSON");
    case "entity.too.large":
      return new HttpProblem(413, `The body is larger than ${limit} bytes`);
    case "encoding.unsupported":
    case "charset.unsupported":
      return unsupportedMediaType("Send the body as UTF-8");
    default:
      // A malformed URL escape, a body that does not decompress, ...
      return new HttpProblem(error.status, "The request could not be read");
  }
}

/** The answer to an error the service expects: its own problems, refusals, unreadable requests. */
function knownProblem(error: unknown, maxBodyBytes: number): HttpProblem | undefined {
  if (error instanceof HttpProblem) return error;
  if (error instanceof DomainError) return fromDomainError(error);
  if (isClientError(error)) return fromClientError(error, maxBodyBytes);
  return undefined;
}

/**
 * The one error middleware: every error becomes problem+json; 500s are logged, never shown.
 * `unavailable` tells a database that is down, hung or saturated (503) from a bug (500).
 */
export function problemHandler(options: {
  logger: Logger;
  maxBodyBytes: number;
  showInternals: boolean;
  unavailable?: (error: unknown) => boolean;
}): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const problem = knownProblem(error, options.maxBodyBytes);
    if (isClientError(error) && error.type === "request.aborted") {
      // The client hung up mid-body: nobody is left to answer (the request line says 499).
      req.socket.destroy();
    } else if (problem) {
      sendProblem(res, problem);
    } else if (options.unavailable?.(error)) {
      options.logger.warn(
        { err: error, method: req.method, path: req.path },
        "database unavailable",
      );
      sendProblem(res, serviceUnavailable());
    } else {
      options.logger.error({ err: error, method: req.method, path: req.path }, "unhandled error");
      const detail =
        options.showInternals && error instanceof Error
          ? (error.stack ?? error.message)
          : "An unexpected error occurred";
      sendProblem(res, new HttpProblem(500, detail));
    }
  };
}
