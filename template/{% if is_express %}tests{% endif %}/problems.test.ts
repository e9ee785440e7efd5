import express, { type RequestHandler } from "express";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { z } from "zod";

import { DomainError, NotFoundError } from "../src/errors.js";
import { createLogger } from "../src/logger.js";
import { problemHandler, validationFailed } from "../src/problems.js";
import { LogLines } from "./helpers.js";

/** An app of one route, answered by the error middleware alone. */
function failingWith(handler: RequestHandler) {
  const logs = new LogLines();
  const app = express();
  app.get("/", handler);
  app.use(
    problemHandler({
      logger: createLogger({ logLevel: "info", logFormat: "json" }, logs),
      maxBodyBytes: 1024,
      showInternals: false,
    }),
  );
  return { app, logs };
}

describe("the error middleware", () => {
  it("answers a domain error with its problem", async () => {
    const { app } = failingWith(() => {
      throw new NotFoundError("Task 7 not found");
    });

    const response = await request(app).get("/");

    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ title: "Not Found", detail: "Task 7 not found" });
  });

  it("answers a domain error it does not know as the bug it is: a logged 500", async () => {
    class Unmapped extends DomainError {}
    const { app, logs } = failingWith(() => {
      throw new Unmapped("nobody maps this");
    });

    const response = await request(app).get("/");

    expect(response.status).toBe(500);
    expect(response.text).not.toContain("nobody maps this");
    expect(logs.lines[0]).toMatchObject({ level: "error", msg: "unhandled error" });
  });

  it("leaves an error after the headers went out to Express, which ends the response", async () => {
    const { app } = failingWith((_req, res) => {
      res.status(200).write("partial");
      throw new Error("too late to answer");
    });

    const response = await request(app)
      .get("/")
      .catch((error: unknown) => error);

    expect(response).not.toMatchObject({ status: 500 });
  });
});

describe("validationFailed", () => {
  it("names each invalid field once, unknown nested fields by their path", () => {
    const schema = z.strictObject({
      name: z.string().min(3).startsWith("x"),
      nested: z.strictObject({}),
    });
    const { error } = schema.safeParse({ name: "A", nested: { extra: 1 } });

    expect(validationFailed(error ?? new z.ZodError([])).errors).toEqual([
      { field: "name", message: expect.any(String) as string },
      { field: "nested.extra", message: "is not a known field" },
    ]);
  });
});
