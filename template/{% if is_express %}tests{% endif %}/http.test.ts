import express from "express";
import request from "supertest";
import { afterAll, describe, expect, it } from "vitest";

import { createLogger } from "../src/logger.js";
import { problemHandler } from "../src/problems.js";
import { bearer, LogLines, testApp } from "./helpers.js";

const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("request context and headers", () => {
  const { app, close } = testApp();
  afterAll(close);

  it("keeps a well-formed request id", async () => {
    const response = await request(app).get("/healthz").set("X-Request-ID", "Abc-1.2_3");

    expect(response.headers["x-request-id"]).toBe("Abc-1.2_3");
  });

  it.each([undefined, "spaces are not allowed", "x".repeat(129)])(
    "makes a UUID4 otherwise (%s)",
    async (given) => {
      const call = request(app).get("/healthz");
      const response = await (given ? call.set("X-Request-ID", given) : call);

      expect(response.headers["x-request-id"]).toMatch(UUID4);
    },
  );

  it("sends security headers on every response", async () => {
    for (const path of ["/healthz", "/nowhere", "/openapi.json"]) {
      const response = await request(app).get(path);
      expect(response.headers["x-content-type-options"]).toBe("nosniff");
      expect(response.headers["x-frame-options"]).toBe("DENY");
      expect(response.headers["referrer-policy"]).toBeTruthy();
    }
  });

  it("sends no CORS headers unless configured", async () => {
    const response = await request(app).get("/healthz").set("Origin", "https://app.example");

    expect(response.headers["access-control-allow-origin"]).toBeUndefined();
  });
});

describe("CORS", () => {
  const { app, close } = testApp({ CORS_ORIGINS: "https://app.example, https://admin.example" });
  afterAll(close);

  it("allows the configured origins only", async () => {
    const allowed = await request(app).get("/healthz").set("Origin", "https://admin.example");
    const other = await request(app).get("/healthz").set("Origin", "https://evil.example");
    const preflight = await request(app)
      .options("/api/v1/tasks")
      .set("Origin", "https://app.example")
      .set("Access-Control-Request-Method", "POST")
      .set("Access-Control-Request-Headers", "authorization, content-type");

    expect(allowed.headers["access-control-allow-origin"]).toBe("https://admin.example");
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    expect(preflight.status).toBe(204);
    expect(preflight.headers["access-control-allow-methods"]).toContain("POST");
    expect(allowed.headers["access-control-expose-headers"]).toContain("X-Request-ID");
  });
});

describe("rate limit", () => {
  const { app, close } = testApp({ RATE_LIMIT_PER_MINUTE: "3" });
  afterAll(close);

  it("answers 429 with Retry-After once a client spent its minute, on the API only", async () => {
    const statuses = [];
    for (let n = 0; n < 3; n++) statuses.push((await request(app).get("/api/v1/users/me")).status);
    const limited = await request(app).get("/api/v1/users/me");

    expect(statuses).toEqual([401, 401, 401]);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers["retry-after"])).toBeLessThanOrEqual(60);
    expect(limited.headers["content-type"]).toBe("application/problem+json");
    expect((await request(app).get("/healthz")).status).toBe(200);
  });
});

describe("errors", () => {
  const { app, close } = testApp({ MAX_BODY_BYTES: "1024" });
  afterAll(close);

  const problem = (body: unknown) => body as Record<string, unknown>;

  it("answers an unknown route with 404 problem+json", async () => {
    const response = await request(app).get("/api/v1/nothing-here");

    expect(response.status).toBe(404);
    expect(response.headers["content-type"]).toBe("application/problem+json");
    expect(Object.keys(problem(response.body)).sort()).toEqual([
      "detail",
      "status",
      "title",
      "type",
    ]);
  });

  it("answers malformed JSON with 400", async () => {
    const response = await request(app)
      .post("/api/v1/users")
      .set("Content-Type", "application/json")
      .send('{"username": "x",');

    expect(response.status).toBe(400);
    expect(problem(response.body).title).toBe("Bad Request");
  });

  it("answers a body over MAX_BODY_BYTES with 413", async () => {
    const auth = await bearer(app);

    const response = await request(app)
      .post("/api/v1/tasks")
      .set(auth)
      .send({ title: "x".repeat(2000) });

    expect(response.status).toBe(413);
    expect(response.headers["content-type"]).toBe("application/problem+json");
  });

  it("answers a JSON value of the wrong shape with 422, not 400", async () => {
    const response = await request(app)
      .post("/api/v1/users")
      .set("Content-Type", "application/json")
      .send("null");

    expect(response.status).toBe(422);
  });

  it.each([
    ["a malformed URL escape", () => request(app).get("/api/v1/tasks/%E0%A4%A")],
    [
      "a body that does not decompress",
      () =>
        request(app)
          .post("/api/v1/users")
          .set("Content-Type", "application/json")
          .set("Content-Encoding", "gzip")
          .send("{}"),
    ],
  ])("answers %s with 400", async (_case, send) => {
    const response = await send();

    expect(response.status).toBe(400);
    expect(response.headers["content-type"]).toBe("application/problem+json");
  });

  it("answers a body in an unsupported charset with 415", async () => {
    const response = await request(app)
      .post("/api/v1/users")
      .set("Content-Type", "application/json; charset=latin-9")
      .send("{}");

    expect(response.status).toBe(415);
  });

  it("answers a failing database with a 500 that shows nothing of it", async () => {
    const broken = testApp({ DATABASE_URL: "sqlite:////dev/null/nowhere.db" });

    const response = await request(broken.app)
      .post("/api/v1/auth/token")
      .send({ username: "someone", password: "whatever1" });
    await broken.close();

    expect(response.status).toBe(500);
    expect(response.headers["content-type"]).toBe("application/problem+json");
    expect(response.text).not.toMatch(/nowhere|ENOTDIR|sqlite/i);
    expect(broken.logs.lines.some((line) => line.msg === "unhandled error")).toBe(true);
  });

  it("hides internals of a 500 outside development, and logs them", async () => {
    for (const showInternals of [false, true]) {
      const logs = new LogLines();
      const broken = express();
      broken.get("/", () => {
        throw new Error("secret internals");
      });
      broken.use(
        problemHandler({
          logger: createLogger({ logLevel: "info", logFormat: "json" }, logs),
          maxBodyBytes: 1024,
          showInternals,
        }),
      );

      const response = await request(broken).get("/");

      expect(response.status).toBe(500);
      expect(response.text.includes("secret internals")).toBe(showInternals);
      expect(logs.lines[0]).toMatchObject({ level: "error", msg: "unhandled error" });
    }
  });
});
